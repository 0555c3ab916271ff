"""Weight-sharing supernet of the ``mbv3`` space, for gradient search (``darts``).

One network at the largest choice of everything (widest, deepest, largest kernel and expand)
whose smaller choices are views of it, mixed by the softmax of each gene's logits:

- **kernel**: one depthwise kernel of the largest size; kernel ``k`` is its centred ``k x k``
  part (Single-Path NAS), so the mixed kernel is the largest one times the probability-weighted
  sum of the centred masks, and one convolution computes the mixture exactly;
- **expand** and **width**: the first ``c`` channels are the network with ``c`` channels;
  a mixture multiplies channels by the probability that they exist (FBNetV2's channel masks);
- **depth**: a stage's output is the probability-weighted sum of its outputs after each
  allowed number of blocks.

Every block slot, stem and head is priced at every width, kernel and expand it can take (the
layers of :meth:`~hwnas.space.mbv3.MBv3Space.layer_signatures`, so priced in milliseconds they
are what a latency table holds), and the expected cost is exact under the mixing weights: a slot
counts with the probability that its stage is deep enough for it.

Approximations, as in every weight-sharing supernet: batch-norm statistics and squeeze-excite
layers are shared by all widths; a block has the residual connection of the widest network.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .mbv3 import _ACTS, MBv3Space, SqueezeExcite, _make_divisible
from .supernet import CostFn, Op, Supernet, macs_cost


def _channel_masks(counts: np.ndarray, size: int) -> torch.Tensor:
    """0/1 masks keeping the first ``counts[...]`` of ``size`` channels (shape ``counts.shape + (size,)``)."""
    return torch.from_numpy((np.arange(size) < np.asarray(counts)[..., None]).astype(np.float32))


class _SuperBlock(nn.Module):
    """An inverted-residual block at its largest kernel, expand and width, masked to any of them."""

    def __init__(self, c_in: int, c_out: int, hidden_counts: np.ndarray, out_counts: np.ndarray,
                 kernels: tuple[int, ...], stride: int, se: bool, act: type[nn.Module]) -> None:
        super().__init__()
        hidden, k_max = int(hidden_counts.max()), max(kernels)
        self.stride, self.padding = stride, k_max // 2
        self.use_residual = stride == 1 and c_in == c_out
        self.expand = nn.Sequential(nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), act())
        self.depthwise = nn.Conv2d(hidden, hidden, k_max, stride, k_max // 2, groups=hidden, bias=False)
        self.after_depthwise = nn.Sequential(nn.BatchNorm2d(hidden), act())
        self.se = SqueezeExcite(hidden) if se else None
        self.project = nn.Sequential(nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        self.register_buffer("hidden_masks", _channel_masks(hidden_counts, hidden))  # width x expand x hidden
        self.register_buffer("out_masks", _channel_masks(out_counts, c_out))  # width x c_out
        kernel_masks = np.zeros((len(kernels), k_max, k_max), np.float32)
        for i, k in enumerate(kernels):
            lo = (k_max - k) // 2
            kernel_masks[i, lo:lo + k, lo:lo + k] = 1.0
        self.register_buffer("kernel_masks", torch.from_numpy(kernel_masks))

    def forward(self, x: torch.Tensor, width: torch.Tensor, kernel: torch.Tensor, expand: torch.Tensor) -> torch.Tensor:
        hidden_mask = torch.einsum("w,e,wec->c", width, expand, self.hidden_masks).view(1, -1, 1, 1)
        out = self.expand(x) * hidden_mask
        weight = self.depthwise.weight * torch.einsum("k,kij->ij", kernel, self.kernel_masks)
        out = F.conv2d(out, weight, None, self.stride, self.padding, groups=self.depthwise.groups)
        out = self.after_depthwise(out) * hidden_mask
        if self.se is not None:
            out = self.se(out)  # rescales channels: masked ones stay 0
        out = self.project(out) * (width @ self.out_masks).view(1, -1, 1, 1)
        return x + out if self.use_residual else out


class MBv3Supernet(Supernet):
    """The :meth:`~hwnas.space.mbv3.MBv3Space.build` skeleton at the largest choices, every gene
    a mixture (see the module docstring). Comes priced in fvcore MACs."""

    # Wider penalties than NB201's: width and expand ratio help the supernet's loss at every
    # step. On examples/digits.toml the most likely width stays the largest up to 0.3 (priced
    # in MACs) or 1 (milliseconds on cpu-ort-1t), and is 0.5 at 3.
    penalties = (0.0, 0.3, 1.0, 3.0)

    def __init__(self, space: MBv3Space, seed: int = 0) -> None:
        super().__init__(space.upper_bounds + 1, seed)
        self.space = space
        genes = space.genes
        self.widths = genes[0].choices
        self.depths = genes[1].choices
        self.kernels, self.expands = genes[space._slot(0, 0)].choices, genes[space._slot(0, 0) + 1].choices

        def channels(base: int) -> np.ndarray:  # per width choice
            return np.array([_make_divisible(base * w) for w in self.widths])

        c_in = space.input_shape[0]
        stem = channels(space.stem_channels)
        stem_stride = 1 if space.input_shape[1] <= 32 else 2
        self.stem = nn.Sequential(nn.Conv2d(c_in, int(stem.max()), 3, stem_stride, 1, bias=False),
                                  nn.BatchNorm2d(int(stem.max())), nn.Hardswish())
        self.register_buffer("stem_masks", _channel_masks(stem, int(stem.max())))
        self.stages = nn.ModuleList()
        previous = stem
        for s in range(space.n_stages):
            out = channels(space.stage_channels[s])
            late = s >= space.se_from_stage
            blocks = nn.ModuleList()
            for b in range(space.max_depth):
                inputs = previous if b == 0 else out
                hidden = np.array([[_make_divisible(c * e) for e in self.expands] for c in inputs])
                blocks.append(_SuperBlock(int(inputs.max()), int(out.max()), hidden, out, self.kernels,
                                          space.strides[s] if b == 0 else 1, late,
                                          _ACTS["hswish" if late else "relu"]))
            self.stages.append(blocks)
            previous = out
        head = channels(space.head_channels)
        self.head = nn.Sequential(nn.Conv2d(int(previous.max()), int(head.max()), 1, bias=False),
                                  nn.BatchNorm2d(int(head.max())), nn.Hardswish())
        self.register_buffer("head_masks", _channel_masks(head, int(head.max())))
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(int(head.max()), space.output_dim))
        n_w, n_k, n_e = len(self.widths), len(self.kernels), len(self.expands)
        self.register_buffer("stem_head_cost", torch.zeros(n_w))
        # slot (stage * max_depth + block) x width x (kernel, expand): see _block_cost
        self.register_buffer("block_cost", torch.zeros(space.n_stages * space.max_depth, n_w, n_k * n_e))
        self.price(macs_cost, "MACs")

    # --- the network ----------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.mixing_weights()
        n_w, n_d, n_k, n_e = len(self.widths), len(self.depths), len(self.kernels), len(self.expands)
        width = p[0, :n_w]
        x = self.stem(x) * (width @ self.stem_masks).view(1, -1, 1, 1)
        for s, blocks in enumerate(self.stages):
            outputs = []
            for b, block in enumerate(blocks):
                g = self.space._slot(s, b)
                x = block(x, width, p[g, :n_k], p[g + 1, :n_e])
                outputs.append(x)
            depth = p[1 + s, :n_d]
            x = sum(depth[i] * outputs[d - 1] for i, d in enumerate(self.depths))
        x = self.head(x) * (width @ self.head_masks).view(1, -1, 1, 1)
        return self.classifier(x)

    # --- cost -------------------------------------------------------------------------------
    def _layers(self):
        """Every (width, stage, slot, kernel, expand) block and every width's stem + head, as
        layer signatures of the space: yields ``(where, signature)``."""
        space = self.space
        for wi, width in enumerate(self.widths):
            stem, state = space._stem(width)
            yield ("stem", wi), stem
            for s in range(space.n_stages):
                first_in = state
                for b in range(space.max_depth):
                    for ki, k in enumerate(self.kernels):
                        for ei, e in enumerate(self.expands):
                            sig, out = space._block(first_in, s, b == 0, width, k, e)
                            yield ("block", s, b, wi, ki, ei), sig
                    first_in = out  # every later slot of the stage sees the stage's output
                state = first_in
            yield ("head", wi), space._head(state, width)

    def price(self, cost: CostFn, unit: str) -> None:
        layers = list(self._layers())
        distinct = {sig.key: sig for _, sig in layers}
        values = dict(zip(distinct, cost([Op(self.space.build_layer(sig), tuple(sig.input_shape), sig)
                                          for sig in distinct.values()])))
        stem_head = np.zeros(tuple(self.stem_head_cost.shape))
        blocks = np.zeros((self.space.n_stages, self.space.max_depth, len(self.widths), len(self.kernels),
                           len(self.expands)))
        for where, sig in layers:
            if where[0] == "block":
                blocks[where[1:]] = values[sig.key]
            else:
                stem_head[where[1]] += values[sig.key]
        self.stem_head_cost.copy_(torch.from_numpy(stem_head))
        self.block_cost.copy_(torch.from_numpy(blocks.reshape(self.block_cost.shape)))
        self.cost_unit = unit

    def expected_cost(self) -> torch.Tensor:
        p = self.mixing_weights()
        n_w, n_d, n_k, n_e = len(self.widths), len(self.depths), len(self.kernels), len(self.expands)
        width = p[0, :n_w]
        total = width @ self.stem_head_cost
        for s in range(self.space.n_stages):
            depth = p[1 + s, :n_d]
            for b in range(self.space.max_depth):
                present = sum(depth[i] for i, d in enumerate(self.depths) if d > b)  # the stage reaches slot b
                g = self.space._slot(s, b)
                total = total + present * torch.einsum("w,k,e,wke->", width, p[g, :n_k], p[g + 1, :n_e],
                                                       self._block_cost(s, b))
        return total

    def _block_cost(self, stage: int, block: int) -> torch.Tensor:
        # width x kernel x expand; stored 3-d because Module.to(memory_format=channels_last)
        # converts every 4-d buffer and refuses 5-d ones
        return self.block_cost[stage * self.space.max_depth + block].view(len(self.widths), len(self.kernels), -1)

    def max_cost(self) -> float:
        return float(self.stem_head_cost.max() + self.block_cost.flatten(1).max(dim=1).values.sum())

