"""Supernets for gradient search: every choice of every gene in one network, mixed by weights.

A :class:`Supernet` holds, for each gene, one logit per choice (``alphas``); a gene's
candidates run side by side and their outputs are summed with the softmax of its logits
(DARTS's continuous relaxation). :attr:`Supernet.choice_macs` prices each choice (fvcore MACs
it adds to the whole network), so the expected MACs under the softmax are differentiable and a
gradient search can trade accuracy for cost. A space offers one through
:meth:`~hwnas.space.base.SearchSpace.supernet` (``nb201``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..cost.counts import count_macs_params


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
    """Base class: architecture logits per gene, their softmax and the expected cost.

    Subclasses build the network's modules, call :meth:`set_choice_macs` and implement
    ``forward`` with :meth:`mixing_weights`.

    Args:
        sizes: number of choices of each gene.
        seed: seed of the logits' initialisation (small noise around uniform, as in DARTS).
    """

    def __init__(self, sizes: Sequence[int], seed: int = 0) -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        generator = torch.Generator().manual_seed(seed)
        self.alphas = nn.Parameter(1e-3 * torch.randn(len(sizes), max(sizes), generator=generator))
        mask = torch.full((len(sizes), max(sizes)), float("-inf"))
        for gene, size in enumerate(sizes):
            mask[gene, :size] = 0.0
        self.register_buffer("mask", mask)
        self.register_buffer("choice_macs", torch.zeros(len(sizes), max(sizes)))

    def mixing_weights(self) -> torch.Tensor:
        """Softmax of each gene's logits (genes x choices; 0 beyond a gene's choices)."""
        return torch.softmax(self.alphas + self.mask, dim=1)

    def expected_macs(self) -> torch.Tensor:
        """MACs the searched choices add to the network, expected under :meth:`mixing_weights`."""
        return (self.mixing_weights() * self.choice_macs).sum()

    def set_choice_macs(self, macs: np.ndarray) -> None:
        """Set the MACs each choice of each gene adds to the whole network (genes x choices)."""
        self.choice_macs.copy_(torch.as_tensor(np.asarray(macs, float), dtype=self.choice_macs.dtype))

    def weight_parameters(self) -> list[nn.Parameter]:
        """Every parameter except the architecture logits."""
        return [p for name, p in self.named_parameters() if name != "alphas"]


def module_macs(module: nn.Module | None, input_shape: Sequence[int]) -> float:
    """fvcore MACs of one forward pass of ``module`` (None: the zero op, 0)."""
    return 0.0 if module is None else float(count_macs_params(module, tuple(input_shape))[0])
