"""Every strategy through the same search loop on a table: outputs, determinism, resume."""

import csv
from pathlib import Path

import numpy as np
import pytest

from fakes import interrupt_at, write_nb201_table
from hwnas.exceptions import ConfigError, RegistryError
from hwnas.search.runner import run_search
from hwnas.search.strategies import STRATEGIES
from hwnas.space import make_space
from hwnas.table import table_search_config

ALL = ["bayes", "evolution", "grid", "nsga2", "random", "reinforce"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("t") / "nb201.csv"
    write_nb201_table(path, drop_every=11)
    return path


def _config(table, strategy, evaluations=30, seed=0, **options):
    return table_search_config(space="nb201", table=table, arch_column="arch_str", accuracy_column="acc",
                               costs={"latency_ms": "lat"}, strategy=strategy, evaluations=evaluations,
                               seed=seed, **options)


def _archs(run_dir):
    with open(run_dir / "evaluations.csv") as fh:
        return [(r["arch"], r["status"], r["latency_ms"]) for r in csv.DictReader(fh)]


def test_registry_lists_every_strategy():
    assert set(ALL) <= set(STRATEGIES.names())
    with pytest.raises(RegistryError, match="did you mean 'nsga2'"):
        STRATEGIES.get("nsga")


@pytest.mark.parametrize("strategy", ALL)
def test_strategy_runs_through_the_loop_and_is_deterministic(table, tmp_path, strategy):
    space = make_space("nb201", None, None)
    summary = run_search(_config(table, strategy), tmp_path / "a", progress=False)
    for name in ("evaluations.csv", "front.csv", "pareto.png", "config.json", "store.sqlite"):
        assert (tmp_path / "a" / name).is_file(), name
    rows = _archs(tmp_path / "a")
    assert len(rows) == summary.evaluations == 30 and len({r[0] for r in rows}) == 30
    assert all(space.canonical(space.parse(a)) == a for a, _, _ in rows)
    assert all(space.degenerate(space.parse(a)) is None for a, _, _ in rows)
    failed = [r for r in rows if r[1] == "failed"]
    assert summary.failed == len(failed) and all(lat == "" for _, _, lat in failed)
    assert summary.front
    run_search(_config(table, strategy), tmp_path / "b", progress=False)
    assert _archs(tmp_path / "b") == rows
    run_search(_config(table, strategy, seed=1), tmp_path / "c", progress=False)
    if strategy != "grid":
        assert _archs(tmp_path / "c") != rows


@pytest.mark.parametrize("strategy", ["nsga2", "evolution", "reinforce", "bayes"])
def test_resume_gives_identical_evaluations(table, tmp_path, monkeypatch, strategy):
    run_search(_config(table, strategy, evaluations=40), tmp_path / "full", progress=False)
    interrupt_at(monkeypatch, 19)
    with pytest.raises(KeyboardInterrupt):
        run_search(_config(table, strategy, evaluations=40), tmp_path / "cut", progress=False)
    monkeypatch.undo()
    resumed = run_search(_config(table, strategy, evaluations=40), tmp_path / "cut", resume=True, progress=False)
    assert resumed.new_evaluations == 22
    assert _archs(tmp_path / "cut") == _archs(tmp_path / "full")


def test_strategies_leave_global_rng_alone(table, tmp_path):
    import random

    import numpy as np
    import torch

    states = random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    for strategy in ("reinforce", "bayes", "evolution"):
        run_search(_config(table, strategy, evaluations=12), tmp_path / strategy, progress=False, outputs=False)
    assert random.getstate() == states[0]
    assert (np.random.get_state()[1] == states[1]).all() and torch.equal(torch.get_rng_state(), states[2])


@pytest.mark.slow
def test_grid_refuses_a_large_space_and_covers_a_small_one(table, tmp_path):
    summary = run_search(_config(table, "grid", evaluations=20000), tmp_path / "all", progress=False, outputs=False)
    assert summary.evaluations == 5 ** 6 - 341  # every non-degenerate cell once


def test_grid_refuses_a_large_space(table, tmp_path):
    with pytest.raises(ConfigError, match="max_grid = 100"):
        run_search(_config(table, "grid", max_grid=100), tmp_path / "g", progress=False)


@pytest.mark.parametrize("strategy", ["grid", "random", "reinforce"])
def test_a_batch_of_zero_is_refused_not_a_search_of_nothing(table, tmp_path, strategy):
    with pytest.raises(ConfigError, match="batch = 0 must be a positive integer"):
        run_search(_config(table, strategy, batch=0), tmp_path / "b", progress=False)


#: hv_fraction of `nsga2` seed 0 after 200 evaluations (random seed 0: 0.8499)
GOLDEN_NSGA2_200 = 0.9847002339215151
REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "nb201" / "nb201_cifar10_hw.csv"


@pytest.mark.skipif(not REAL.is_file(), reason="shared NB201 table not present")
def test_nsga2_golden_on_nb201_edgegpu():
    """Golden: seeded NSGA-II on NB201 test accuracy x edgegpu latency (hwnas bench's problem)."""
    from hwnas.bench import BenchProblem, run_ours

    problem = BenchProblem(REAL, "arch_str", "test_acc_cifar10", "edgegpu_latency")
    assert problem.front_size == 27
    nsga2 = problem.hv_fraction(run_ours(problem, "nsga2", 0, 200))
    random = problem.hv_fraction(run_ours(problem, "random", 0, 200))
    assert nsga2 == pytest.approx(GOLDEN_NSGA2_200, abs=1e-6) and nsga2 > random


def test_reinforce_updates_on_the_genomes_it_sampled_not_their_canonical_form():
    from hwnas.search.strategies.reinforce import ReinforceStrategy
    from hwnas.space import make_space

    space = make_space("mlp", (64,), 10, max_layers=3)
    strategy = ReinforceStrategy(space, n_objectives=2, n_constraints=0, evaluations=16, seed=0, batch=16)
    scored = []
    real = strategy._log_prob
    strategy._log_prob = lambda genomes: (scored.append(np.array(genomes)), real(genomes))[1]
    proposed = strategy.ask()
    strategy.tell(proposed, np.random.default_rng(0).random((len(proposed), 2)), np.zeros((len(proposed), 0)))
    # each scored genome is the sample behind its proposal: the same architecture, and for some the
    # genes of layers the architecture does not have still hold what the controller drew
    assert all(np.array_equal(space.encode(space.decode(s)), p) for s, p in zip(scored[0], proposed))
    assert any(not np.array_equal(s, p) for s, p in zip(scored[0], proposed))


@pytest.mark.parametrize("strategy", [*ALL, "nsga2-surrogate"])
def test_a_small_space_runs_out_only_after_its_last_architecture(strategy):
    # 120 MLPs, 81 of them with 4 layers: drawn gene by gene, each of those is one draw in 324,
    # so the last few were never found and the search ended with the space "exhausted"
    space = make_space("mlp", (4,), 1, max_layers=4, widths=[32, 64, 128], activations=["relu"], lrs=[0.001],
                       optimizers=["adam"], dropouts=[0.0])
    options = {"population": 8} if strategy in ("evolution", "nsga2", "nsga2-surrogate") else {}
    if strategy == "nsga2-surrogate":
        options.update(trees=10, candidates=8)
    search = STRATEGIES.get(strategy)(space, n_objectives=2, n_constraints=0, evaluations=200, seed=0, **options)
    rng = np.random.default_rng(0)
    proposed = []
    while (genomes := search.ask()) is not None:
        proposed += [space.canonical_genome(g) for g in genomes]
        search.tell(genomes, rng.random((len(genomes), 2)), np.zeros((len(genomes), 0)))
    assert len(proposed) == len(set(proposed)) == 120


@pytest.mark.parametrize("strategy, option, value", [
    ("nsga2", "population", 2.5), ("nsga2", "offspring", 0), ("nsga2", "offspring", -1), ("nsga2", "offspring", 2.5),
    ("nsga2", "offspring", True), ("evolution", "sample", 2.5), ("evolution", "sample", True),
    ("evolution", "population", 2.5), ("reinforce", "batch", 2.5), ("reinforce", "batch", True),
    ("reinforce", "hidden", True), ("bayes", "startup", -1), ("bayes", "startup", 2.5),
    ("reinforce", "lr", float("inf")), ("reinforce", "lr", True), ("reinforce", "entropy", float("nan")),
    ("reinforce", "baseline_decay", True), ("reinforce", "hidden", 10**8)])
def test_an_option_of_the_wrong_type_or_range_is_refused_before_the_search(table, tmp_path, strategy, option, value):
    # these crashed mid-search with a traceback, or were taken silently (offspring = 0 ended an
    # nsga2 search after its first generation, reporting that the space ran out)
    with pytest.raises(ConfigError, match=f"{option} = {value!r} must be"):
        run_search(_config(table, strategy, **{option: value}), tmp_path / "o", progress=False)
    assert not (tmp_path / "o").exists()


def test_evolution_takes_a_population_smaller_than_the_default_sample(table, tmp_path):
    summary = run_search(_config(table, "evolution", evaluations=12, population=4), tmp_path / "e", progress=False)
    assert summary.evaluations == 12


def test_bayes_gp_hands_over_a_new_architecture_after_a_few_repeats():
    from hwnas.search.strategies.bayes import BayesStrategy

    space = make_space("nb201", None, None)
    search = BayesStrategy(space, n_objectives=2, n_constraints=0, evaluations=3, seed=0, model="gp")
    first = search.ask()
    search.tell(first, np.ones((1, 2)), np.zeros((1, 0)))
    asks = []
    real = search.study.ask

    def repeating(distributions):  # a GP stuck on the evaluated architecture: each ask was a fit
        asks.append(1)
        search.study.enqueue_trial(dict(zip(search.distributions, (int(v) for v in first[0]))))
        return real(distributions)

    search.study.ask = repeating
    second = search.ask()
    assert not np.array_equal(second, first) and len(asks) <= 10


def test_bayes_gp_is_not_told_a_failed_evaluation_as_a_value():
    # told as 1e12 (FAILED_VALUE), failures swamped the GP's fit: with a budget on the table it
    # then proposed nothing within it
    from hwnas.search.strategies.bayes import BayesStrategy

    space = make_space("nb201", None, None)
    search = BayesStrategy(space, n_objectives=2, n_constraints=1, evaluations=2, seed=0, model="gp")
    search.tell(search.ask(), np.full((1, 2), 1e12), np.full((1, 1), 1e12))
    search.tell(search.ask(), np.ones((1, 2)), -np.ones((1, 1)))
    told = [t.values for t in search.study.trials if t.values is not None]
    assert told == [[1.0, 1.0]]


def test_bayes_gp_learns_the_budget_from_a_candidate_priced_over_it():
    # an over-budget candidate is not trained (hwnas.evaluation): its error is missing, its
    # violation known; told as a failed trial, the GP's constraint model never saw the budget
    from hwnas.search.strategies.bayes import BayesStrategy

    space = make_space("nb201", None, None)
    search = BayesStrategy(space, n_objectives=2, n_constraints=1, evaluations=4, seed=0, model="gp")
    search.tell(search.ask(), np.array([[1e12, 3.0]]), np.array([[2.0]]))  # nothing to impute from yet
    search.tell(search.ask(), np.array([[5.0, 1.0]]), np.array([[-1.0]]))
    search.tell(search.ask(), np.array([[1e12, 4.0]]), np.array([[3.0]]))
    search.tell(search.ask(), np.array([[1e12, 1e12]]), np.array([[1e12]]))  # failed: never a value
    trials = search.study.trials
    assert [t.values for t in trials] == [None, [5.0, 1.0], [5.0, 4.0], None]
    assert trials[2].user_attrs["constraint"] == [3.0]


def test_reinforce_scores_a_failed_candidate_at_minus_one_as_documented():
    from hwnas.search.objectives import FAILED_VALUE
    from hwnas.search.strategies.reinforce import _dominated_share

    archive = np.array([[1.0, 1.0], [2.0, 2.0], [FAILED_VALUE, FAILED_VALUE]])
    cv = np.zeros(3)
    assert _dominated_share(archive[2], 0.0, archive, cv) == 1.0  # not -(the share dominating it)
    assert _dominated_share(archive[0], 0.0, archive, cv) == 0.0
    assert _dominated_share(archive[1], 0.0, archive, cv) == pytest.approx(1 / 3)


def test_evolution_proposes_its_first_population_together_and_the_same_architectures():
    # one batch, so workers evaluate it side by side; the draws are those of one-at-a-time asks
    space = make_space("nb201", None, None)
    evolution = STRATEGIES.get("evolution")
    together = evolution(space, n_objectives=2, n_constraints=0, evaluations=20, seed=4, population=6)
    first = together.ask()
    assert first.shape == (6, space.n_genes)
    one_by_one = evolution(space, n_objectives=2, n_constraints=0, evaluations=20, seed=4, population=6)
    singles = []
    for _ in range(6):
        g = one_by_one.archive.random_unseen(one_by_one.rng)
        singles.append(one_by_one.archive.propose(g))
    assert np.array_equal(first, np.array(singles))
    together.tell(first, np.zeros((6, 2)), np.zeros((6, 0)))
    assert together.ask().shape == (1, space.n_genes)  # then one child at a time


def test_bayes_says_when_its_startup_leaves_the_model_nothing_to_propose(capsys):
    from hwnas.search.strategies.bayes import BayesStrategy

    space = make_space("nb201", None, None)
    err = "\n".join(BayesStrategy(space, n_objectives=2, n_constraints=0, evaluations=8, seed=0).notes)
    assert "startup = 10" in err and "every proposal is random" in err and "startup below 8" in err
    assert BayesStrategy(space, n_objectives=2, n_constraints=0, evaluations=8, seed=0, startup=4).notes == []
    assert capsys.readouterr().err == ""  # said by the runner, not by the strategy


@pytest.mark.parametrize("name", ["nsga2", "nsga2-surrogate"])
def test_a_population_taking_the_whole_budget_is_told_in_the_table_a_config_may_give_it(name):
    # examples/digits.toml gives it in [search.nsga2]: "set [search] population" then read "given both; keep one"
    whole = STRATEGIES.get(name)(make_space("nb201", None, None), evaluations=6, population=16, n_objectives=2,
                                 n_constraints=0, seed=0)
    assert (f"set [search] population below 6 (e.g. population = 3), or [search.{name}] population where the "
            f"config sets it there") in "\n".join(whole.notes)


@pytest.mark.parametrize("name", ["nsga2", "nsga2-surrogate"])
def test_nsga2_on_a_small_budget_breeds_half_and_says_when_a_given_population_takes_it_all(name, capsys):
    space = make_space("nb201", None, None)
    make = STRATEGIES.get(name)
    options = {"n_objectives": 2, "n_constraints": 0, "seed": 0}
    small, large = make(space, evaluations=8, **options), make(space, evaluations=200, **options)
    assert small.population == 4  # not 8: that would be a random search
    assert large.population == 16  # the measured default, unchanged
    assert "note" not in capsys.readouterr().err and small.notes == large.notes == []
    whole = make(space, evaluations=8, population=8, **options)
    assert whole.population == 8  # asked for: kept, and told
    assert "population = 8 is the whole budget of 8 evaluations: all drawn at random" in "\n".join(whole.notes)
    assert "set [search] population below 8 (e.g. population = 4)" in "\n".join(whole.notes)  # no CLI flag
    assert capsys.readouterr().err == ""  # said by the runner, not by the strategy
    # under 3 evaluations no population breeds (the smallest is 2): it said "below 1 (e.g. 2)"
    tiny = "\n".join(make(space, evaluations=1, population=3, **options).notes)
    assert "below 1" not in tiny and "give 3 or more evaluations to breed any" in tiny
    # a note is printed for a Python caller of run_search too: no CLI flag (nor Python-only words) in it
    assert "--evaluations" not in tiny and "config.search" not in tiny


def test_reinforce_samples_a_batch_larger_than_200_from_its_controller():
    # 4 rounds of 50 samples capped the controller at 200 proposals a batch: the rest of a batch
    # of 300 were uniform fill-ins, meant only for a controller stuck on evaluated architectures
    from hwnas.search.strategies.reinforce import ReinforceStrategy

    space = make_space("nb201", None, None)
    strategy = ReinforceStrategy(space, n_objectives=2, n_constraints=0, evaluations=1000, seed=0, batch=300)
    proposed = strategy.ask()
    assert len(proposed) == 300 and len(strategy._sampled) == 300  # every one sampled by the controller


@pytest.mark.parametrize("value", ["1e6", True, 0, 2.5])
def test_grid_refuses_a_max_grid_that_is_not_a_positive_integer(table, tmp_path, value):
    # "1e6" failed comparing int with str, true was taken as max_grid = 1
    with pytest.raises(ConfigError, match=f"max_grid = {value!r} must be an integer >= 1"):
        run_search(_config(table, "grid", max_grid=value), tmp_path / "g", progress=False)


def test_nsga2_falls_back_to_a_generation_of_its_offspring_when_mating_finds_nothing_new():
    from pymoo.core.population import Population

    from hwnas.search.strategies.nsga2 import NSGA2Strategy

    space = make_space("nb201", None, None)
    search = NSGA2Strategy(space, n_objectives=2, n_constraints=0, evaluations=40, seed=0, population=8, offspring=2)
    genomes = search.ask()
    search.tell(genomes, np.random.default_rng(0).random((len(genomes), 2)), np.zeros((len(genomes), 0)))
    search.algorithm.ask = lambda: Population.new()  # mating found nothing new (a small space near its end)
    assert len(search.ask()) == 2  # the offspring asked for, not a whole population of random ones
