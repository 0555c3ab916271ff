"""nb201 space: the standard string, genomes, the CIFAR skeleton, degenerate cells."""

import itertools

import numpy as np
import pytest
import torch

from hwnas.exceptions import ConfigError, SpaceError
from hwnas.space import make_space
from hwnas.space.nb201 import OPS

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def test_standard_string_round_trip_every_cell():
    space = make_space("nb201", None, None, dead_edges="keep")  # a table's rows: every cell its own
    assert space.input_shape == (3, 32, 32) and space.output_dim == 10 and space.n_genes == 6
    strings = set()
    for genome in itertools.product(range(5), repeat=6):
        arch = space.decode(genome)
        text = space.canonical(arch)
        assert space.parse(text) == arch and space.encode(arch).tolist() == list(genome)
        strings.add(text)
    assert len(strings) == 5 ** 6
    assert space.canonical_genome([3, 3, 4, 1, 3, 1]) == BEST


def test_dead_edges_are_dropped_by_default_so_one_network_has_one_genome():
    # a 1x1 convolution of the input (edge 3<-0) with nodes 1 and 2 never reaching the output:
    # whatever edges 1<-0, 2<-0, 2<-1 hold, the cell computes one network (NB201 has 125 such cells)
    space, kept = make_space("nb201", None, None), make_space("nb201", None, None, dead_edges="keep")
    conv1x1 = OPS.index("nor_conv_1x1")
    genomes = [[a, b, c, conv1x1, 0, 0] for a, b, c in itertools.product(range(5), repeat=3)]
    assert {space.canonical_genome(g) for g in genomes} == {"|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|"}
    assert len({kept.canonical_genome(g) for g in genomes}) == 125
    # an edge into a node that reaches the output is live, even when that node's input is none
    assert space.canonical_genome([0, 0, 3, 2, 0, 1]) == "|none~0|+|none~0|nor_conv_3x3~1|+|nor_conv_1x1~0|none~1|skip_connect~2|"
    assert space.canonical_genome([3, 3, 4, 1, 3, 1]) == BEST  # no dead edge: unchanged
    # the canonical form round-trips, and the string of a cell with dead edges still parses as written
    canon = space.decode(genomes[-1])
    assert space.decode(space.encode(canon)) == canon
    assert space.parse(kept.canonical_genome(genomes[-1])) == kept.decode(genomes[-1])
    assert space.describe()["dead_edges"] == "drop" and kept.describe()["dead_edges"] == "keep"


def test_dead_edges_are_never_built():
    # a kept cell (a table's row) with dead 3x3 convolutions is priced as the network it computes
    from hwnas.cost import count_macs_params

    kept = make_space("nb201", (1, 8, 8), 10, dead_edges="keep", cells_per_stage=1, channels=4)
    conv1x1, conv3x3 = OPS.index("nor_conv_1x1"), OPS.index("nor_conv_3x3")
    with_dead = kept.build(kept.decode([conv3x3, conv3x3, conv3x3, conv1x1, 0, 0]))
    alone = kept.build(kept.decode([0, 0, 0, conv1x1, 0, 0]))
    assert count_macs_params(with_dead, (1, 8, 8)) == count_macs_params(alone, (1, 8, 8))


def test_tabular_samples_are_pointed_at_the_mlp_space():
    with pytest.raises(SpaceError, match=r"^\[space\]: nb201 needs image inputs \(C, H, W\); this task's samples have shape "
                                         r"\(5,\); use the 'mlp' space for tabular data$"):
        make_space("nb201", (5,), 3)
    with pytest.raises(SpaceError, match=r"need a channel axis: save x\[:, None\]\)$"):
        make_space("nb201", (8, 8), 3)


def test_dead_edges_option_is_checked():
    with pytest.raises(SpaceError, match=r"dead_edges = 'none' must be \"drop\" .* or \"keep\""):
        make_space("nb201", None, None, dead_edges="none")


def test_a_table_search_keeps_dead_edges_unless_told():
    # the rows of a table are cells: its copies of one network are separate measurements
    assert make_space("nb201", None, None, reads_table=True).dead_edges == "keep"
    assert make_space("nb201", None, None, reads_table=True, dead_edges="drop").dead_edges == "drop"
    assert make_space("mbv3", (1, 8, 8), 10, reads_table=True).table_defaults == {}


def test_build_cifar_skeleton_and_macs():
    from hwnas.cost import count_macs_params

    space = make_space("nb201", None, None)
    model = space.build(space.parse(BEST))
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    macs, params = count_macs_params(model, (3, 32, 32))
    # NAS-Bench-201 lists 113.95 MFLOPs (multiply-adds) and 0.80 M parameters for this cell: batch
    # norm not counted (it folds into the convolutions), the MACs match to 0.01 %
    assert macs == pytest.approx(113.95e6, rel=1e-4) and 0.75e6 < params < 0.85e6
    small = make_space("nb201", (3, 16, 16), 5, cells_per_stage=1)
    assert small.build(small.parse(BEST))(torch.randn(1, 3, 16, 16)).shape == (1, 5)
    assert sum(p.numel() for p in small.build(small.parse(BEST)).parameters()) < params


@pytest.mark.parametrize("size", [7, 10, 14, 2, 1])
def test_build_any_input_size(size):
    # the reductions' shortcut pools an odd input (10 -> 5 -> 3) to the convolution's size
    space = make_space("nb201", (1, size, size), 10, cells_per_stage=1)
    assert space.build(space.parse(BEST))(torch.randn(2, 1, size, size)).shape == (2, 10)
    assert space.supernet()(torch.randn(2, 1, size, size)).shape == (2, 10)


def test_genomes_and_cells_are_validated():
    space = make_space("nb201", None, None)
    with pytest.raises(SpaceError, match="out of range"):
        space.decode([9, 0, 0, 0, 0, 0])
    with pytest.raises(SpaceError, match="out of range"):
        space.decode([-1, 0, 0, 0, 0, 0])  # not the last operation
    with pytest.raises(SpaceError, match="'conv' is not a valid edge1<-0"):
        space.encode(("conv",) + ("none",) * 5)
    # build validates too: an unknown op is not an average pool, a short cell fails here, not in forward
    with pytest.raises(SpaceError, match="'conv' is not a valid edge1<-0"):
        space.build(("conv",) + ("skip_connect",) * 5)
    with pytest.raises(SpaceError, match="has 5 edges, the cell has 6"):
        space.build(("skip_connect",) * 5)
    from hwnas.space.nb201 import _op
    with pytest.raises(SpaceError, match=r"unknown edge operation 'conv'; choose one of \['none'"):
        _op("conv", 8)


def test_disconnected_cells_are_degenerate():
    space = make_space("nb201", None, None)
    dead = space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|")
    assert space.degenerate(dead) is not None and space.degenerate(space.parse(BEST)) is None
    n = sum(space.degenerate(space.decode(g)) is not None for g in itertools.product(range(5), repeat=6))
    assert n == 341  # the cells NAS-Bench-201 scores at chance accuracy
    model = space.build(dead).eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(model(x)[0], model(x)[1])  # output does not depend on the input


def test_bad_strings_and_options():
    space = make_space("nb201", None, None)
    with pytest.raises(SpaceError, match="has 2 node"):
        space.parse("|none~0|+|none~0|none~1|")
    with pytest.raises(SpaceError, match="'conv_5x5' is not a valid edge1<-0"):
        space.parse(BEST.replace("nor_conv_3x3~0|+|nor_conv_3x3", "conv_5x5~0|+|nor_conv_3x3", 1))
    with pytest.raises(SpaceError, match="must come from node 1"):
        space.parse(BEST.replace("avg_pool_3x3~1", "avg_pool_3x3~0"))
    with pytest.raises(SpaceError, match="cells_per_stage = 0"):
        make_space("nb201", None, None, cells_per_stage=0)
    with pytest.raises(ConfigError, match="needs a \\[task\\]"):
        make_space("mlp", None, None)
    assert set(OPS) == {"none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"}
    np.testing.assert_array_equal(space.upper_bounds, [4] * 6)


def test_features_generic_part_then_what_the_cell_computes():
    space = make_space("nb201", None, None)
    genomes = np.array([[3, 3, 4, 1, 3, 1], [0, 0, 0, 0, 0, 0], [3, 0, 0, 1, 0, 0], [0, 0, 0, 1, 0, 0]])
    x = space.features(genomes)
    # generic: one-hot genes, then how many of the six edges take each operation
    assert x[0, :30].reshape(6, 5).argmax(axis=1).tolist() == [3, 3, 4, 1, 3, 1]
    assert x[0, 30:35].tolist() == [0, 2, 0, 3, 1] and x[1, 30:35].tolist() == [6, 0, 0, 0, 0]
    # every path of the first cell is open, so every edge acts as written
    assert x[0, 35:65].tolist() == x[0, :30].tolist() and x[0, 65:70].tolist() == [0, 2, 0, 3, 1]
    # convolutions per path (0->1->2->3, 0->1->3, 0->2->3, 0->3) and their maximum
    assert x[0, 70:75].tolist() == [1, 2, 1, 0, 2] and x[1, 70:75].tolist() == [-1, -1, -1, -1, -1]
    # a convolution on no open path computes nothing: the cell is its skip edge alone
    assert x[2, :35].tolist() != x[3, :35].tolist()
    assert x[2, 35:].tolist() == x[3, 35:].tolist()
    # one-hot chains per open path: 4**3 + 4**2 + 4**2 + 4 columns, one set per open path
    assert x.shape == (4, 75 + 64 + 16 + 16 + 4)
    assert x[0, 75:].sum() == 4 and x[1, 75:].sum() == 0 and x[3, 75:].sum() == 1


def test_the_smallest_cell_is_one_a_search_can_propose():
    space = make_space("nb201", None, None)
    smallest = space.smallest()
    assert space.degenerate(smallest) is None
    assert space.degenerate(space.decode([0] * space.n_genes)) is not None  # every first choice: no path
    params = sum(p.numel() for p in space.build(smallest).parameters())
    rng = np.random.default_rng(0)
    for _ in range(50):
        other = space.sample(rng)
        if space.degenerate(other) is None:
            assert sum(p.numel() for p in space.build(other).parameters()) >= params


def test_the_largest_cell_has_the_most_parameters():
    space = make_space("nb201", None, None)
    params = sum(p.numel() for p in space.build(space.largest()).parameters())
    rng = np.random.default_rng(1)
    assert all(sum(p.numel() for p in space.build(space.sample(rng)).parameters()) <= params for _ in range(30))


@pytest.mark.parametrize("option, value", [("channels", 100000), ("cells_per_stage", 1000)])
def test_a_skeleton_too_large_to_build_is_refused(option, value):
    with pytest.raises(SpaceError, match=rf"nb201: \[space\] {option} = {value} must be an integer in 1\.\."):
        make_space("nb201", None, None, **{option: value})


def test_a_skeleton_with_too_many_parameters_is_refused_naming_the_option():
    with pytest.raises(ConfigError, match=r"^nb201: \[space\] channels = 1024 give a largest architecture with "
                                          r"6.24e\+09 parameters, more than the 1e\+09 .*; lower them$"):
        make_space("nb201", None, None, channels=1024)


def test_supernet_prices_a_none_edge_at_what_the_built_network_pays():
    # a built cell's 'none' edge runs x.mul(0) in every cell; the supernet priced it (and so
    # every elementwise node, the call overhead taken away with one) at 0 ms
    from hwnas.cost import Target
    from hwnas.cost.latency import measure_latency
    from hwnas.cost.onnx_export import export_onnx
    from hwnas.space.supernet import latency_cost

    target = Target(name="cpu-ort-1t", execution_provider="CPUExecutionProvider", intra_op_threads=1,
                    warmup_runs=5, passes=7, runs_per_pass=20)
    space = make_space("nb201", (1, 12, 12), 10, cells_per_stage=2)
    cells = [space.parse("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"),
             space.parse("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|")]
    torch.manual_seed(0)
    onnx = [export_onnx(space.build(c).eval(), space.input_shape, batch_size=1, opset=target.opset) for c in cells]
    none_ms, skip_ms = (m.latency_ms for m in measure_latency(onnx, target, [space.input_shape] * 2))
    net = space.supernet()
    net.price(latency_cost(target), "ms")
    predicted = [float(net.choice_cost[np.arange(6), space.encode(c)].sum()) for c in cells]
    assert predicted[1] == 0.0  # identities export no node
    assert 0.4 * (none_ms - skip_ms) < predicted[0] < 2.5 * (none_ms - skip_ms)


def test_the_smallest_cell_runs_fastest_and_holds_least_memory():
    # a budget check prices the smallest cell: a single skip path with 'none' elsewhere runs a
    # multiplication per none edge, so a latency budget only the all-skip cell meets was refused
    from hwnas.cost import Target
    from hwnas.cost.latency import measure_latency
    from hwnas.cost.memory import peak_memory_mb
    from hwnas.cost.onnx_export import export_onnx

    target = Target(name="cpu-ort-1t", execution_provider="CPUExecutionProvider", intra_op_threads=1,
                    warmup_runs=5, passes=7, runs_per_pass=20)
    space = make_space("nb201", (1, 12, 12), 10, cells_per_stage=2)
    cells = [space.smallest(), space.parse("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"),
             space.parse("|skip_connect~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|skip_connect~2|")]
    torch.manual_seed(0)
    models = [space.build(c).eval() for c in cells]
    onnx = [export_onnx(m, space.input_shape, batch_size=1, opset=target.opset) for m in models]
    ms = [m.latency_ms for m in measure_latency(onnx, target, [space.input_shape] * len(cells))]
    assert ms[0] < min(ms[1:]), ms
    memory = [peak_memory_mb(m, space.input_shape) for m in models]
    assert memory[0] <= min(memory[1:]), memory
