"""Shared fixtures: registers the fakes, and small configs for fast searches."""

from __future__ import annotations

import pytest

import fakes  # noqa: F401  (registers fake-accuracy / fake-latency)
from hwnas.config import config_from_dict


def small_config(**overrides):
    """A fast mlp-on-digits config with fake estimator and latency (sections overridable)."""
    data = {
        "task": {"dataset": "digits", "val_fraction": 0.25, "seed": 0},
        "space": {"name": "mlp", "max_layers": 3},
        "estimator": {"name": "fake-accuracy"},
        "cost": {"target": "cpu-ort-1t", "models": ["counts", "fake-latency"]},
        "search": {"strategy": "nsga2", "objectives": ["error", "latency_ms"], "evaluations": 40,
                   "population": 8, "seed": 0},
    }
    for section, values in overrides.items():
        data[section] = {**data.get(section, {}), **values}
    return config_from_dict(data)


@pytest.fixture
def make_config():
    """Factory fixture for :func:`small_config`."""
    return small_config


@pytest.fixture
def cli_error(capsys):
    """``cli_error(argv, *needles)``: run the CLI, assert exit 2 and a one-line ``hwnas: error:``
    naming every needle; returns the line."""
    from hwnas.cli import main

    def check(argv, *needles):
        capsys.readouterr()  # this command's output only, not what ran before it
        assert main(list(argv)) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("hwnas: error:"), err
        for needle in needles:
            assert needle in err, err
        return err

    return check
