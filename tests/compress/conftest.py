"""Shared fixtures for the compress tests: a tiny trained mbv3 run on digits, compressed once."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from hwnas.cli import main

TINY_RUN = """
[task]
dataset = "digits"
resize = 12
[space]
name = "mbv3"
widths = [0.5, 1.0]
depths = [1]
[estimator]
name = "proxy-trainer"
epochs = 1
batch_size = 64
max_train_samples = 256
device = "cpu"
[cost]
target = "cpu-ort-1t"
models = ["counts", "fake-latency"]
[search]
objectives = ["error", "latency_ms"]
evaluations = 4
population = 4
"""


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished search directory with trained weights (4 mbv3 models, proxy-trainer)."""
    tmp = tmp_path_factory.mktemp("tiny-run")
    config = tmp / "tiny.toml"
    config.write_text(textwrap.dedent(TINY_RUN))
    assert main(["search", str(config), "--out", str(tmp / "run"), "--no-progress"]) == 0
    return tmp / "run"


@pytest.fixture(scope="session")
def best_arch(tiny_run):
    """The most accurate architecture of the tiny run."""
    from hwnas.outputs import load_run

    ok = [ev for ev in load_run(tiny_run).evaluations if ev.ok]
    return min(ok, key=lambda ev: ev.metrics["error_pct"]).arch


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    """A private copy of the tiny run (tests that write into it do not disturb each other)."""
    return shutil.copytree(tiny_run, tmp_path / "run")


@pytest.fixture(scope="session")
def digits_12():
    """Digits upsampled to 12x12, as in the default example."""
    from hwnas.data import load_task

    return load_task({"dataset": "digits", "resize": 12, "val_fraction": 0.25, "seed": 0})
