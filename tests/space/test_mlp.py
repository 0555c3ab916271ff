"""mlp space: joint architecture + training genes."""

import numpy as np
import pytest
import torch

from hwnas.exceptions import ConfigError, RegistryError, SpaceError
from hwnas.space import make_space


def test_round_trip_recipe_and_build():
    space = make_space("mlp", (1, 8, 8), 10)
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.sample(rng)
        assert space.parse(space.canonical(arch)) == arch
        assert set(space.train_recipe(arch)) == {"lr", "optimizer"}
        assert space.build(arch)(torch.randn(3, 1, 8, 8)).shape == (3, 10)


def test_canonical_ignores_inactive_widths():
    space = make_space("mlp", (10,), 1)
    g = space.encode(space.smallest())
    g[3] = 4  # width3 is inactive with one layer
    assert space.canonical_genome(g) == "h32_relu_adam_lr0.0001_do0"


def test_bad_inputs():
    space = make_space("mlp", (10,), 1)
    with pytest.raises(SpaceError, match="expected e.g."):
        space.parse("h32_relu")
    with pytest.raises(SpaceError, match="33 is not a valid width1"):
        space.parse("h33_relu_adam_lr0.001_do0")
    with pytest.raises(RegistryError, match="did you mean 'mlp'"):
        make_space("mpl", (10,), 1)
    with pytest.raises(ConfigError, match="invalid for 'mlp'"):
        make_space("mlp", (10,), 1, depth=3)
