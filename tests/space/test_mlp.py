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


def test_round_trip_of_tiny_numbers_and_unsorted_choices():
    space = make_space("mlp", (10,), 1, widths=[256, 32], lrs=[1e-12, 1.5e-12], dropouts=[0.1, 1e-5])
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.sample(rng)
        assert space.parse(space.canonical(arch)) == arch  # 'do1e-05' parses; 1.5e-12 is not 1e-12
    assert space.canonical(space.smallest()) == "h32_relu_adam_lr1e-12_do1e-05"


def test_bad_inputs():
    space = make_space("mlp", (10,), 1)
    with pytest.raises(SpaceError, match="expected e.g."):
        space.parse("h32_relu")
    with pytest.raises(SpaceError, match="33 is not a valid width1"):
        space.parse("h33_relu_adam_lr0.001_do0")
    with pytest.raises(RegistryError, match="did you mean 'mlp'"):
        make_space("mpl", (10,), 1)
    with pytest.raises(ConfigError, match=r"'mlp' has no option\(s\) 'depth'"):
        make_space("mlp", (10,), 1, depth=3)


@pytest.mark.parametrize("option, value, message", [
    ("widths", [], "widths = \\[\\] is invalid; it must be a non-empty list of distinct integers >= 1"),
    ("widths", [0, -1], ">= 1"),
    ("activations", "relu", "from \\['leaky_relu', 'relu', 'tanh'\\]"),
    ("lrs", ["a"], "lrs = \\['a'\\] is invalid"),
    ("lrs", [1e-3, 100.0], "lrs = \\[0.001, 100.0\\] is invalid; it must be a non-empty list of distinct numbers "
                           ">= 1e-12 <= 10"),
    ("optimizers", ["adam", "lbfgs"], "from \\['adam', 'adamw', 'rmsprop', 'sgd'\\]"),
    ("dropouts", [0.99], "<= 0.95"),
    ("max_layers", "3", "max_layers = '3' must be in 1..16"),
    ("lrs", [float("nan")], "lrs = \\[nan\\] is invalid"),
    ("dropouts", [float("inf")], "dropouts = \\[inf\\] is invalid"),
    ("lrs", [0.00012345678], "more than 6 significant digits"),
])
def test_bad_options_are_named(option, value, message):
    with pytest.raises(ConfigError, match=message):
        make_space("mlp", (10,), 1, **{option: value})


def test_widths_beyond_what_can_be_built_are_refused():
    with pytest.raises(ConfigError, match=r"widths = \[100000\] is invalid; .* <= 65536"):
        make_space("mlp", (10,), 1, widths=[100000])
    # each width allowed, but 16 layers of them would hold 6.4e10 parameters
    with pytest.raises(ConfigError, match=r"^mlp: \[space\] max_layers = 16, widths = \[65536\] give a largest "
                                          r"architecture with 6.44e\+10 parameters, more than the 1e\+09 .*; lower them$"):
        make_space("mlp", (10,), 1, widths=[65536], max_layers=16)


def test_a_number_merely_close_to_a_choice_parses_as_the_choice():
    space = make_space("mlp", (4,), 2, lrs=[0.001], dropouts=[0.1])
    arch = space.parse("h32_relu_adam_lr0.00099999999999_do0.09999999999")
    assert (arch.lr, arch.dropout) == (0.001, 0.1) and space.train_recipe(arch)["lr"] == 0.001


def test_features_count_only_the_widths_of_layers_a_network_has():
    space = make_space("mlp", (4,), 2, max_layers=3, widths=[32, 64])
    genome = space.encode(space.parse("h64_relu_adam_lr0.001_do0"))  # canonical: widths 2 and 3 hold 32 (0)
    x = space.features(genome[None])[0]
    assert x[int((space.upper_bounds + 1).sum()):].tolist() == [0, 1]  # one layer of 64, no 32s
