"""mbv3 space: genome round trips, canonical strings, building, validation messages."""

import numpy as np
import pytest
import torch

from hwnas.exceptions import SpaceError
from hwnas.space import make_space


@pytest.fixture
def space():
    return make_space("mbv3", (1, 8, 8), 10)


def test_round_trip_and_build(space):
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.sample(rng)
        text = space.canonical(arch)
        assert space.parse(text) == arch
        assert space.canonical(space.decode(space.encode(arch))) == text
        assert space.build(arch)(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_inactive_genes_do_not_change_the_architecture(space):
    g = space.encode(space.smallest())
    slot = space._slot(0, 3)  # stage 0 has depth 1: block 3 is inactive
    g2 = g.copy()
    g2[slot] = 2
    assert space.canonical_genome(g) == space.canonical_genome(g2)
    assert space.encode(space.decode(g2))[slot] == 0


def test_strides_adapt_to_resolution():
    assert make_space("mbv3", (1, 8, 8), 10).strides == (1, 2, 2, 1)
    assert make_space("mbv3", (3, 32, 32), 10).strides == (1, 2, 2, 2)


def test_smallest_is_cheapest(space):
    n = lambda a: sum(p.numel() for p in space.build(a).parameters())  # noqa: E731
    rng = np.random.default_rng(1)
    assert all(n(space.smallest()) <= n(space.sample(rng)) for _ in range(10))


@pytest.mark.parametrize("text, message", [
    ("w0.75:k3e4", "stages"),
    ("w0.3:k3e3/k3e3/k3e3/k3e3", "0.3 is not a valid width"),
    ("w1:k4e3/k3e3/k3e3/k3e3", "4 is not a valid s0.b0.kernel"),
    ("banana", "cannot parse"),
])
def test_bad_strings_name_the_problem(space, text, message):
    with pytest.raises(SpaceError, match=message):
        space.parse(text)


def test_bad_genome(space):
    with pytest.raises(SpaceError, match="out of range"):
        space.validate([9] * space.n_genes)
    with pytest.raises(SpaceError, match="genes"):
        space.validate([0, 1])


def test_tabular_input_is_refused():
    with pytest.raises(SpaceError, match="use the 'mlp' space"):
        make_space("mbv3", (10,), 1)
