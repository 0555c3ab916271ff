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


def test_smallest_is_cheapest_with_choices_in_any_order():
    space = make_space("mbv3", (1, 8, 8), 10, widths=[1.0, 0.5], depths=[3, 1], kernels=[7, 3], expands=[6, 3])
    assert space.canonical(space.smallest()) == "w0.5:k3e3/k3e3/k3e3/k3e3"


@pytest.mark.parametrize("text, message", [
    ("w0.75:k3e4", "stages"),
    ("w0.3:k3e3/k3e3/k3e3/k3e3", "0.3 is not a valid width"),
    ("w1:k4e3/k3e3/k3e3/k3e3", "4 is not a valid s0.b0.kernel"),
    ("banana", "cannot parse"),
])
def test_bad_strings_name_the_problem(space, text, message):
    with pytest.raises(SpaceError, match=message):
        space.parse(text)


def test_a_string_with_too_few_stages_is_named_with_the_expected_form(space):
    # the message said "architecture has 1 stages, the space has 4": neither the string nor the form
    with pytest.raises(SpaceError) as err:
        space.parse("w0.75:k3e4")
    assert str(err.value) == ("mbv3: 'w0.75:k3e4' has 1 stage(s), the space has 4 stages (one '/'-separated group of blocks "
                              f"each); expected e.g. {space.canonical(space.smallest())!r}")
    # the example is this space's own: two stages here, not a fixed four
    two = make_space("mbv3", (1, 8, 8), 10, stage_channels=[16, 24])
    with pytest.raises(SpaceError, match=r"the space has 2 stages .* expected e\.g\. 'w[0-9.]+:k3e3/k3e3'$"):
        two.parse("w0.75:k3e4")


def test_bad_genome(space):
    with pytest.raises(SpaceError, match="out of range"):
        space.validate([9] * space.n_genes)
    with pytest.raises(SpaceError, match="genes"):
        space.validate([0, 1])


def test_tabular_input_is_refused():
    with pytest.raises(SpaceError, match="use the 'mlp' space"):
        make_space("mbv3", (10,), 1)


def test_grayscale_images_without_a_channel_axis_are_told_to_add_one():
    with pytest.raises(SpaceError, match=r"need a channel axis: save x\[:, None\]"):
        make_space("mbv3", (8, 8), 10)


def test_layer_signatures_enumeration_is_exact():
    import itertools

    space = make_space("mbv3", (1, 12, 12), 10, widths=[0.5, 1.0], depths=[1, 2], kernels=[3, 5], expands=[3],
                       stage_channels=[16, 24, 40], se_from_stage=1)
    used = set()
    for genome in itertools.product(*(range(g.size) for g in space.genes)):
        used |= {s.key for s in space.layer_signatures(space.decode(genome))}
    assert used == {s.key for s in space.all_layer_signatures()}


def test_layer_signatures_cover_sampled_archs_of_the_default_example():
    space = make_space("mbv3", (1, 12, 12), 10, widths=[0.5, 0.75, 1.0], depths=[1, 2, 3])
    every = {s.key for s in space.all_layer_signatures()}
    assert len(every) == 158  # small enough to time in a minute
    rng = np.random.default_rng(0)
    for _ in range(200):
        assert {s.key for s in space.layer_signatures(space.sample(rng))} <= every


def test_stacked_layers_are_the_network(space):
    rng = np.random.default_rng(1)
    for _ in range(5):
        arch = space.sample(rng)
        sigs = space.layer_signatures(arch)
        assert [s.op for s in sigs][0] == "stem" and sigs[-1].op == "head"
        stacked = torch.nn.Sequential(*(space.build_layer(s) for s in sigs))
        net = space.build(arch)
        assert sum(p.numel() for p in stacked.parameters()) == sum(p.numel() for p in net.parameters())
        x = torch.randn(1, 1, 8, 8)
        shape = x.shape[1:]
        for sig, layer in zip(sigs, stacked):
            assert tuple(shape) == sig.input_shape
            x = layer(x)
            shape = x.shape[1:]
        assert x.shape == (1, 10)


@pytest.mark.parametrize("option, value, message", [
    ("widths", [0], "widths = \\[0\\] is invalid"),
    ("depths", [0, 1], "depths = \\[0, 1\\] is invalid; it must be a non-empty list of distinct integers >= 1"),
    ("kernels", [4], "must be odd"),
    ("stage_channels", ["a"], "stage_channels"),
    ("widths", [100000], "<= 8"),  # multipliers, not channel counts
    ("widths", [float("nan")], "widths = \\[nan\\] is invalid"),
    ("widths", [0.1234567], "more than 6 significant digits.*use \\[0.123457\\]"),
    ("stem_channels", 0, "stem_channels = 0 must be an integer >= 1"),
    ("head_channels", 2.5, "head_channels = 2.5 must be an integer >= 1"),
    ("se_from_stage", -1, "se_from_stage = -1 must be an integer >= 0 and <= 4"),
    ("se_from_stage", 9, "se_from_stage = 9"),
    ("expands", [1e20], r"^mbv3: \[space\] expands = \[100000000000000000000\] give a largest architecture with "
                        r"more parameters than torch can describe, more than the 1e\+09 .*; lower them$"),
    ("head_channels", 100000000, r"head_channels = 100000000 give a largest architecture with 1.15e\+10 parameters"),
    ("widths", [1.0, 1.02], r"widths 1 and 1.02 build the same channel counts .*; keep one"),
    ("widths", [0.05, 0.06], r"widths 0.05 and 0.06 build the same channel counts"),
])
def test_bad_options_are_named(option, value, message):
    from hwnas.exceptions import HwnasError

    with pytest.raises(HwnasError, match=message):
        make_space("mbv3", (1, 8, 8), 10, **{option: value})


def test_one_stage_is_not_refused_for_the_default_se_from_stage():
    space = make_space("mbv3", (1, 8, 8), 10, stage_channels=[16])  # the default 2 is past its one stage
    assert space.se_from_stage == 1 and space.describe()["se_from_stage"] == 1
    assert make_space("mbv3", (1, 8, 8), 10).se_from_stage == 2


def test_largest_takes_each_gene_s_largest_choice_in_any_order():
    from hwnas.space import make_space

    listed = make_space("mbv3", (1, 8, 8), 10, widths=[1.0, 0.5], depths=[3, 1], kernels=[7, 3], expands=[6, 3])
    ordered = make_space("mbv3", (1, 8, 8), 10, widths=[0.5, 1.0], depths=[1, 3], kernels=[3, 7], expands=[3, 6])
    assert listed.canonical(listed.largest()) == ordered.canonical(ordered.largest()) == \
        ordered.canonical(ordered.decode(ordered.upper_bounds))


def test_describe_records_the_skeleton_options():
    from hwnas.space import make_space

    space = make_space("mbv3", (1, 8, 8), 10, stage_channels=[8, 16], stem_channels=8, head_channels=32,
                       se_from_stage=1)
    d = space.describe()
    assert (d["stage_channels"], d["stem_channels"], d["head_channels"], d["se_from_stage"]) == ([8, 16], 8, 32, 1)


def test_features_count_kernels_and_expansions_apart_even_with_equal_choices():
    space = make_space("mbv3", (1, 12, 12), 10, widths=[1.0], depths=[1, 2], kernels=[3, 5], expands=[3, 5])
    kernels = [i for i, g in enumerate(space.genes) if g.name.endswith("kernel")]
    genome = np.zeros(space.n_genes, dtype=np.int64)
    genome[kernels] = 1  # every kernel 5, every expansion 3; depth 1: only each stage's first block is used
    x = space.features(genome[None])[0]
    one_hot = int((space.upper_bounds + 1).sum())
    counts = x[one_hot:]  # per kind (depth, kernel, expand), how many active genes take each choice
    n = space.n_stages
    assert sorted(counts.tolist()) == sorted([n, 0, 0, n, n, 0])
    assert x.shape == (one_hot + 6,)


def test_a_width_merely_close_to_a_choice_parses_and_builds_as_the_choice():
    space = make_space("mbv3", (1, 12, 12), 10, widths=[0.6875, 1.0], depths=[1])
    near = "w0.68749999999:k3e3/k3e3/k3e3/k3e3"
    assert space.parse(near).width == 0.6875
    exact = sum(p.numel() for p in space.build(space.parse("w0.6875:k3e3/k3e3/k3e3/k3e3")).parameters())
    assert sum(p.numel() for p in space.build(space.parse(near)).parameters()) == exact
    # an architecture object made by hand builds the choice too, not 40 channels for 48
    raw = type(space.parse(near))(0.68749999999, space.parse(near).stages)
    assert sum(p.numel() for p in space.build(raw).parameters()) == exact


@pytest.mark.parametrize("size, strides", [(14, (1, 2, 2, 2)), (12, (1, 2, 2, 1)), (28, (1, 2, 2, 2)),
                                           (8, (1, 2, 2, 1))])
def test_stages_halve_the_resolution_the_convolutions_give(size, strides):
    # 14 -> 7 -> 4 (a stride-2 conv rounds up): the last stage still halves, to 2
    space = make_space("mbv3", (1, size, size), 10)
    assert space.strides == strides
    head = space.layer_signatures(space.smallest())[-1]
    body = space.build(space.smallest())[:-6]  # without the head (conv, BN, act, pool, flatten, linear)
    assert tuple(body(torch.zeros(1, 1, size, size)).shape[1:]) == head.input_shape


def test_features_count_only_the_blocks_a_network_has():
    space = make_space("mbv3", (1, 12, 12), 10, depths=[1, 4], kernels=[3, 5, 7])
    genome = space.encode(space.parse("w1:k5e3/k5e3/k5e3/k5e3"))  # canonical: unused slots hold k3e3 (0)
    counts = space.features(genome[None])[0][int((space.upper_bounds + 1).sum()):]
    # (depths 1/4), (kernels 3/5/7), (expands 3/4/6): four k5 blocks, nothing counted for the unused slots
    assert counts.tolist() == [4, 0, 0, 4, 0, 4, 0, 0]
