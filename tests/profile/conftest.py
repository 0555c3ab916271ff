"""The tiny mbv3 space, fast target and one real (tiny) table build shared by the ``hwnas profile`` tests."""

import pytest

from hwnas.cost import Target
from hwnas.profile import build_table
from hwnas.space import make_space

TINY = dict(widths=[0.5], depths=[1, 2], kernels=[3, 5], expands=[3], stage_channels=[16, 24])


@pytest.fixture(scope="session")
def fast_target():
    return Target(name="cpu-ort-1t", execution_provider="CPUExecutionProvider", intra_op_threads=1,
                  warmup_runs=2, passes=3, runs_per_pass=3)


@pytest.fixture(scope="session")
def space():
    return make_space("mbv3", (1, 8, 8), 10, **TINY)


@pytest.fixture(scope="session")
def table(fast_target, space):
    return build_table(fast_target, space, calibration=3, fidelity=4, seed=0, log=lambda _: None)
