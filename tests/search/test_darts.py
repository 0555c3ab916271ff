"""Gradient search (``darts``): the NB201 supernet, the cost penalty, the loop, and its errors."""

import csv
import re

import numpy as np
import pytest
import torch

from fakes import all_proposals, interrupt_at, write_nb201_table
from hwnas.config import config_from_dict
from hwnas.data import load_task
from hwnas.data.base import Task
from hwnas.exceptions import ConfigError, SpaceError
from hwnas.search.runner import run_search
from hwnas.search.strategies.darts import DartsStrategy
from hwnas.space import make_space
from hwnas.space.nb201 import OPS
from hwnas.table import table_search_config

TASK = {"dataset": "digits", "max_train_samples": 400, "max_val_samples": 200, "seed": 0}


@pytest.fixture(scope="module")
def task():
    return load_task(TASK)


def _space(task, **options):
    return make_space("nb201", task.input_shape, task.output_dim, cells_per_stage=1, channels=8, **options)


def test_supernet_mixes_every_choice_and_prices_it_in_macs(task):
    space = _space(task)
    net = space.supernet(seed=0)
    out = net(torch.from_numpy(task.x_train[:5].copy()))
    assert out.shape == (5, task.output_dim)
    macs = net.choice_cost.numpy()
    none, skip, conv1, conv3 = (OPS.index(op) for op in ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3"))
    assert np.all(macs[:, none] == 0) and np.all(macs[:, skip] == 0) and np.all(macs[:, conv3] > macs[:, conv1])
    assert np.all(macs[:, conv1] > 0)
    with torch.no_grad():  # all weight on the 3x3 convolutions: their MACs, the ones a built network adds
        net.alphas.fill_(-30.0)
        net.alphas[:, conv3] = 30.0
    assert net.expected_cost().item() == pytest.approx(macs[:, conv3].sum(), rel=1e-6)
    net.alphas.data.zero_()
    net.expected_cost().backward()
    assert net.alphas.grad[:, conv3].gt(0).all() and net.alphas.grad[:, none].lt(0).all()
    with pytest.raises(SpaceError, match="has no supernet.*use space 'mbv3' or 'nb201'"):
        make_space("mlp", (6,), 3).supernet()


def test_constructing_darts_leaves_the_global_rng_alone(task):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    DartsStrategy(_space(task), n_objectives=2, n_constraints=0, evaluations=3, seed=0, task=task)
    assert torch.equal(torch.rand(3), expected)


def test_a_cost_penalty_moves_the_search_to_cheaper_cells(task):
    space = _space(task)
    strategy = DartsStrategy(space, n_objectives=2, n_constraints=0, evaluations=8, seed=0, task=task,
                             penalties=[0, 20], warmup_epochs=1, search_epochs=3)
    genomes = all_proposals(strategy)
    assert genomes.shape == (8, space.n_genes) and len({tuple(g) for g in genomes}) == 8
    assert all(space.degenerate(space.decode(g)) is None for g in genomes)
    assert strategy.ask() is None  # the budget is spent
    macs = {p: float((probs * strategy_macs(space)).sum()) for p, probs in strategy.probabilities.items()}
    assert macs[20.0] < 0.75 * macs[0.0]
    # proposals alternate between the penalties, each penalty's most likely architecture first
    for i, probs in enumerate(strategy.probabilities.values()):
        best = probs.argmax(axis=1)
        if space.degenerate(space.decode(best)) is None:
            assert tuple(genomes[i]) == tuple(best)


def test_a_penalty_whose_proposals_break_the_budgets_proposes_no_more(task, capsys):
    from hwnas.search.strategies.common import key

    space = _space(task)
    strategy = DartsStrategy(space, n_constraints=1, evaluations=12, n_objectives=2, task=task, penalties=[0, 20],
                             warmup_epochs=1, search_epochs=3, seed=0)
    penalty_of = lambda g: strategy.source[key(g)]  # noqa: E731
    proposals = all_proposals(strategy, over=lambda g: penalty_of(g) == 0.0)  # penalty 0's are all too big
    assert len(proposals) == 12 and strategy.dropped == {0.0}
    assert sum(penalty_of(g) == 0.0 for g in proposals) == 3  # then only penalty 20 proposes
    assert "darts: penalty 0 proposes no more: its last 3 proposals were over budget" in capsys.readouterr().err


def test_failed_proposals_are_not_taken_for_over_budget(task, capsys):
    # a failed evaluation (exception, NaN, timeout) has no metrics, so its violations are
    # FAILED_VALUE: darts counted it as over budget and dropped the penalty, saying so
    from hwnas.search.objectives import FAILED_VALUE
    from hwnas.search.strategies.common import key

    strategy = DartsStrategy(_space(task), n_constraints=1, evaluations=12, n_objectives=2, task=task,
                             penalties=[0, 20], warmup_epochs=1, search_epochs=3, seed=0)
    proposals = []
    while (genomes := strategy.ask()) is not None:
        failed = [strategy.source[key(g)] == 0.0 for g in genomes]  # penalty 0's all fail
        strategy.tell(genomes, np.zeros((len(genomes), 2)),
                      np.array([[FAILED_VALUE if f else -1.0] for f in failed]))
        proposals += list(genomes)
    assert len(proposals) == 12 and not strategy.dropped
    assert sum(strategy.source[key(g)] == 0.0 for g in proposals) > 3
    assert "over budget" not in capsys.readouterr().err


def test_architectures_priced_over_a_budget_before_training_are_skipped_not_proposed(task, capsys):
    space = _space(task)
    over = lambda g: OPS[int(g[0])] != "none"  # noqa: E731 - priced over: anything on the first edge
    strategy = DartsStrategy(space, n_constraints=1, evaluations=10, n_objectives=2, task=task, penalties=[0, 20],
                             warmup_epochs=1, search_epochs=3, seed=0, over_budget=over)
    proposals = all_proposals(strategy)
    assert len(proposals) == 10 and not any(over(g) for g in proposals)
    assert re.search(r"darts: skipped \d+ ranked architectures priced over the budgets before training",
                     capsys.readouterr().err)


def test_darts_spends_no_evaluation_on_an_architecture_a_budget_rules_out(tmp_path):
    # a params budget the search prices before training (counts): every proposal meets it
    cfg = config_from_dict({"task": TASK, "space": {"name": "nb201", "cells_per_stage": 1, "channels": 8},
                            "estimator": {"name": "proxy-trainer", "epochs": 1},
                            "cost": {"models": ["counts"], "target": "cpu-ort-1t"},
                            "budgets": {"max_params": 19000},
                            "search": {"strategy": "darts", "evaluations": 4, "seed": 0, "objectives": ["error", "params"],
                                       "darts": {"penalties": [0, 1], "warmup_epochs": 1, "search_epochs": 1}}})
    summary = run_search(cfg, tmp_path / "d", progress=False)
    with open(tmp_path / "d" / "evaluations.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert summary.evaluations == len(rows) > 0
    assert all(r["status"] == "ok" and float(r["params"]) <= 19000 for r in rows), rows


def strategy_macs(space):
    return space.supernet().choice_cost.numpy()


def test_choices_priced_on_a_target_in_milliseconds(task):
    from hwnas.cost import Target
    from hwnas.space.supernet import latency_cost

    space = _space(task)
    net = space.supernet()
    target = Target(name="cpu-ort-1t", execution_provider="CPUExecutionProvider", intra_op_threads=1,
                    warmup_runs=2, passes=5, runs_per_pass=5)
    net.price(latency_cost(target), "ms")
    ms = net.choice_cost.numpy()
    none, skip, conv3 = (OPS.index(op) for op in ("none", "skip_connect", "nor_conv_3x3"))
    assert ms.shape == (space.n_genes, len(OPS)) and np.all(ms >= 0)
    assert np.all(ms[:, skip] == 0) and np.all(ms[:, conv3] > ms[:, none]) and np.all(ms[:, none] >= 0)
    assert np.allclose(ms, ms[0])  # every edge of a cell sees the same shapes
    strategy = DartsStrategy(space, n_objectives=2, n_constraints=0, evaluations=3, seed=0, task=task,
                             target=target, penalties=[0.1], warmup_epochs=0, search_epochs=1)
    assert strategy.cost == "latency_ms" and len(all_proposals(strategy)) == 3  # auto: the target's milliseconds


def test_darts_runs_through_the_search_loop_repeats_itself_and_resumes(tmp_path, monkeypatch):
    data = {"task": TASK, "space": {"name": "nb201", "cells_per_stage": 1, "channels": 8},
            "estimator": {"name": "proxy-trainer", "epochs": 1, "seed": 0},
            "cost": {"target": "cpu-ort-1t", "models": ["counts"]},
            "search": {"strategy": "darts", "objectives": ["error", "macs"], "evaluations": 5, "seed": 0,
                       "warmup_epochs": 1, "search_epochs": 1, "penalties": [0, 5], "cost": "macs"}}

    def archs(run_dir):
        with open(run_dir / "evaluations.csv") as fh:
            return [r["arch"] for r in csv.DictReader(fh)]

    for name in ("a", "b"):
        summary = run_search(config_from_dict(data), tmp_path / name, progress=False)
        assert summary.evaluations == 5 and summary.failed == 0 and summary.front
    assert archs(tmp_path / "a") == archs(tmp_path / "b") and len(set(archs(tmp_path / "a"))) == 5
    interrupt_at(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        run_search(config_from_dict(data), tmp_path / "cut", progress=False)
    monkeypatch.undo()
    resumed = run_search(config_from_dict(data), tmp_path / "cut", resume=True, progress=False)
    assert resumed.new_evaluations == 3 and archs(tmp_path / "cut") == archs(tmp_path / "a")


def test_darts_errors_name_the_value_and_the_fix(task, tmp_path):
    space = _space(task)
    common = dict(n_objectives=2, n_constraints=0, evaluations=4, seed=0, task=task)
    for bad in ([-1], [float("inf")]):
        with pytest.raises(ConfigError, match=r"penalties = .* must be a non-empty list of finite numbers >= 0"):
            DartsStrategy(space, penalties=bad, **common)
    for option in ("lr", "arch_lr"):
        with pytest.raises(ConfigError, match=rf"\] {option} = inf must be a finite number in \(0, 10\]"):
            DartsStrategy(space, **{option: float("inf")}, **common)
    with pytest.raises(ConfigError, match="search_epochs = 0 must be an integer >= 1"):
        DartsStrategy(space, search_epochs=0, **common)
    with pytest.raises(ConfigError, match="cost = 'flops' must be 'auto', 'macs' or 'latency_ms'"):
        DartsStrategy(space, cost="flops", **common)
    with pytest.raises(ConfigError, match=r"cost = 'latency_ms' times the choices on the \[cost\] target.*none"):
        DartsStrategy(space, cost="latency_ms", **common)
    regression = Task("noise", task.x_train, np.zeros(len(task.x_train), np.float32), task.x_val,
                      np.zeros(len(task.x_val), np.float32), num_classes=0)
    with pytest.raises(ConfigError, match="trains a classifier; task 'noise' is a regression"):
        DartsStrategy(space, **{**common, "task": regression})
    table = tmp_path / "nb201.csv"
    write_nb201_table(table)
    config = table_search_config(space="nb201", table=table, arch_column="arch_str", accuracy_column="acc",
                                 costs={"latency_ms": "lat"}, strategy="darts", evaluations=4, seed=0)
    with pytest.raises(ConfigError, match="strategy 'darts' trains on the task's data.*add a \\[task\\]"):
        run_search(config, tmp_path / "run", progress=False)


def test_a_supernet_that_diverges_is_one_error_naming_the_rates(task, monkeypatch):
    space = _space(task)
    darts = DartsStrategy(space, n_objectives=2, n_constraints=0, evaluations=4, seed=0, task=task,
                          warmup_epochs=0, search_epochs=1, penalties=[0.1])
    monkeypatch.setattr(DartsStrategy, "_epochs", lambda self, *a: float("nan"))
    with pytest.raises(ConfigError, match=r"supernet diverged under penalty 0.1 .* lower \[search\] lr = 0.025 or "
                                          r"arch_lr = 0.05, or that penalty"):
        darts.ask()


def test_auto_prices_what_the_search_trades(task, capsys):
    from hwnas.cost import load_target

    space, target = _space(task), load_target("cpu-ort-1t")
    common = dict(n_objectives=2, n_constraints=0, evaluations=4, seed=0, task=task, target=target)
    assert DartsStrategy(space, search_metrics=("error_pct", "macs"), **common).cost == "macs"
    assert DartsStrategy(space, search_metrics=("error_pct", "latency_ms"), **common).cost == "latency_ms"
    assert DartsStrategy(space, search_metrics=("error_pct", "latency_ms"), latency_model="table",
                         **common).cost == "latency_ms"
    assert "latency_ms comes from cost model 'table'" in capsys.readouterr().err
