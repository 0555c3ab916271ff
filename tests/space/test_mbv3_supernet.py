"""mbv3 supernet: exact expected cost, channel and kernel masks, gradients to every gene, a cost
penalty that moves gradient search to cheaper networks, and choices priced from a latency table."""

import copy

import numpy as np
import pytest
import torch

from fakes import all_proposals, hand_table
from hwnas.cost import load_target
from hwnas.cost.counts import count_macs_params
from hwnas.data import load_task
from hwnas.search.strategies.darts import DartsStrategy
from hwnas.space import make_space
from hwnas.space.mbv3 import _make_divisible


@pytest.fixture(scope="module")
def space():
    return make_space("mbv3", (1, 8, 8), 10)


def pin(net, genome):
    """All weight on one architecture's choices (exactly: the others at -inf)."""
    with torch.no_grad():
        net.alphas.fill_(float("-inf"))
        for gene, choice in enumerate(genome):
            net.alphas[gene, choice] = 0.0


def test_one_architecture_costs_its_built_network_s_macs(space):
    net = space.supernet(seed=0)
    assert net.cost_unit == "MACs"
    rng = np.random.default_rng(3)
    for arch in [space.smallest(), *(space.sample(rng) for _ in range(4))]:
        pin(net, space.encode(arch))
        assert net.expected_cost().item() == pytest.approx(count_macs_params(space.build(arch), space.input_shape)[0],
                                                           rel=1e-6)
    assert net.max_cost() >= net.expected_cost().item()


def test_every_gene_gets_a_gradient_and_the_cost_falls_with_smaller_choices(space):
    net = space.supernet(seed=0)
    out = net(torch.randn(3, 1, 8, 8))
    assert out.shape == (3, 10)
    out.square().sum().backward()
    moved = net.alphas.grad.abs().sum(dim=1) > 1e-6
    # kernels of blocks with 2x2 inputs differ only in taps that see padding: no gradient, rightly
    # (up to rounding: the choices' equal gradients are summed in different orders)
    still = {space._slot(2, b) for b in (1, 2, 3)} | {space._slot(3, b) for b in range(space.max_depth)}
    assert all(bool(moved[g]) != (g in still) for g in range(space.n_genes))
    net.alphas.grad = None
    net.expected_cost().backward()
    grad = net.alphas.grad
    assert grad[0, 0] < 0 < grad[0, len(space.genes[0].choices) - 1]  # the narrowest width is cheapest
    assert grad[1, 0] < 0 < grad[1, len(space.genes[1].choices) - 1]  # so is the shallowest stage
    kernel = space._slot(0, 0)
    assert grad[kernel, 0] < 0 < grad[kernel, 2] and grad[kernel + 1, 0] < 0 < grad[kernel + 1, 2]


def test_a_pinned_choice_masks_the_channels_and_kernel_taps_it_does_not_have(space):
    net = space.supernet(seed=0).eval()
    arch = space.smallest()  # width 0.5, kernel 3, expand 3 everywhere
    pin(net, space.encode(arch))
    with torch.no_grad():  # batch norm then maps a masked (zero) channel to nonzero: only masks keep it 0
        for bn in (m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.bias.fill_(0.5)
    block = net.stages[1][0]  # stride 2, no residual, no squeeze-excite
    seen = {}
    block.project.register_forward_hook(lambda m, i, o: seen.update(hidden=i[0]))  # (a hook returning a value
    block.register_forward_hook(lambda m, i, o: seen.update(out=o))                # would replace the output)
    x = torch.randn(2, 1, 8, 8)
    before = net(x)
    hidden = _make_divisible(_make_divisible(space.stage_channels[0] * 0.5) * 3)
    out = _make_divisible(space.stage_channels[1] * 0.5)
    assert seen["hidden"].shape[1] > hidden and seen["hidden"][:, hidden:].eq(0).all()
    assert seen["hidden"][:, :hidden].ne(0).any()
    assert seen["out"].shape[1] > out and seen["out"][:, out:].eq(0).all() and seen["out"][:, :out].ne(0).any()
    with torch.no_grad():  # taps outside the centred 3x3 of the 7x7 kernel do not count
        weight = block.depthwise.weight
        outer = torch.ones_like(weight, dtype=torch.bool)
        outer[:, :, 2:5, 2:5] = False
        weight[outer] += 10.0
    assert torch.allclose(net(x), before, atol=1e-5)


def test_a_cost_penalty_moves_gradient_search_to_cheaper_mbv3_networks():
    task = load_task({"dataset": "digits", "max_train_samples": 300, "max_val_samples": 100, "seed": 0})
    space = make_space("mbv3", task.input_shape, task.output_dim, widths=[0.5, 1.0], depths=[1, 2],
                       stage_channels=[8, 16], head_channels=32)
    strategy = DartsStrategy(space, n_objectives=2, n_constraints=0, evaluations=6, seed=0, task=task,
                             penalties=[0, 20], warmup_epochs=1, search_epochs=3)
    genomes = all_proposals(strategy)
    assert genomes.shape == (6, space.n_genes) and len({space.canonical_genome(g) for g in genomes}) == 6
    net = space.supernet()
    expected = {}
    for penalty, probs in strategy.probabilities.items():
        with torch.no_grad():
            net.alphas.copy_(torch.log(torch.from_numpy(probs).clamp_min(1e-30)))
        expected[penalty] = net.expected_cost().item()
    assert expected[20.0] < 0.85 * expected[0.0]  # after 6 logit steps
    # proposals alternate between the penalties: the penalised run's most likely network is the smallest
    assert space.canonical_genome(genomes[1]) == space.canonical(space.smallest()) != space.canonical_genome(genomes[0])


def test_darts_prices_the_choices_from_the_search_s_latency_table_without_timing(monkeypatch):
    import hwnas.space.supernet as supernet

    task = load_task({"dataset": "digits", "max_train_samples": 200, "max_val_samples": 50, "seed": 0})
    space = make_space("mbv3", task.input_shape, task.output_dim, widths=[0.5, 1.0], depths=[1, 2],
                       kernels=[3, 5], expands=[3], stage_channels=[8, 16], head_channels=32)
    table = hand_table(space, load_target("cpu-ort-1t"))  # 0.5 * sum_ms - 0.001 * n_layers + 0.01
    table.meta["remote"] = True  # a device this machine cannot run: nothing may be timed
    monkeypatch.setattr(supernet, "measure_latency", lambda *a, **k: pytest.fail("timed a choice"))
    strategy = DartsStrategy(space, n_objectives=2, n_constraints=0, evaluations=3, seed=0, task=task,
                             target=load_target("cpu-ort-1t"), latency_table=table, warmup_epochs=0, search_epochs=1)
    net = copy.deepcopy(strategy.net)  # pinned below; the strategy's own stays as it is
    assert strategy.cost == "latency_ms" and net.cost_unit == "ms"
    for arch in (space.smallest(), space.parse("w1:k5e3,k5e3/k3e3,k5e3")):
        pin(net, space.encode(arch))  # one architecture: the table's prediction, less its constant
        assert net.expected_cost().item() == pytest.approx(
            table.predict(space.layer_signatures(arch)) - table.predict([]), rel=1e-5)
    assert len(all_proposals(strategy)) == 3
