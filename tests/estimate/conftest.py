"""Shared fixtures for the estimator tests: loaded tasks and small test networks."""

import pytest
from torch import nn

from hwnas.data import load_task


@pytest.fixture(scope="session")
def digits_task():
    return load_task({"dataset": "digits"})


@pytest.fixture(scope="session")
def diabetes_task():
    return load_task({"dataset": "diabetes"})


class Shift(nn.Module):
    """Adds a constant: makes stale batch-norm statistics visibly wrong."""

    def __init__(self, offset: float) -> None:
        super().__init__()
        self.offset = offset

    def forward(self, x):
        return x + self.offset


def small_cnn(bn_momentum: float = 0.1, shift: float = 0.0, dropout: float = 0.0) -> nn.Sequential:
    """conv 1->16->32 on 8x8 digits, flattened into a linear classifier."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), Shift(shift), nn.BatchNorm2d(16, momentum=bn_momentum),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(32, momentum=bn_momentum),
        nn.ReLU(), nn.Dropout(dropout),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 10))


def small_mlp(in_features: int = 64, out_features: int = 10) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, 64), nn.ReLU(), nn.Linear(64, out_features))
