"""Supernets for gradient search: every choice of every gene in one network, mixed by weights.

A :class:`Supernet` holds, for each gene, one logit per choice (``alphas``); the softmax of a
gene's logits weighs its candidates (DARTS's continuous relaxation: candidate outputs summed,
or, in weight-sharing supernets, kernels and channel masks mixed). Once priced
(:meth:`Supernet.price`: what each operation costs, in fvcore MACs, :func:`macs_cost`, or in
milliseconds on a target, :func:`latency_cost`), its expected cost under the softmax is
differentiable, so a gradient search can trade accuracy for it (FBNet, ProxylessNAS). A space
offers one through :meth:`~hwnas.space.base.SearchSpace.supernet` (``nb201``, ``mbv3``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Sequence

import numpy as np
import torch
from torch import nn

from ..cost.counts import count_macs_params
from ..cost.latency import measure_latency
from ..cost.onnx_export import export_onnx
from ..cost.target import Target
from ..exceptions import ConfigError

if TYPE_CHECKING:
    from ..cost.lut_table import LatencyTable


class Op(NamedTuple):
    """An operation a choice adds: the module, one sample's input shape, and its layer
    signature where the space has one (what a latency table is keyed by)."""

    module: nn.Module
    input_shape: tuple[int, ...]
    signature: Any = None


#: Prices a list of operations: one cost per operation, in one unit.
CostFn = Callable[[list[Op]], list[float]]


class MixedOp(nn.Module):
    """Candidate operations on one input, summed with given weights; ``None`` is the zero op."""

    def __init__(self, candidates: Sequence[nn.Module | None]) -> None:
        super().__init__()
        self.candidates = nn.ModuleList(nn.Identity() if op is None else op for op in candidates)
        self.zero = [op is None for op in candidates]

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        out = x * 0.0
        for op, w, zero in zip(self.candidates, weights, self.zero):
            if not zero:  # the zero op adds nothing, whatever its weight
                out = out + w * op(x)
        return out


class Supernet(nn.Module):
    """Base class: architecture logits per gene, their softmax, and the cost interface.

    Subclasses build the network's modules and ``forward`` (with :meth:`mixing_weights`), and
    implement :meth:`price`, :meth:`expected_cost` and :meth:`max_cost`.

    Args:
        sizes: number of choices of each gene.
        seed: seed of the logits' initialisation (small noise around uniform, as in DARTS).
    """

    #: Default cost penalties of gradient search (``darts``'s ``penalties``): where, measured on
    #: digits, this supernet's most likely choices go from the largest to the smallest.
    penalties: tuple[float, ...] = (0.0, 0.03, 0.1, 0.3)

    def __init__(self, sizes: Sequence[int], seed: int = 0) -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        generator = torch.Generator().manual_seed(seed)
        self.alphas = nn.Parameter(1e-3 * torch.randn(len(sizes), max(sizes), generator=generator))
        mask = torch.full((len(sizes), max(sizes)), float("-inf"))
        for gene, size in enumerate(sizes):
            mask[gene, :size] = 0.0
        self.register_buffer("mask", mask)
        self.cost_unit = ""  # set by price()

    def mixing_weights(self) -> torch.Tensor:
        """Softmax of each gene's logits (genes x choices; 0 beyond a gene's choices)."""
        return torch.softmax(self.alphas + self.mask, dim=1)

    def price(self, cost: CostFn, unit: str) -> None:
        """Price every operation the choices add with ``cost`` (asked once, for all distinct
        operations together), in ``unit``."""
        raise NotImplementedError

    def expected_cost(self) -> torch.Tensor:
        """Cost of the network's searched operations, expected under :meth:`mixing_weights`."""
        raise NotImplementedError

    def max_cost(self) -> float:
        """The searched operations' cost with the most expensive choice everywhere (a scale)."""
        raise NotImplementedError

    def weight_parameters(self) -> list[nn.Parameter]:
        """Every parameter except the architecture logits."""
        return [p for name, p in self.named_parameters() if name != "alphas"]


class AdditiveSupernet(Supernet):
    """A supernet whose choices add their own operations, whatever the other genes chose (an
    NB201 edge): the expected cost is the sum over genes of each choice's cost times its weight.

    Subclasses implement :meth:`choice_modules`.
    """

    def __init__(self, sizes: Sequence[int], seed: int = 0) -> None:
        super().__init__(sizes, seed)
        self.register_buffer("choice_cost", torch.zeros(len(sizes), max(int(s) for s in sizes)))

    def choice_modules(self) -> list[list[list[tuple[nn.Module | None, tuple[int, ...], int]]]]:
        """Per gene, per choice: what the choice adds to a built network, as ``(module, input
        shape, count)`` triples (module None: nothing to run, e.g. the zero op)."""
        raise NotImplementedError

    def price(self, cost: CostFn, unit: str) -> None:
        genes = self.choice_modules()
        distinct: dict[tuple[str, tuple[int, ...]], Op] = {}
        for choices in genes:
            for parts in choices:
                for module, shape, _ in parts:
                    if module is not None:
                        distinct.setdefault((repr(module), tuple(shape)), Op(module, tuple(shape)))
        values = dict(zip(distinct, cost(list(distinct.values()))))
        table = np.zeros(tuple(self.choice_cost.shape))
        for g, choices in enumerate(genes):
            for c, parts in enumerate(choices):
                table[g, c] = sum(count * values[(repr(m), tuple(shape))] for m, shape, count in parts if m is not None)
        self.choice_cost.copy_(torch.as_tensor(table, dtype=self.choice_cost.dtype))
        self.cost_unit = unit

    def expected_cost(self) -> torch.Tensor:
        return (self.mixing_weights() * self.choice_cost).sum()

    def max_cost(self) -> float:
        return float(self.choice_cost.max(dim=1).values.sum())


def macs_cost(ops: list[Op]) -> list[float]:
    """fvcore MACs of each operation (a :data:`CostFn`; unit ``"MACs"``)."""
    return [float(count_macs_params(op.module, op.input_shape)[0]) for op in ops]


def latency_cost(target: Target) -> CostFn:
    """A :data:`CostFn` in milliseconds on ``target``: each module timed alone with ONNX Runtime,
    less the call overhead of each input shape, which a module inside a network does not pay;
    never below 0.

    The overhead is what a model of one elementwise multiplication takes less that node's own
    time (the difference between models of one and of three, halved): subtracting the whole
    one-node model would also take away one node's work, which an operation inside a network
    does pay (an NB201 ``none`` edge, one multiplication, came out free)."""

    def cost(ops: list[Op]) -> list[float]:
        shapes = sorted({tuple(op.input_shape) for op in ops})
        models = [op.module for op in ops] + [_Elementwise(n) for _ in shapes for n in (1, 3)]
        all_shapes = [tuple(op.input_shape) for op in ops] + [s for s in shapes for _ in (1, 3)]
        onnx = [export_onnx(m, s, batch_size=target.batch_size, opset=target.opset, dtype=target.dtype)
                for m, s in zip(models, all_shapes)]
        times = [t.latency_ms for t in measure_latency(onnx, target, all_shapes)]
        one, three = times[len(ops)::2], times[len(ops) + 1::2]
        overhead = {s: t1 - max(0.0, t3 - t1) / 2 for s, t1, t3 in zip(shapes, one, three)}
        return [max(0.0, t - overhead[tuple(op.input_shape)]) for t, op in zip(times, ops)]

    return cost


def table_cost(table: "LatencyTable") -> CostFn:
    """A :data:`CostFn` in milliseconds from a latency table: each layer's share of the table's
    whole-network prediction (:meth:`~hwnas.cost.lut_table.LatencyTable.layer_ms`), nothing timed, so
    it works for a device this machine cannot run (a ``"remote"`` table)."""

    def cost(ops: list[Op]) -> list[float]:
        if any(op.signature is None for op in ops):
            raise ConfigError("this space's supernet has no layer signatures to look up in a latency table; "
                              "set [search] cost = 'macs', or time the choices with --latency measure")
        return [table.layer_ms(op.signature) for op in ops]

    return cost


class _Elementwise(nn.Module):
    """``nodes`` elementwise multiplications, each one ONNX node that no optimiser removes (unlike
    ``x + 0`` or ``x * 1``): a model that is nearly all call overhead."""

    def __init__(self, nodes: int = 1) -> None:
        super().__init__()
        self.nodes = nodes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.nodes):
            x = x * 0.5
        return x
