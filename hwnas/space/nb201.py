"""The NAS-Bench-201 cell space: 6 edges of a 4-node cell, each one of 5 operations.

Node ``j`` (1..3) sums ``op(node_i)`` over its inputs ``i < j``; node 3 is the cell output.
Genome: the 6 edge operations in the order of the standard NB201 string, which is also the
canonical string::

    |nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|

An edge whose output never reaches the cell output (node 3) is *dead*: it changes nothing the
cell computes. With ``dead_edges = "drop"`` (the default) a genome's canonical form sets dead
edges to ``none``, so each network has one genome and a search never trains or times one
network twice (15,625 cells, 12,205 networks; on the NB201 table, where copies are kept, 6-38 %
of ``nsga2``'s first 200-1000 evaluations are copies of a network it has evaluated). With ``"keep"``
every genome is canonical, so the 15,625 genomes are exactly the rows of NAS-Bench-201 /
HW-NAS-Bench tables, whose copies of one network are separate measurements; a search whose
accuracy comes from a table keeps them (:attr:`NB201Space.table_defaults`).

:meth:`NB201Space.build` gives the CIFAR-style macro skeleton of NB201 (stem, three stages of
cells with residual reduction blocks 16 -> 32 -> 64, global pooling, linear), so latency and MACs
can also be measured on a real module.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..exceptions import SpaceError
from .base import SPACES, Gene, SearchSpace, check_image_input, choice_index, refuse_oversized
from .supernet import AdditiveSupernet, MixedOp, macs_cost

#: Edge operations in NB201's order (index = gene value).
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: (to_node, from_node) of each gene, in the order of the standard string.
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))

NB201Arch = tuple[str, ...]


def _paths(node: int = 0) -> list[tuple[int, ...]]:
    """Gene indices of every path of edges from ``node`` to the cell output (node 3)."""
    if node == 3:
        return [()]
    return [(i, *rest) for i, (to, frm) in enumerate(EDGES) if frm == node for rest in _paths(to)]


#: Gene indices of the four input-to-output paths: 0->1->2->3, 0->1->3, 0->2->3, 0->3.
PATHS = tuple(_paths())


def without_dead_edges(arch: NB201Arch) -> NB201Arch:
    """The cell with every dead edge (its output never reaches node 3) set to ``none``: the same
    network, one string per network."""
    live, grew = {3}, True
    while grew:
        grew = False
        for (to, frm), op in zip(EDGES, arch):
            if op != "none" and to in live and frm not in live:
                live.add(frm)
                grew = True
    return tuple(op if to in live and frm in live else "none" for (to, frm), op in zip(EDGES, arch))


def is_connected(arch: NB201Arch) -> bool:
    """Whether some path of non-``none`` edges leads from the cell input to its output.

    A disconnected cell outputs zeros, so the whole network's output is constant (about 10 %
    accuracy on CIFAR-10).
    """
    reach = {0}
    for (to, frm), op in zip(EDGES, arch):
        if op != "none" and frm in reach:
            reach.add(to)
    return 3 in reach


class _ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out))


class _Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def _op(name: str, channels: int) -> nn.Module:
    if name == "none":
        return _Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return _ReLUConvBN(channels, channels, 1, 1)
    if name == "nor_conv_3x3":
        return _ReLUConvBN(channels, channels, 3, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise SpaceError(f"nb201: unknown edge operation {name!r}; choose one of {list(OPS)}")


class _NodeSum(nn.Module):
    """``a + b`` as a module: :func:`~hwnas.cost.memory.peak_memory_mb` sees only module calls,
    and a node's sum allocates a tensor while the partial sum and the edge's output are alive."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


class NB201Cell(nn.Module):
    """One searched cell: node j = sum of op(node i) over i < j; returns node 3."""

    def __init__(self, arch: NB201Arch, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(_op(op, channels) for op in arch)
        self.add = _NodeSum()
        self._held: list[torch.Tensor] = []

    def held_tensors(self) -> list[torch.Tensor]:
        """The nodes computed so far and the running sum, alive while an edge runs (for
        :func:`~hwnas.cost.memory.peak_memory_mb`)."""
        return self._held

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        k = 0
        for j in range(1, 4):
            self._held = list(nodes)
            total = self.edges[k](nodes[0])
            k += 1
            for i in range(1, j):
                self._held = [*nodes, total]
                total = self.add(total, self.edges[k](nodes[i]))
                k += 1
            nodes.append(total)
        self._held = []
        return nodes[3]


class _ResidualReduction(nn.Module):
    """NB201's residual block between stages: stride 2, channels doubled."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = _ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = _ReLUConvBN(c_out, c_out, 3, 1)
        # ceil_mode: an odd input (10x10 digits reach 5x5) pools to conv_a's size; even ones as in NB201
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2, ceil_mode=True), nn.Conv2d(c_in, c_out, 1, bias=False))
        self._held: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        short = self.shortcut(x)
        self._held = [x, short]  # alive while the convolutions run
        out = short + self.conv_b(self.conv_a(x))
        self._held = []
        return out

    def held_tensors(self) -> list[torch.Tensor]:
        """The input and the shortcut's output, alive while the convolutions run."""
        return self._held


@SPACES.register("nb201")
class NB201Space(SearchSpace[NB201Arch]):
    """NAS-Bench-201 cells in the CIFAR macro skeleton.

    Args:
        input_shape: one image's ``(C, H, W)``; default ``(3, 32, 32)`` (CIFAR).
        output_dim: number of classes; default 10.
        cells_per_stage: cells in each of the three stages (NB201: 5).
        channels: stem / first-stage channels (NB201: 16; doubled at each reduction).
        dead_edges: ``"drop"`` (default): dead edges are ``none`` in the canonical form, one
            genome per network; ``"keep"``: every cell is its own architecture (a table's rows).

    Example:
        >>> space = NB201Space()
        >>> space.canonical(space.decode([3, 3, 4, 1, 3, 1]))
        '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|'
    """

    name = "nb201"
    default_shapes = ((3, 32, 32), 10)
    #: a table's rows are cells: copies of one network are separate measurements, each a row
    table_defaults = {"dead_edges": "keep"}
    DEAD_EDGES = ("drop", "keep")

    def __init__(self, input_shape: Sequence[int] = (3, 32, 32), output_dim: int = 10, *,
                 cells_per_stage: int = 5, channels: int = 16, dead_edges: str = "drop") -> None:
        super().__init__(input_shape, output_dim)
        if dead_edges not in self.DEAD_EDGES:
            raise SpaceError(f"nb201: [space] dead_edges = {dead_edges!r} must be \"drop\" (one genome per network) "
                             f"or \"keep\" (every cell its own architecture, as a table's rows)")
        self.dead_edges = dead_edges
        check_image_input(self)
        for key, value, high in (("cells_per_stage", cells_per_stage, 64), ("channels", channels, 1024)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise SpaceError(f"nb201: [space] {key} = {value!r} must be an integer in 1..{high}")
        self.cells_per_stage = cells_per_stage
        self.channels = channels
        self.genes = [Gene(f"edge{to}<-{frm}", OPS) for to, frm in EDGES]
        refuse_oversized(self, {"channels": channels, "cells_per_stage": cells_per_stage})

    def decode(self, genome: Sequence[int]) -> NB201Arch:
        arch = tuple(OPS[int(v)] for v in self.validate(genome))
        return without_dead_edges(arch) if self.dead_edges == "drop" else arch

    def encode(self, arch: NB201Arch) -> np.ndarray:
        if len(arch) != self.n_genes:
            raise SpaceError(f"nb201: architecture {arch!r} has {len(arch)} edges, the cell has {self.n_genes}")
        return np.array([choice_index(gene, op, where="nb201") for gene, op in zip(self.genes, arch)], dtype=np.int64)

    def canonical(self, arch: NB201Arch) -> str:
        a = arch
        return f"|{a[0]}~0|+|{a[1]}~0|{a[2]}~1|+|{a[3]}~0|{a[4]}~1|{a[5]}~2|"

    def parse(self, text: str) -> NB201Arch:
        example = "expected e.g. '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|'"
        nodes = str(text).strip().split("+")
        if len(nodes) != 3:
            raise SpaceError(f"nb201: {text!r} has {len(nodes)} node(s), the cell has 3; {example}")
        ops: list[str] = []
        for j, node in enumerate(nodes, start=1):
            if not (node.startswith("|") and node.endswith("|")):
                raise SpaceError(f"nb201: node {j} {node!r} of {text!r} must be '|op~i|...|'; {example}")
            edges = node[1:-1].split("|")
            if len(edges) != j:
                raise SpaceError(f"nb201: node {j} of {text!r} has {len(edges)} input(s), needs {j}; {example}")
            for i, edge in enumerate(edges):
                op, _, frm = edge.partition("~")
                if frm != str(i):
                    raise SpaceError(f"nb201: edge {edge!r} of node {j} in {text!r} must come from node {i} ('{op}~{i}')")
                choice_index(self.genes[len(ops)], op, where=f"nb201: {text!r}")
                ops.append(op)
        return tuple(ops)

    def smallest(self) -> NB201Arch:
        """The cheapest cell a search can propose: a skip connection on every edge (the all-``none``
        cell, every gene's first choice, is degenerate). No cell has fewer MACs or parameters, and
        none runs less: an identity exports no node, while a ``none`` edge multiplies by 0 and
        allocates its output (a single skip path with ``none`` elsewhere took 0.048 ms against
        0.036 ms on digits at 12x12, two cells a stage)."""
        return self.decode([OPS.index("skip_connect")] * self.n_genes)

    def largest(self) -> NB201Arch:
        """The most expensive cell: a 3x3 convolution on every edge."""
        return self.decode([OPS.index("nor_conv_3x3")] * self.n_genes)

    def degenerate(self, arch: NB201Arch) -> str | None:
        """Cells with no path from input to output: the network's output is constant."""
        return None if is_connected(arch) else "no path of non-'none' edges from the cell input to its output"

    def features(self, genomes: np.ndarray) -> np.ndarray:
        """The generic features, plus what the cell computes, which the edges alone hide.

        - each edge's operation as it acts: an edge on no open path (a path of non-``none``
          edges from input to output) changes nothing and counts as ``none``; one-hot, and the
          number of acting edges per operation;
        - per path, its number of convolutions (-1 for a closed path), and their maximum;
        - per path, which operations it chains, one-hot (NB201's path encoding).

        On NB201 (test accuracy, 50 / 200 training architectures, extra trees) they raise the
        Spearman correlation of predicted and true error from 0.70 / 0.82 to 0.84 / 0.90.
        """
        genomes = np.asarray(genomes, dtype=np.int64).reshape(-1, self.n_genes)
        n, none, convs = len(genomes), OPS.index("none"), [OPS.index("nor_conv_1x1"), OPS.index("nor_conv_3x3")]
        open_paths = [np.all(genomes[:, list(p)] != none, axis=1) for p in PATHS]
        acting = np.zeros(genomes.shape, dtype=bool)
        for path, is_open in zip(PATHS, open_paths):
            acting[:, list(path)] |= is_open[:, None]
        one_hot = np.eye(len(OPS))[np.where(acting, genomes, none)]  # (n, edges, ops)
        depth = np.stack([np.where(is_open, np.isin(genomes[:, list(p)], convs).sum(axis=1), -1)
                          for p, is_open in zip(PATHS, open_paths)], axis=1)
        chains = []
        for path, is_open in zip(PATHS, open_paths):
            code = np.zeros(n, dtype=np.int64)  # the path's operations as a base-4 number (none is 0)
            for gene in path:
                code = code * (len(OPS) - 1) + np.clip(genomes[:, gene] - 1, 0, None)
            chains.append(np.eye((len(OPS) - 1) ** len(path))[code] * is_open[:, None])
        return np.hstack([super().features(genomes), one_hot.reshape(n, -1), one_hot.sum(axis=1),
                          depth, depth.max(axis=1, keepdims=True), *chains])

    def build(self, arch: NB201Arch, *, with_dead_edges: bool = False) -> nn.Module:
        """The CIFAR-style network of the cell; its dead edges are built as ``none``, whatever
        ``dead_edges``: they compute nothing the cell returns, so no copy of a network is priced
        (MACs, parameters, latency) for work a deployment would not run. ``with_dead_edges``: built
        as before they were dropped, to check weights a run saved then (:func:`hwnas.export.trained_module`)."""
        self.encode(arch)  # a wrong-length cell or an unknown op, named here rather than in forward
        arch = arch if with_dead_edges else without_dead_edges(arch)
        c = self.channels
        layers: list[nn.Module] = [nn.Conv2d(self.input_shape[0], c, 3, padding=1, bias=False), nn.BatchNorm2d(c)]
        for stage in range(3):
            if stage:
                layers.append(_ResidualReduction(c, 2 * c))
                c *= 2
            layers.extend(NB201Cell(arch, c) for _ in range(self.cells_per_stage))
        layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                   nn.Linear(c, self.output_dim)]
        return nn.Sequential(*layers)

    def supernet(self, seed: int = 0) -> "NB201Supernet":
        return NB201Supernet(self, seed)

    def describe(self) -> dict:
        return {**super().describe(), "cells_per_stage": self.cells_per_stage, "channels": self.channels,
                "dead_edges": self.dead_edges}


class NB201Supernet(AdditiveSupernet):
    """The macro skeleton of :meth:`NB201Space.build` with every edge a :class:`MixedOp` of the
    five operations; all cells share the six edges' logits (as in DARTS and NB201's own search).
    Choices come priced in fvcore MACs; ``price(latency_cost(target), "ms")`` prices them on a
    target instead.
    """

    def __init__(self, space: NB201Space, seed: int = 0) -> None:
        super().__init__(space.upper_bounds + 1, seed)
        self.space = space
        c = space.channels
        self.stem = nn.Sequential(nn.Conv2d(space.input_shape[0], c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        shape = _out_shape(self.stem, space.input_shape)
        self.stages = nn.ModuleList()
        self.stage_shapes: list[tuple[int, ...]] = []
        for stage in range(3):
            blocks: list[nn.Module] = []
            if stage:
                blocks.append(_ResidualReduction(c, 2 * c))
                c *= 2
                shape = _out_shape(blocks[0], shape)
            blocks += [_MixedCell(c) for _ in range(space.cells_per_stage)]
            self.stages.append(nn.ModuleList(blocks))
            self.stage_shapes.append(shape)
        self.head = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(c, space.output_dim))
        self.price(macs_cost, "MACs")

    def choice_modules(self):
        """Every edge's operation, once per cell of each stage, as :meth:`NB201Space.build` runs it
        (``none``: a multiplication by 0, 0 MACs but not free in time; ``skip_connect``: an
        identity, which exports no node and costs nothing inside a network)."""
        per_op = [[(None if op == "skip_connect" else _op(op, shape[0]), shape, self.space.cells_per_stage)
                   for shape in self.stage_shapes] for op in OPS]
        return [per_op for _ in EDGES]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.mixing_weights()
        x = self.stem(x)
        for blocks in self.stages:
            for block in blocks:
                x = block(x, weights) if isinstance(block, _MixedCell) else block(x)
        return self.head(x)


def _out_shape(module: nn.Module, shape: Sequence[int]) -> tuple[int, ...]:
    """Output shape of one sample, found without touching batch-norm statistics."""
    with torch.no_grad():
        out = module.eval()(torch.zeros(1, *shape))
    module.train()
    return tuple(out.shape[1:])


class _MixedCell(nn.Module):
    """An NB201 cell whose edges mix all five operations."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(MixedOp([None if op == "none" else _op(op, channels) for op in OPS])
                                   for _ in EDGES)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in range(1, 4):
            nodes.append(sum(self.edges[k](nodes[i], weights[k]) for k, (to, i) in enumerate(EDGES) if to == j))
        return nodes[3]
