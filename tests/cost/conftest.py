"""Shared small networks and a cheap target for the cost-model tests."""

from __future__ import annotations

import pytest
import torch

from hwnas.cost import Target, load_target
from hwnas.space import make_space

INPUT_SHAPE = (3, 16, 16)
#: Input of the small mbv3 space of the latency-table tests (:func:`space`).
SHAPE = (1, 8, 8)


def conv_net(width: int, depth: int) -> torch.nn.Module:
    """A plain CNN: stem conv, ``depth`` width->width convs, global pool, linear head."""
    layers: list[torch.nn.Module] = [torch.nn.Conv2d(3, width, 3, padding=1), torch.nn.ReLU()]
    for _ in range(depth):
        layers += [torch.nn.Conv2d(width, width, 3, padding=1), torch.nn.BatchNorm2d(width), torch.nn.ReLU()]
    layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(width, 10)]
    return torch.nn.Sequential(*layers)


@pytest.fixture
def fast_target() -> Target:
    """CPU, one thread, few runs: enough to order models whose MACs differ ~20x and more."""
    return Target(
        name="test-cpu",
        execution_provider="CPUExecutionProvider",
        intra_op_threads=1,
        warmup_runs=3,
        passes=3,
        runs_per_pass=5,
    )


@pytest.fixture
def space():
    """A small mbv3 space for the latency-table tests (tables are keyed by its layers)."""
    return make_space("mbv3", SHAPE, 10, widths=[0.5], depths=[1, 2], kernels=[3, 5], expands=[3])


@pytest.fixture
def target():
    """The bundled ``cpu-ort-1t`` target, which the shipped tables are built for."""
    return load_target("cpu-ort-1t")
