"""hwnas.evaluation: a built model's initial weights depend on its architecture alone."""

from __future__ import annotations

import numpy as np
import torch

from hwnas.evaluation import Evaluator
from hwnas.space.base import make_space


class _KeepsBuiltWeights:
    """An estimator that scores the built weights as they are (no re-initialisation)."""

    name = "keeps-built-weights"
    needs_model = True
    trains = False
    metrics = ("error_pct", "accuracy_pct")

    def __init__(self):
        self.first = []

    def estimate(self, arch, model, recipe=None):
        self.first.append(next(model.parameters()).detach().clone())
        return {"accuracy_pct": 50.0, "error_pct": 50.0}


def test_initial_weights_do_not_depend_on_what_was_built_before_or_on_the_callers_torch_state():
    space = make_space("mlp", (64,), 10)
    rng = np.random.default_rng(0)
    a, b = (space.encode(space.sample(rng)) for _ in range(2))
    estimator = _KeepsBuiltWeights()
    evaluator = Evaluator(space, estimator, [])

    assert evaluator.evaluate(a).ok
    torch.manual_seed(123)
    evaluator.evaluate(b)  # another model built in between, under another global seed
    torch.rand(5)
    state = torch.get_rng_state()
    evaluator.evaluate(a)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's torch random state is left alone
    first, _, again = estimator.first
    assert torch.equal(first, again)


class _Cost:
    """A cost model that breaks its promise in a chosen way."""

    name = "broken-cost"
    needs_model = False
    provides = ("latency_ms",)

    def __init__(self, values):
        self.values = values

    def measure(self, arch, model=None):
        return dict(self.values) if isinstance(self.values, dict) else self.values


def test_a_part_that_breaks_its_promise_fails_the_candidate_and_is_named():
    space = make_space("mlp", (64,), 10)
    genome = space.encode(space.sample(np.random.default_rng(0)))

    class _NoError(_KeepsBuiltWeights):
        name = "no-error"
        metrics = ("error_pct", "accuracy_pct")

        def estimate(self, arch, model, recipe=None):
            return {"accuracy_pct": 50.0}

    ev = Evaluator(space, _NoError(), []).evaluate(genome)
    assert ev.status == "failed" and ev.reason == (
        "ValueError: estimator 'no-error' returned no error_pct (it declares error_pct, accuracy_pct)")
    ev = Evaluator(space, _KeepsBuiltWeights(), [_Cost({"latency_ms": float("nan"), "latency_spread_pct": 1.0})]
                   ).evaluate(genome)
    assert ev.status == "failed" and ev.reason == "FloatingPointError: cost model 'broken-cost' returned non-finite " \
                                                  "latency_ms = nan"
    assert ev.metrics["latency_spread_pct"] == 1.0 and ev.metrics["error_pct"] == 50.0  # the finite ones kept
    ev = Evaluator(space, _KeepsBuiltWeights(), [_Cost({"latency": 1.0})]).evaluate(genome)
    assert ev.reason == "ValueError: cost model 'broken-cost' returned no latency_ms (it declares latency_ms)"
    ev = Evaluator(space, _KeepsBuiltWeights(), [_Cost(0.5)]).evaluate(genome)
    assert ev.status == "failed" and ev.reason == ("TypeError: cost model 'broken-cost' returned float, not a dict "
                                                   "of metrics; return {'latency_ms': ...}")
    ev = Evaluator(space, _KeepsBuiltWeights(), [_Cost({"latency_ms": 0.5, "device": "cpu"})]).evaluate(genome)
    assert ev.status == "failed" and ev.reason == ("TypeError: cost model 'broken-cost' returned device = 'cpu', not "
                                                   "a number; return one float per metric")  # not float()'s own words
    assert ev.metrics["latency_ms"] == 0.5 and ev.metrics["error_pct"] == 50.0  # the numbers kept


def test_a_candidate_calling_sys_exit_fails_alone():
    space = make_space("mlp", (64,), 10)
    genome = space.encode(space.sample(np.random.default_rng(0)))

    class _Exits(_KeepsBuiltWeights):
        def estimate(self, arch, model, recipe=None):
            raise SystemExit(3)

    ev = Evaluator(space, _Exits(), []).evaluate(genome)
    assert ev.status == "failed" and ev.reason == "estimator 'keeps-built-weights' raised SystemExit: 3"


def test_a_part_that_raises_is_named_in_the_reason():
    space = make_space("mlp", (64,), 10)
    genome = space.encode(space.sample(np.random.default_rng(0)))

    class _Raises(_KeepsBuiltWeights):
        name = "raises"

        def estimate(self, arch, model, recipe=None):
            raise KeyError("oops")

    class _CostRaises(_Cost):
        def measure(self, arch, model=None):
            raise RuntimeError("oops\nsecond line")

    ev = Evaluator(space, _Raises(), []).evaluate(genome)
    assert ev.status == "failed" and ev.reason == "estimator 'raises' raised KeyError: 'oops'"
    ev = Evaluator(space, _KeepsBuiltWeights(), [_CostRaises({})]).evaluate(genome)
    assert ev.status == "failed" and ev.reason == "cost model 'broken-cost' raised RuntimeError: oops"  # one line


class _Trains(_KeepsBuiltWeights):
    name = "trains"
    trains = True


def test_budgets_first_price_a_training_estimator_s_candidate_before_it_trains():
    space = make_space("mlp", (64,), 10)
    genome = space.encode(space.sample(np.random.default_rng(0)))
    estimator = _Trains()
    over = Evaluator(space, estimator, [_Cost({"latency_ms": 2.0})], budgets={"max_latency_ms": 1.0}).evaluate(genome)
    assert over.status == "over_budget" and not over.ok and over.metrics == {"latency_ms": 2.0}
    assert over.reason == ("over budget, not trained: latency_ms 2 > max_latency_ms 1 (a search with "
                           "--train-over-budget, or [search] train_over_budget = true, trains it)")
    assert over.known_metrics == {"latency_ms": 2.0} and not estimator.first  # never trained
    within = Evaluator(space, estimator, [_Cost({"latency_ms": 0.5})], budgets={"max_latency_ms": 1.0}).evaluate(genome)
    assert within.ok and within.known_metrics == {"latency_ms": 0.5, "accuracy_pct": 50.0, "error_pct": 50.0}
    # a budget no cost model prices, or an estimator that does not train (a table, a proxy): no
    # reordering, every candidate gets its accuracy
    for part, budgets in ((_Trains(), {"max_macs": 1.0}), (_KeepsBuiltWeights(), {"max_latency_ms": 1.0})):
        ev = Evaluator(space, part, [_Cost({"latency_ms": 2.0})], budgets=budgets).evaluate(genome)
        assert ev.ok and ev.metrics["error_pct"] == 50.0
    failed = Evaluator(space, _Trains(), [_Cost({"latency": 2.0})], budgets={"max_latency_ms": 1.0}).evaluate(genome)
    assert failed.status == "failed" and failed.known_metrics == {}


def test_only_the_budgeted_cost_models_see_the_untrained_module():
    space = make_space("mlp", (64,), 10)
    genome = space.encode(space.sample(np.random.default_rng(0)))

    class _Shifts(_Trains):
        def estimate(self, arch, model, recipe=None):
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(1.0)
            return super().estimate(arch, model, recipe)

    class _WeightSum(_Cost):
        name = "weight-sum"
        needs_model = True
        provides = ("params",)

        def measure(self, arch, model=None):
            return {"params": float(sum(p.detach().sum() for p in model.parameters()))}

    built = Evaluator(space, _KeepsBuiltWeights(), [_WeightSum({})]).evaluate(genome).metrics["params"]
    ev = Evaluator(space, _Shifts(), [_Cost({"latency_ms": 0.5}), _WeightSum({})],
                   budgets={"max_latency_ms": 1.0}).evaluate(genome)
    assert ev.ok and ev.metrics["params"] > built + 100  # measured after training, as without budgets


def test_an_over_budget_reason_tells_value_and_bound_apart():
    from hwnas.evaluation import _apart

    assert _apart(0.0329512, 0.03295) == ("0.032951", "0.03295")
    assert _apart(38412.0, 38400.0) == ("38412", "38400")
    assert _apart(2.0, 1.0) == ("2", "1")


def test_messages_count_the_pre_filter_s_skips_apart_from_failures():
    from hwnas.evaluation import FAILED, OVER_BUDGET, PRE_FILTER_REASON, Evaluation, unsuccessful

    skip = Evaluation("a", [0], FAILED, reason=PRE_FILTER_REASON + "naswot score 1 below the running 50th percentile")
    broken = Evaluation("b", [1], FAILED, reason="RuntimeError: boom")
    over = Evaluation("c", [2], OVER_BUDGET, reason="over budget, not trained")
    assert unsuccessful([skip, skip, broken, over]) == ("1 failed, 2 skipped by the pre-filter, "
                                                       "1 over budget and not trained")
    assert unsuccessful([skip, skip]) == "2 skipped by the pre-filter"  # none of them broken
    assert unsuccessful([broken, over]) == "1 failed, 1 over budget and not trained"  # as before
    assert unsuccessful([over]) == "1 over budget and not trained"


def test_why_a_pre_filtered_candidate_has_no_weights_says_skipped_not_failed():
    # hwnas export runs/zcf 4 said "evaluation 4 failed (PreFilterRejection: pre-filter: ...)"
    from hwnas.evaluation import FAILED, PRE_FILTER_REASON, Evaluation, not_usable

    skip = Evaluation("a", [0], FAILED, reason=PRE_FILTER_REASON + "naswot score 627.805 below the running "
                                                                    "0.5-quantile 649.31 of 3 scores", id=4)
    assert not_usable(skip) == ("evaluation 4 was skipped by the pre-filter and not trained (naswot score 627.805 "
                                "below the running 0.5-quantile 649.31 of 3 scores)")
    broken = Evaluation("b", [1], FAILED, reason="RuntimeError: boom", id=5)
    assert not_usable(broken) == "evaluation 5 failed (RuntimeError: boom)"


def test_a_degenerate_architecture_a_plugin_strategy_proposes_fails_untrained():
    # built-in strategies skip them; a plugin's that does not was trained and put on the front
    from hwnas.space.mlp import MLPSpace

    class _Degenerate(MLPSpace):
        def degenerate(self, arch):
            return "one layer" if len(arch.widths) == 1 else None

    space = _Degenerate((64,), 10)
    estimator = _KeepsBuiltWeights()
    ev = Evaluator(space, estimator, []).evaluate(space.encode(space.smallest()))
    assert ev.status == "failed" and not estimator.first  # never built nor trained
    assert ev.reason == ("DegenerateArchitecture: the mlp space calls it degenerate (one layer), so it is not evaluated; "
                         "a strategy must not propose it (skip genomes g whose space.degenerate(space.decode(g)) is "
                         "not None)")


def test_a_space_whose_build_raises_is_named_in_the_reason():
    # the reason was "ValueError: no tanh here", naming no part, where an estimator's or cost model's is named
    from hwnas.space.mlp import MLPSpace

    class _BuildFails(MLPSpace):
        name = "build-fails"

        def build(self, arch):
            if len(arch.widths) == 1:  # the largest builds: the space's size check builds it
                raise ValueError("no tanh here")
            return super().build(arch)

    space = _BuildFails((64,), 10)
    ev = Evaluator(space, _KeepsBuiltWeights(), []).evaluate(space.encode(space.smallest()))
    assert ev.status == "failed" and ev.reason == "space 'build-fails' build() raised ValueError: no tanh here"
