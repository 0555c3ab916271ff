"""Shared small networks and a cheap target for the cost-model tests."""

from __future__ import annotations

import pytest
import torch

from hwnas.cost import Target

INPUT_SHAPE = (3, 16, 16)


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
