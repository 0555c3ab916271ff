"""Supernets for gradient search: every choice of every gene in one network, mixed by weights.

A :class:`Supernet` holds, for each gene, one logit per choice (``alphas``); a gene's
candidates run side by side and their outputs are summed with the softmax of its logits
(DARTS's continuous relaxation). :attr:`Supernet.choice_cost` prices each choice (what it adds
to the whole network: fvcore MACs, :func:`price_macs`, or milliseconds on a target,
:func:`price_latency`), so the expected cost under the softmax is differentiable and a gradient
search can trade accuracy for it (FBNet, ProxylessNAS). A space offers one through
:meth:`~hwnas.space.base.SearchSpace.supernet` (``nb201``).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..cost.counts import count_macs_params
from ..cost.latency import measure_latency
from ..cost.onnx_export import export_onnx
from ..cost.target import Target


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

    Subclasses build the network's modules, implement :meth:`choice_modules` and ``forward``
    (with :meth:`mixing_weights`), and call ``self.set_choice_cost(price_macs(self))``.

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
        self.register_buffer("choice_cost", torch.zeros(len(sizes), max(sizes)))
        self.cost_unit = "MACs"

    def choice_modules(self) -> list[list[list[tuple[nn.Module | None, tuple[int, ...], int]]]]:
        """Per gene, per choice: what the choice adds to a built network, as ``(module, input
        shape, count)`` triples (module None: nothing to run, e.g. the zero op)."""
        raise NotImplementedError

    def mixing_weights(self) -> torch.Tensor:
        """Softmax of each gene's logits (genes x choices; 0 beyond a gene's choices)."""
        return torch.softmax(self.alphas + self.mask, dim=1)

    def expected_cost(self) -> torch.Tensor:
        """Cost the searched choices add to the network, expected under :meth:`mixing_weights`."""
        return (self.mixing_weights() * self.choice_cost).sum()

    def set_choice_cost(self, cost: np.ndarray, unit: str = "MACs") -> None:
        """Set what each choice of each gene adds to the whole network (genes x choices), in ``unit``."""
        self.choice_cost.copy_(torch.as_tensor(np.asarray(cost, float), dtype=self.choice_cost.dtype))
        self.cost_unit = unit

    def weight_parameters(self) -> list[nn.Parameter]:
        """Every parameter except the architecture logits."""
        return [p for name, p in self.named_parameters() if name != "alphas"]


def price(net: Supernet, cost: Callable[[list[tuple[nn.Module, tuple[int, ...]]]], list[float]]) -> np.ndarray:
    """Genes x choices matrix of what each choice adds, from ``cost`` of each distinct (module,
    input shape) of :meth:`Supernet.choice_modules` (asked once, all together)."""
    genes = net.choice_modules()
    distinct: dict[tuple[str, tuple[int, ...]], tuple[nn.Module, tuple[int, ...]]] = {}
    for choices in genes:
        for parts in choices:
            for module, shape, _ in parts:
                if module is not None:
                    distinct.setdefault((repr(module), tuple(shape)), (module, tuple(shape)))
    values = dict(zip(distinct, cost(list(distinct.values()))))
    out = np.zeros((len(genes), max(len(c) for c in genes)))
    for g, choices in enumerate(genes):
        for c, parts in enumerate(choices):
            out[g, c] = sum(count * values[(repr(m), tuple(shape))] for m, shape, count in parts if m is not None)
    return out


def price_macs(net: Supernet) -> np.ndarray:
    """What each choice adds in fvcore MACs."""
    return price(net, lambda items: [float(count_macs_params(m, shape)[0]) for m, shape in items])


def price_latency(net: Supernet, target: Target) -> np.ndarray:
    """What each choice adds in ms on ``target``: each distinct module timed alone with ONNX
    Runtime, interleaved with an identity model of each input shape whose time (the call
    overhead, which a module inside a network does not pay) is subtracted; never below 0."""

    def cost(items: list[tuple[nn.Module, tuple[int, ...]]]) -> list[float]:
        shapes = sorted({shape for _, shape in items})
        models = [m for m, _ in items] + [_Identity() for _ in shapes]
        all_shapes = [shape for _, shape in items] + shapes
        onnx = [export_onnx(m, s, batch_size=target.batch_size, opset=target.opset, dtype=target.dtype)
                for m, s in zip(models, all_shapes)]
        times = [t.latency_ms for t in measure_latency(onnx, target, all_shapes)]
        overhead = dict(zip(shapes, times[len(items):]))
        return [max(0.0, t - overhead[shape]) for t, (_, shape) in zip(times, items)]

    return price(net, cost)


class _Identity(nn.Module):
    """An identity that ONNX export keeps as one node (a bare ``nn.Identity`` exports no node)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.0
