"""Zero-cost proxies: the papers' properties, determinism, bad inputs, the two estimators."""

import csv
import random

import numpy as np
import pytest
import torch
from torch import nn

from hwnas.config import config_from_dict
from hwnas.estimate import ESTIMATORS, PROXIES, score_model
from hwnas.estimate.zero_cost import (
    Batch,
    PreFilteredTrainer,
    PreFilterRejection,
    ZeroCostEstimator,
    proxy_batch,
)
from hwnas.exceptions import ConfigError, RegistryError
from hwnas.space import make_space

from .conftest import small_cnn, small_mlp


def mlp(width: int, depth: int = 2) -> nn.Sequential:
    layers, c = [nn.Flatten()], 64
    for _ in range(depth):
        layers += [nn.Linear(c, width), nn.ReLU()]
        c = width
    return nn.Sequential(*layers, nn.Linear(c, 10))


@pytest.fixture(scope="module")
def batch(digits_task):
    return proxy_batch(digits_task, 32, seed=0)


def test_every_proxy_is_finite_and_deterministic_on_an_mbv3_net(digits_task, batch):
    space = make_space("mbv3", digits_task.input_shape, digits_task.output_dim, widths=[0.5], depths=[1])
    net = space.build(space.smallest())
    before = [p.detach().clone() for p in net.parameters()]
    torch.manual_seed(123)
    state = torch.get_rng_state()
    for name in PROXIES.names():
        first = score_model(name, net, batch, seed=3)
        assert np.isfinite(first), name
        assert score_model(name, net, batch, seed=3) == first, name
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left alone
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))  # the model too


def test_the_seed_sets_the_initialisation(batch):
    assert score_model("snip", small_cnn(), batch, seed=0) != score_model("snip", small_cnn(), batch, seed=1)


def test_synflow_and_params_ignore_the_data_while_naswot_reads_it(digits_task, batch):
    noise = Batch(torch.randn_like(batch.inputs) * 5, batch.targets.flip(0), 10)
    for name in ("synflow", "params"):
        assert not PROXIES.get(name).uses_data
        assert score_model(name, small_cnn(), batch) == score_model(name, small_cnn(), noise)
    assert score_model("naswot", small_cnn(), batch) != score_model("naswot", small_cnn(), noise)


def test_synflow_conserves_flow_through_a_linear_chain(batch):
    # Tanaka et al.: with |weights| and no biases every layer carries the same total synaptic
    # flow R (the summed output), so the score of a 2-layer chain is exactly 2R.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 5, bias=False), nn.Linear(5, 3, bias=False))
    w1, w2 = (m.weight.detach().abs().double() for m in (net[1], net[2]))
    flow = float((w2 @ w1 @ torch.ones(64, dtype=torch.float64)).sum())
    assert PROXIES.get("synflow").fn(net, batch) == pytest.approx(2 * flow, rel=1e-12)


def test_synflow_runs_batch_norm_as_an_identity(batch):
    # The score with BN equals the paper's BN-free copy (up to BN's 1/sqrt(1 + eps)).
    with_bn = small_cnn()
    without = nn.Sequential(*[m for m in with_bn if not isinstance(m, nn.BatchNorm2d)])
    a, b = score_model("synflow", with_bn, batch), score_model("synflow", without, batch)
    assert a == pytest.approx(b, rel=1e-4)
    assert a > 0


def test_naswot_prefers_a_wide_net_and_rejects_a_collapsed_one(batch):
    scores = [score_model("naswot", mlp(w), batch) for w in (32, 64, 256)]
    assert scores == sorted(scores) and scores[0] < scores[-1] - 50
    collapsed = mlp(256)
    torch.nn.init.zeros_(collapsed[1].weight)  # every input gives the same codes
    with pytest.raises(FloatingPointError, match="singular"):
        PROXIES.get("naswot").fn(collapsed, batch)


def test_a_network_too_narrow_for_the_naswot_batch_is_told_apart_from_a_collapsed_one(digits_task, batch):
    # 12 units in one layer: a kernel of rank <= 13 over 32 inputs, singular whatever the weights
    with pytest.raises(FloatingPointError, match=r"^naswot kernel is singular: 12 activation units in 1 layer\(s\) give "
                                                 r"it rank at most 13, below the batch of 32 inputs; score it on "
                                                 r"fewer than 13 inputs \(e\.g\. 6: zero-cost's batch_size, "
                                                 r"zero-cost-filtered's proxy_batch_size\), or use another proxy$"):
        PROXIES.get("naswot").fn(mlp(12, depth=1), batch)
    assert np.isfinite(PROXIES.get("naswot").fn(mlp(12, depth=1), proxy_batch(digits_task, 6, seed=0)))


def test_a_too_narrow_network_fails_even_when_rounding_leaves_the_kernel_a_positive_determinant(diabetes_task):
    # 32 units over 64 inputs: rank <= 33, yet slogdet gave sign +1 and a "score" of -940 (rounding noise)
    net = nn.Sequential(nn.Flatten(), nn.Linear(10, 32), nn.LeakyReLU(), nn.Linear(32, 1))
    with pytest.raises(FloatingPointError, match=r"^naswot kernel is singular: 32 activation units in 1 layer\(s\) "
                                                 r"give it rank at most 33, below the batch of 64 inputs"):
        score_model("naswot", net, proxy_batch(diabetes_task, 64, seed=0), seed=0)


def test_naswot_reads_hardswish_by_the_sign_of_its_input(batch):
    relu = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    hswish = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.Hardswish(), nn.Linear(128, 10))
    # Same weights (the activation has none), same pre-activation signs: the same score.
    assert score_model("naswot", relu, batch) == score_model("naswot", hswish, batch)


def test_snip_and_params_grow_with_the_network(batch):
    for name in ("snip", "params"):
        assert score_model(name, mlp(256, 3), batch) > score_model(name, mlp(16, 1), batch), name


def test_snip_and_grad_norm_match_their_definitions(batch):
    torch.manual_seed(0)
    net = mlp(32)
    loss = torch.nn.functional.cross_entropy(net(batch.inputs), batch.targets)
    weights = [net[1].weight, net[3].weight, net[5].weight]
    grads = torch.autograd.grad(loss, weights)
    snip = sum(float((w.detach() * g).abs().sum()) for w, g in zip(weights, grads))
    norm = sum(float(g.norm()) for g in grads)
    assert PROXIES.get("snip").fn(net, batch) == pytest.approx(snip, rel=1e-5)
    assert PROXIES.get("grad-norm").fn(net, batch) == pytest.approx(norm, rel=1e-5)


def test_bad_inputs_raise_one_line_errors(digits_task, batch):
    with pytest.raises(RegistryError, match="did you mean 'naswot'"):
        score_model("nasowt", small_mlp(), batch)
    with pytest.raises(ConfigError, match="no activation layers"):
        score_model("naswot", nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), batch)
    with pytest.raises(ConfigError, match="output_dim=10"):
        score_model("snip", small_mlp(out_features=3), batch)
    with pytest.raises(ConfigError, match=r"batch_size = 1 is invalid; it must be an integer in \[2, "):
        proxy_batch(digits_task, 1)
    with pytest.raises(ConfigError, match=r"cfg \[estimator\].*unknown zero-cost proxy 'snipp'"):
        ESTIMATORS.get("zero-cost").from_options(digits_task, {"proxy": "snipp"}, source="cfg [estimator]")


def test_zero_cost_estimator_gives_zc_score(digits_task):
    est = ZeroCostEstimator(digits_task, proxy="naswot", batch_size=32)
    out = est.estimate("cnn", small_cnn())
    assert set(out) == {"zc_score", "zc_s"} and np.isfinite(out["zc_score"])
    assert est.estimate("cnn", small_cnn()) ["zc_score"] == out["zc_score"]


def test_an_objective_the_estimator_does_not_report_is_refused():
    from hwnas.components import build_components

    config = config_from_dict({"task": {"dataset": "digits"}, "space": {"name": "mlp", "max_layers": 1},
                               "estimator": {"name": "zero-cost"}, "cost": {"models": ["counts"]},
                               "search": {"objectives": ["error", "params"]}})
    with pytest.raises(ConfigError, match="objective 'error' needs the metric 'error_pct'.*proxy-trainer"):
        build_components(config)


def _filtered(task, **kw):
    return PreFilteredTrainer(task, proxy="params", quantile=0.5, warmup=2, epochs=1, max_train_samples=64,
                              batch_size=32, **kw)


def test_pre_filter_trains_until_warm_then_skips_the_bottom_quantile(digits_task):
    est = _filtered(digits_task)
    assert "error_pct" in est.estimate("a", mlp(64))  # warm-up: trained whatever the score
    assert "error_pct" in est.estimate("b", mlp(128))
    with pytest.raises(PreFilterRejection, match=r"^pre-filter: params score 610 below the running "
                                                 r"0\.5-quantile 17546 of 2 scores$"):
        est.estimate("c", mlp(8, 1))
    out = est.estimate("d", mlp(256))
    assert out["zc_score"] == sum(p.numel() for p in mlp(256).parameters()) and out["epochs"] == 1


def test_pre_filter_rejection_is_a_failed_candidate_not_a_crash(digits_task):
    from hwnas.evaluation import Evaluator

    space = make_space("mlp", digits_task.input_shape, 10, max_layers=1, widths=[8, 256], activations=["relu"],
                       dropouts=[0.0])
    est = PreFilteredTrainer(digits_task, proxy="params", quantile=0.5, warmup=1, epochs=1, max_train_samples=64)
    evaluator = Evaluator(space, est, [])
    big, small = np.zeros(space.n_genes, int), np.zeros(space.n_genes, int)
    big[1] = 1
    random.seed(5)
    assert evaluator.evaluate(big).ok
    ev = evaluator.evaluate(small)
    assert ev.status == "failed" and ev.reason.startswith("PreFilterRejection: pre-filter: params score")
    assert ev.metrics["zc_score"] == sum(p.numel() for p in space.build(space.decode(small)).parameters())
    assert random.random() == random.Random(5).random()


def test_a_resumed_pre_filter_reads_the_stored_scores_back(digits_task):
    # the running scores, rejected ones included, come back from the stored rows, so the cut-off
    # after a resume is the uninterrupted run's
    first, resumed = _filtered(digits_task), _filtered(digits_task)
    first.estimate("a", mlp(64))
    first.estimate("b", mlp(128))
    with pytest.raises(PreFilterRejection) as rejected:
        first.estimate("c", mlp(8, 1))
    for metrics in ({"zc_score": first.scores[0], "error_pct": 10.0}, {"zc_score": first.scores[1]},
                    rejected.value.metrics):
        resumed.observe(metrics)
    assert resumed.scores == first.scores and resumed.threshold() == first.threshold()


def test_pre_filter_options_are_validated(digits_task):
    with pytest.raises(ConfigError, match=r"'zero-cost-filtered' has no option\(s\) 'epoch'; valid options: "
                                          r"proxy, quantile, .*epochs"):
        PreFilteredTrainer(digits_task, epoch=2)
    with pytest.raises(ConfigError, match=r"; did you mean 'epochs'\?$"):
        PreFilteredTrainer(digits_task, epoch=2)
    with pytest.raises(ConfigError, match=r"quantile = 1\.5 is invalid; it must be a number in \(0, 1\)"):
        PreFilteredTrainer(digits_task, quantile=1.5)
    with pytest.raises(ConfigError, match="epochs"):
        PreFilteredTrainer(digits_task, epochs=0)
    # a bad proxy batch names the option the user wrote, not the trainer's batch_size
    with pytest.raises(ConfigError, match=r"^zero-cost-filtered: proxy_batch_size = 1 is invalid; it must be an "
                                          r"integer in \[2, "):
        PreFilteredTrainer(digits_task, proxy_batch_size=1)
    with pytest.raises(ConfigError, match=r"^zero-cost: batch_size = 1 is invalid"):
        ZeroCostEstimator(digits_task, batch_size=1)


def test_zero_cost_search_end_to_end(tmp_path):
    from hwnas.search.runner import run_search

    config = config_from_dict({
        "task": {"dataset": "digits"}, "space": {"name": "mlp", "max_layers": 2, "widths": [16, 64, 256],
                                                 "lrs": [0.003], "optimizers": ["adam"], "dropouts": [0.0]},
        "estimator": {"name": "zero-cost", "proxy": "naswot", "batch_size": 32},
        "cost": {"target": "cpu-ort-1t", "models": ["counts"]},
        "search": {"objectives": ["zc_score", "params"], "evaluations": 12, "population": 6, "seed": 0}})
    run_search(config, tmp_path / "run", progress=False)
    with open(tmp_path / "run" / "front.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 2
    scores = [float(r["zc_score"]) for r in rows]
    params = [float(r["params"]) for r in rows]
    # On a front maximising the score and minimising params, more params buy a higher score.
    order = np.argsort(params)
    assert np.all(np.diff(np.array(scores)[order]) > 0)


def test_a_candidate_that_fails_training_after_its_score_keeps_the_score(digits_task, monkeypatch):
    # the running scores hold it, so the stored row must too: a resume reads the scores back
    est = _filtered(digits_task)

    def diverge(*_a, **_k):
        raise FloatingPointError("loss became inf at epoch 1")

    monkeypatch.setattr(est.trainer, "estimate", diverge)
    with pytest.raises(FloatingPointError) as failed:
        est.estimate("a", mlp(64))
    assert failed.value.metrics["zc_score"] == est.scores[0]


def test_a_proxy_on_a_regression_task_is_noted_as_unchecked():
    from hwnas.data import load_task

    regression = load_task({"dataset": "diabetes"})
    note = ZeroCostEstimator(regression, proxy="synflow").advice(20)
    assert note.startswith("zero-cost: proxy 'synflow' was made for classification; how well it ranks networks "
                           "on the regression task 'diabetes' is unchecked")
    assert "hwnas fidelity" in PreFilteredTrainer(regression, warmup=2).advice(20)
    assert ZeroCostEstimator(load_task({"dataset": "digits"})).advice(20) is None


def test_the_default_batch_fits_a_small_training_split():
    # 64 inputs by default; a split of 40 takes all 40 rather than refusing a value the user never gave
    from hwnas.data import load_task

    small = load_task({"dataset": "digits", "max_train_samples": 40})
    assert len(ZeroCostEstimator(small).batch.inputs) == len(small.y_train) <= 64
    assert len(PreFilteredTrainer(small, warmup=2).batch.inputs) == len(small.y_train)
    with pytest.raises(ConfigError, match=r"batch_size = 64 is invalid"):
        ZeroCostEstimator(small, batch_size=64)  # said explicitly: refused
