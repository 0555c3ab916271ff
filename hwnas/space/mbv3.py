"""MobileNetV3-style space: inverted-residual stages with per-block kernel and expand ratio.

Genome layout: ``[width] + [depth of each stage] + [kernel, expand of every block slot]``.
Block slots beyond a stage's depth are inactive. Canonical string (shell-safe)::

    w0.75:k3e4,k5e6/k3e3/k7e6,k3e3,k5e4/k3e3

``w`` is the width multiplier; stages are separated by ``/``, blocks by ``,``.
The first stage keeps the resolution; later stages halve it (rounding up, as the convolutions do)
while it stays >= 2, so the same space adapts to 8x8 digits, 28x28 Fashion-MNIST and 32x32
CIFAR inputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..exceptions import ConfigError, SpaceError
from .base import (SPACES, Gene, LayerSignature, SearchSpace, check_image_input, choice_index, option_choices,
                   refuse_oversized)


@dataclass(frozen=True)
class Block:
    """One inverted-residual block."""

    kernel: int
    expand: int


@dataclass(frozen=True)
class MBv3Arch:
    """An architecture of the mbv3 space: a width multiplier and blocks per stage."""

    width: float
    stages: tuple[tuple[Block, ...], ...]


_ACTS = {"relu": nn.ReLU, "hswish": nn.Hardswish}


def _conv_out(size: int, stride: int) -> int:
    # Output size of an odd-kernel conv padded by kernel // 2.
    return (size - 1) // stride + 1


def _make_divisible(value: float, divisor: int = 8) -> int:
    # Standard MobileNet rounding: multiple of 8, never more than 10 % below the request.
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation with hard-sigmoid gating, as in MobileNetV3."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = _make_divisible(channels / 4)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        self.gate = nn.Hardsigmoid(inplace=True)
        self.holds_input = True  # the input is kept alive to be rescaled

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depthwise (kxk) -> [SE] -> project (1x1), residual when shapes match."""

    def __init__(self, c_in: int, c_out: int, kernel: int, expand: int, stride: int,
                 se: bool, act: type[nn.Module]) -> None:
        super().__init__()
        hidden = _make_divisible(c_in * expand)
        self.use_residual = stride == 1 and c_in == c_out
        self.holds_input = self.use_residual
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), act(),
            nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), act(),
        ]
        if se:
            layers.append(SqueezeExcite(hidden))
        layers += [nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.use_residual else out


@SPACES.register("mbv3")
class MBv3Space(SearchSpace[MBv3Arch]):
    """MobileNetV3-style space.

    Args:
        input_shape: ``(C, H, W)`` of one image.
        output_dim: number of classes.
        widths: width multipliers to choose from.
        depths: blocks per stage to choose from.
        kernels: depthwise kernel sizes.
        expands: expansion ratios.
        stage_channels: output channels of each stage at width 1.0.
        stem_channels: stem output channels at width 1.0.
        head_channels: channels of the last 1x1 conv before pooling, at width 1.0.
        se_from_stage: stages with this index or later use squeeze-excite and hard-swish
            (default 2, or the number of stages when there are fewer: none then).

    Example:
        >>> space = MBv3Space((1, 8, 8), 10)
        >>> arch = space.sample(np.random.default_rng(0))
        >>> space.parse(space.canonical(arch)) == arch
        True
    """

    name = "mbv3"

    def __init__(self, input_shape: Sequence[int], output_dim: int, *,
                 widths: Sequence[float] = (0.5, 0.75, 1.0, 1.25),
                 depths: Sequence[int] = (1, 2, 3, 4),
                 kernels: Sequence[int] = (3, 5, 7),
                 expands: Sequence[int] = (3, 4, 6),
                 stage_channels: Sequence[int] = (16, 24, 40, 64),
                 stem_channels: int = 16,
                 head_channels: int = 128,
                 se_from_stage: int | None = None) -> None:
        super().__init__(input_shape, output_dim)
        check_image_input(self)
        # multipliers of stage_channels: [100000] would ask for millions of channels
        widths = option_choices("mbv3", "widths", widths, float, minimum=0.05, maximum=8.0)
        depths = option_choices("mbv3", "depths", depths, int, minimum=1)
        kernels = option_choices("mbv3", "kernels", kernels, int, minimum=1)
        expands = option_choices("mbv3", "expands", expands, int, minimum=1)
        stage_channels = option_choices("mbv3", "stage_channels", stage_channels, int, minimum=1, distinct=False)
        if se_from_stage is None:  # the default, 2, clamped: a config with one stage did not ask for it
            se_from_stage = min(2, len(stage_channels))
        if any(k % 2 == 0 for k in kernels):
            raise ConfigError(f"mbv3: [space] kernels {list(kernels)} must be odd positive integers")
        for key, value, low, high in (("stem_channels", stem_channels, 1, None), ("head_channels", head_channels, 1, None),
                                      ("se_from_stage", se_from_stage, 0, len(stage_channels))):
            if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
                raise ConfigError(f"mbv3: [space] {key} = {value!r} must be an integer >= {low}"
                                  + (f" and <= {high} (the number of stages: no squeeze-excite)" if high is not None else ""))
        self.stage_channels = tuple(int(c) for c in stage_channels)
        self.stem_channels = int(stem_channels)
        self.head_channels = int(head_channels)
        self.se_from_stage = int(se_from_stage)
        built: dict[tuple[int, ...], float] = {}  # channel counts -> the first width giving them
        for w in widths:
            same = built.setdefault(tuple(_make_divisible(c * w) for c in (stem_channels, *stage_channels,
                                                                            head_channels)), w)
            if same != w:
                raise ConfigError(f"mbv3: [space] widths {same:g} and {w:g} build the same channel counts (rounded "
                                  f"to multiples of 8), so one network would be evaluated under two names; keep one")
        self.max_depth = max(depths)
        self.strides = self._strides(self.input_shape[1])
        self.genes = [Gene("width", tuple(float(w) for w in widths))]
        self.genes += [Gene(f"s{s}.depth", tuple(int(d) for d in depths)) for s in range(self.n_stages)]
        for s in range(self.n_stages):
            for b in range(self.max_depth):
                self.genes.append(Gene(f"s{s}.b{b}.kernel", tuple(int(k) for k in kernels)))
                self.genes.append(Gene(f"s{s}.b{b}.expand", tuple(int(e) for e in expands)))
        refuse_oversized(self, {"widths": widths, "depths": depths, "expands": expands,
                                "stage_channels": stage_channels, "stem_channels": stem_channels,
                                "head_channels": head_channels})

    @property
    def n_stages(self) -> int:
        """Number of stages."""
        return len(self.stage_channels)

    def _strides(self, resolution: int) -> tuple[int, ...]:
        res = resolution if resolution <= 32 else _conv_out(resolution, 2)  # stem stride
        strides = []
        for s in range(self.n_stages):
            stride = 2 if s > 0 and res // 2 >= 2 else 1
            res = _conv_out(res, stride)  # what the conv gives: 7 -> 4, not 3
            strides.append(stride)
        return tuple(strides)

    def _slot(self, stage: int, block: int) -> int:
        return 1 + self.n_stages + 2 * (stage * self.max_depth + block)

    def active_genes(self, genomes: np.ndarray) -> np.ndarray:
        """Width and depths always; a block slot's kernel and expansion below its stage's depth."""
        genomes = np.asarray(genomes, dtype=np.int64).reshape(-1, self.n_genes)
        active = np.ones(genomes.shape, dtype=bool)
        for s in range(self.n_stages):
            depth = np.asarray(self.genes[1 + s].choices)[genomes[:, 1 + s]]
            for b in range(self.max_depth):
                i = self._slot(s, b)
                active[:, i:i + 2] = (b < depth)[:, None]
        return active

    def decode(self, genome: Sequence[int]) -> MBv3Arch:
        g = self.validate(genome)
        width = self.genes[0].choices[g[0]]
        stages = []
        for s in range(self.n_stages):
            depth = self.genes[1 + s].choices[g[1 + s]]
            blocks = []
            for b in range(depth):
                i = self._slot(s, b)
                blocks.append(Block(self.genes[i].choices[g[i]], self.genes[i + 1].choices[g[i + 1]]))
            stages.append(tuple(blocks))
        return MBv3Arch(width, tuple(stages))

    def encode(self, arch: MBv3Arch) -> np.ndarray:
        if len(arch.stages) != self.n_stages:
            raise SpaceError(f"mbv3: architecture has {len(arch.stages)} stages, the space has {self.n_stages}")
        g = np.zeros(self.n_genes, dtype=np.int64)
        g[0] = choice_index(self.genes[0], arch.width, where="mbv3")
        for s, blocks in enumerate(arch.stages):
            g[1 + s] = choice_index(self.genes[1 + s], len(blocks), where=f"mbv3 stage {s}")
            for b, blk in enumerate(blocks):
                i = self._slot(s, b)
                g[i] = choice_index(self.genes[i], blk.kernel, where=f"mbv3 stage {s} block {b}")
                g[i + 1] = choice_index(self.genes[i + 1], blk.expand, where=f"mbv3 stage {s} block {b}")
        return g

    def canonical(self, arch: MBv3Arch) -> str:
        stages = "/".join(",".join(f"k{b.kernel}e{b.expand}" for b in blocks) for blocks in arch.stages)
        return f"w{arch.width:g}:{stages}"

    _PATTERN = re.compile(r"^w(\d+(?:\.\d+)?):(.+)$")
    _BLOCK = re.compile(r"^k(\d+)e(\d+)$")

    def parse(self, text: str) -> MBv3Arch:
        hint = f"expected e.g. {self.canonical(self.smallest())!r}"  # this space's stages and choices
        m = self._PATTERN.match(str(text).strip())
        if not m:
            raise SpaceError(f"mbv3: cannot parse architecture {text!r}; {hint}")
        stages = []
        for stage_text in m.group(2).split("/"):
            blocks = []
            for block_text in stage_text.split(","):
                bm = self._BLOCK.match(block_text)
                if not bm:
                    raise SpaceError(f"mbv3: bad block {block_text!r} in {text!r}; {hint}")
                blocks.append(Block(int(bm.group(1)), int(bm.group(2))))
            stages.append(tuple(blocks))
        if len(stages) != self.n_stages:  # here, where the string is known: encode has only the arch
            raise SpaceError(f"mbv3: {text!r} has {len(stages)} stage(s), the space has {self.n_stages} stages (one "
                             f"'/'-separated group of blocks each); {hint}")
        arch = MBv3Arch(float(m.group(1)), tuple(stages))
        # validates every value, and gives the choices themselves: 0.68749999999 is close to the
        # choice 0.6875 but would build other channel counts
        return self.decode(self.encode(arch))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "stage_channels": list(self.stage_channels),
                "stem_channels": self.stem_channels, "head_channels": self.head_channels,
                "se_from_stage": self.se_from_stage}

    def build(self, arch: MBv3Arch) -> nn.Module:
        arch = self.decode(self.encode(arch))  # the choices themselves, not values close to them
        c_in, res = self.input_shape[0], self.input_shape[1]
        stem_stride = 1 if res <= 32 else 2
        c = _make_divisible(self.stem_channels * arch.width)
        layers: list[nn.Module] = [nn.Conv2d(c_in, c, 3, stem_stride, 1, bias=False),
                                   nn.BatchNorm2d(c), nn.Hardswish()]
        for s, blocks in enumerate(arch.stages):
            c_out = _make_divisible(self.stage_channels[s] * arch.width)
            late = s >= self.se_from_stage
            act = nn.Hardswish if late else nn.ReLU
            for b, blk in enumerate(blocks):
                stride = self.strides[s] if b == 0 else 1
                layers.append(InvertedResidual(c, c_out, blk.kernel, blk.expand, stride, late, act))
                c = c_out
        head = _make_divisible(self.head_channels * arch.width)
        layers += [nn.Conv2d(c, head, 1, bias=False), nn.BatchNorm2d(head), nn.Hardswish(),
                   nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(head, self.output_dim)]
        return nn.Sequential(*layers)

    # --- gradient search ------------------------------------------------------------------
    def supernet(self, seed: int = 0) -> nn.Module:
        """The weight-sharing :class:`~hwnas.space.mbv3_supernet.MBv3Supernet` of this space."""
        from .mbv3_supernet import MBv3Supernet  # it builds on this module's blocks

        return MBv3Supernet(self, seed)

    # --- per-layer view, for latency tables ----------------------------------------------
    # Signatures: "stem" (3x3 conv + BN + hard-swish), "ir" (InvertedResidual: cin, cout,
    # kernel, expand, stride, se, act) and "head" (1x1 conv + BN + hard-swish + pool + linear).
    # Widths enter only through channel counts, so archs of different widths share entries.

    def _stem(self, width: float) -> tuple[LayerSignature, tuple[int, int, int]]:
        c_in, h, w = self.input_shape
        stride = 1 if h <= 32 else 2
        c = _make_divisible(self.stem_channels * width)
        sig = LayerSignature("stem", (("cin", c_in), ("cout", c), ("s", stride)), (c_in, h, w))
        return sig, (c, _conv_out(h, stride), _conv_out(w, stride))

    def _block(self, state: tuple[int, int, int], stage: int, first: bool, width: float,
               kernel: int, expand: int) -> tuple[LayerSignature, tuple[int, int, int]]:
        c, h, w = state
        c_out = _make_divisible(self.stage_channels[stage] * width)
        stride = self.strides[stage] if first else 1
        late = stage >= self.se_from_stage
        sig = LayerSignature("ir", (("cin", c), ("cout", c_out), ("k", kernel), ("e", expand),
                                    ("s", stride), ("se", int(late)),
                                    ("act", "hswish" if late else "relu")), state,
                             group="ir-se" if late else "ir")
        return sig, (c_out, _conv_out(h, stride), _conv_out(w, stride))

    def _head(self, state: tuple[int, int, int], width: float) -> LayerSignature:
        head = _make_divisible(self.head_channels * width)
        return LayerSignature("head", (("cin", state[0]), ("cout", head), ("out", self.output_dim)), state)

    def layer_signatures(self, arch: MBv3Arch) -> list[LayerSignature]:
        """Stem, every block, head of ``arch`` in execution order (what :meth:`build` stacks).

        Example:
            >>> space = MBv3Space((1, 12, 12), 10)
            >>> [sig.op for sig in space.layer_signatures(space.smallest())]
            ['stem', 'ir', 'ir', 'ir', 'ir', 'head']
        """
        arch = self.decode(self.encode(arch))  # the choices themselves, not values close to them
        sig, state = self._stem(arch.width)
        sigs = [sig]
        for s, blocks in enumerate(arch.stages):
            for b, blk in enumerate(blocks):
                sig, state = self._block(state, s, b == 0, arch.width, blk.kernel, blk.expand)
                sigs.append(sig)
        sigs.append(self._head(state, arch.width))
        return sigs

    def all_layer_signatures(self) -> list[LayerSignature]:
        """Every layer signature this space can produce, exactly (sorted by key).

        Channel/resolution states are propagated stage by stage over every width and depth
        choice, so the set is neither larger than what architectures use nor missing any.
        """
        widths, depths = self.genes[0].choices, self.genes[1].choices
        kernels, expands = self.genes[self._slot(0, 0)].choices, self.genes[self._slot(0, 0) + 1].choices
        found: dict[str, LayerSignature] = {}
        for width in widths:
            stem, state = self._stem(width)
            found[stem.key] = stem
            states = {state}
            for s in range(self.n_stages):
                after: set[tuple[int, int, int]] = set()
                for depth in set(depths):
                    if depth == 0:
                        after |= states
                        continue
                    for first_in in states:
                        current = {first_in}
                        for b in range(depth):
                            nxt = set()
                            for st in current:
                                for k in kernels:
                                    for e in expands:
                                        sig, out = self._block(st, s, b == 0, width, k, e)
                                        found[sig.key] = sig
                                        nxt.add(out)
                            current = nxt
                        after |= current
                states = after
            for st in states:
                head = self._head(st, width)
                found[head.key] = head
        return [found[k] for k in sorted(found)]

    def build_layer(self, signature: LayerSignature) -> nn.Module:
        """A standalone module for one signature of this space (input ``signature.input_shape``).

        Raises:
            SpaceError: an op this space does not produce.
        """
        f = dict(signature.fields)
        if signature.op == "stem":
            return nn.Sequential(nn.Conv2d(f["cin"], f["cout"], 3, f["s"], 1, bias=False),
                                 nn.BatchNorm2d(f["cout"]), nn.Hardswish())
        if signature.op == "ir":
            return InvertedResidual(f["cin"], f["cout"], f["k"], f["e"], f["s"], bool(f["se"]), _ACTS[f["act"]])
        if signature.op == "head":
            return nn.Sequential(nn.Conv2d(f["cin"], f["cout"], 1, bias=False), nn.BatchNorm2d(f["cout"]),
                                 nn.Hardswish(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(f["cout"], f["out"]))
        raise SpaceError(f"mbv3: unknown layer op {signature.op!r} in {signature.key!r}; "
                         "expected stem, ir or head")
