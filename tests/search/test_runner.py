"""The search loop with deterministic fakes: outputs, caching, failures, resume by replay."""

import csv
import json
import sys

import pytest

from fakes import interrupt_at
from hwnas.exceptions import ConfigError, StoreError
from hwnas.search.runner import run_search
from hwnas.store import Store


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_search_writes_every_output(tmp_path, make_config):
    summary = run_search(make_config(), tmp_path / "run", progress=False)
    run = tmp_path / "run"
    for name in ("evaluations.csv", "front.csv", "pareto.png", "config.json", "store.sqlite"):
        assert (run / name).is_file(), name
    rows = _rows(run / "evaluations.csv")
    assert len(rows) == summary.evaluations == summary.new_evaluations == 40
    assert len({r["arch"] for r in rows}) == len(rows)  # each architecture evaluated once
    assert [int(r["id"]) for r in rows] == sorted(int(r["id"]) for r in rows)
    assert list(rows[0])[:6] == ["id", "arch", "status", "feasible", "error_pct", "latency_ms"]
    front = _rows(run / "front.csv")
    assert 2 <= len(front) == len(summary.front)
    lat = [float(r["latency_ms"]) for r in front]
    err = [float(r["error_pct"]) for r in front]
    # sorted by the first objective: error rises, latency falls
    assert all(a < b for a, b in zip(err, err[1:])) and all(a > b for a, b in zip(lat, lat[1:]))


def test_budget_is_a_constraint(tmp_path, make_config):
    free = run_search(make_config(), tmp_path / "a", progress=False)
    bound = sorted(e.metrics["latency_ms"] for e in free.front)[len(free.front) // 2]
    summary = run_search(make_config(budgets={"max_latency_ms": bound}), tmp_path / "b", progress=False)
    assert summary.front and all(e.metrics["latency_ms"] <= bound for e in summary.front)
    rows = _rows(tmp_path / "b" / "evaluations.csv")
    assert any(r["feasible"] == "False" for r in rows)  # over-budget ones are recorded, not dropped


def test_a_candidate_priced_over_budget_is_recorded_untrained_and_nsga2_decides_the_same(tmp_path, make_config):
    free = run_search(make_config(), tmp_path / "a", progress=False)
    bound = sorted(e.metrics["latency_ms"] for e in free.front)[len(free.front) // 2]
    first = run_search(make_config(budgets={"max_latency_ms": bound}), tmp_path / "first", progress=False)
    both = run_search(make_config(budgets={"max_latency_ms": bound}, search={"train_over_budget": True}),
                      tmp_path / "both", progress=False)
    rows, trained = _rows(tmp_path / "first" / "evaluations.csv"), _rows(tmp_path / "both" / "evaluations.csv")
    over = [r for r in rows if r["status"] == "over_budget"]
    assert over and first.over_budget == len(over) and first.failed == 0
    assert all(float(r["latency_ms"]) > bound and r["error_pct"] == "" and r["feasible"] == "False"
               and r["reason"].startswith("over budget, not trained: latency_ms ") for r in over)
    weights = {p.name for p in (tmp_path / "first" / "weights").iterdir()}
    assert len(weights) == len(rows) - len(over)  # only the trained ones have weights
    assert both.over_budget == 0 and {r["status"] for r in trained} == {"ok"}
    # constrained domination ranks an infeasible candidate by its violation alone: the same
    # proposals, in the same order, and the same front, with the over-budget ones never trained
    assert [r["arch"] for r in rows] == [r["arch"] for r in trained]
    assert [e.arch for e in first.front] == [e.arch for e in both.front]


def test_a_run_stored_before_budget_first_resumes_training_every_candidate(tmp_path, make_config, monkeypatch):
    free = run_search(make_config(), tmp_path / "a", progress=False)
    bound = sorted(e.metrics["latency_ms"] for e in free.front)[len(free.front) // 2]
    config = make_config(budgets={"max_latency_ms": bound})
    with monkeypatch.context() as m:
        interrupt_at(m, 10)
        with pytest.raises(KeyboardInterrupt):
            run_search(config, tmp_path / "r", progress=False)
    store = Store(tmp_path / "r" / Store.FILE_NAME)
    stored = store.get_meta("config")
    del stored["search"]["train_over_budget"]  # as a run from before the key stored it
    store.set_meta("config", stored)
    store.close()
    run_search(config, tmp_path / "r", resume=True, progress=False)
    rows = _rows(tmp_path / "r" / "evaluations.csv")
    assert len(rows) == 40 and {r["status"] for r in rows[9:]} == {"ok"}  # (the 9 before: budget first)
    assert any(r["feasible"] == "False" for r in rows[9:])  # over budget after the resume, trained as before
    assert json.loads((tmp_path / "r" / "config.json").read_text())["search"]["train_over_budget"] is True


def test_failing_candidates_are_recorded_and_search_goes_on(tmp_path, make_config):
    cfg = make_config(estimator={"fail_substring": "tanh"})
    summary = run_search(cfg, tmp_path / "r", progress=False)
    rows = _rows(tmp_path / "r" / "evaluations.csv")
    failed = [r for r in rows if r["status"] == "failed"]
    assert failed and summary.failed == len(failed) and len(rows) == 40
    assert all("injected failure" in r["reason"] for r in failed)
    assert not any("tanh" in e.arch for e in summary.front)


def test_resume_after_interrupt_evaluates_nothing_twice(tmp_path, make_config, monkeypatch):
    run_search(make_config(), tmp_path / "full", progress=False)
    interrupt_at(monkeypatch, 23)
    with pytest.raises(KeyboardInterrupt):
        run_search(make_config(), tmp_path / "cut", progress=False)
    assert len(Store(tmp_path / "cut" / "store.sqlite")) == 22
    assert len(_rows(tmp_path / "cut" / "evaluations.csv")) == 22  # readable before the resume
    assert (tmp_path / "cut" / "front.csv").is_file() and (tmp_path / "cut" / "pareto.png").is_file()
    monkeypatch.undo()
    resumed = run_search(make_config(), tmp_path / "cut", resume=True, progress=False)
    assert resumed.new_evaluations == 18 and resumed.evaluations == 40
    a = _rows(tmp_path / "full" / "evaluations.csv")
    b = _rows(tmp_path / "cut" / "evaluations.csv")
    drop = lambda rows: [{k: v for k, v in r.items() if k != "duration_s"} for r in rows]  # noqa: E731
    assert drop(a) == drop(b)
    assert _rows(tmp_path / "full" / "front.csv")[0]["arch"] == _rows(tmp_path / "cut" / "front.csv")[0]["arch"]


def test_resume_guards(tmp_path, make_config):
    with pytest.raises(StoreError, match="holds no run to resume"):
        run_search(make_config(), tmp_path / "none", resume=True, progress=False)
    run_search(make_config(search={"evaluations": 8}), tmp_path / "r", progress=False)
    # a Python caller is told the arguments, not the command line's flags
    with pytest.raises(StoreError, match="already holds a search; pass resume=True to continue it or choose "
                                         "another run_dir$"):
        run_search(make_config(search={"evaluations": 8}), tmp_path / "r", progress=False)
    with pytest.raises(StoreError, match=r"differs from the stored run: search.seed: stored 0, given 3; resume "
                                         r"with the same config and flags or start a new run_dir"):
        run_search(make_config(search={"evaluations": 8, "seed": 3}), tmp_path / "r", resume=True, progress=False)


def test_a_budget_or_objective_no_cost_model_computes_is_refused(tmp_path, make_config):
    with pytest.raises(ConfigError, match="budget max_macs needs the metric 'macs', which no cost model"):
        run_search(make_config(budgets={"max_macs": 1e6}, cost={"models": ["fake-latency"]}), tmp_path / "a",
                   progress=False)
    with pytest.raises(ConfigError, match="objective 'params' needs the metric 'params'"):
        run_search(make_config(search={"objectives": ["error", "params"]}, cost={"models": ["fake-latency"]}), tmp_path / "b",
                   progress=False)


def test_a_space_smaller_than_the_budget_says_it_ran_out(tmp_path, make_config, capsys):
    from hwnas.report import print_search_summary

    small = {"max_layers": 1, "widths": [32, 64], "activations": ["relu", "tanh"], "lrs": [1e-3],
             "optimizers": ["adam"], "dropouts": [0.0]}  # 4 architectures
    config = make_config(space=small, search={"strategy": "random", "evaluations": 10})
    del config.search["population"]
    summary = run_search(config, tmp_path / "r", progress=False)
    assert (summary.evaluations, summary.asked) == (4, 10)
    print_search_summary(summary, config)
    assert "space ran out: all 4 architectures of the space are evaluated (10 budgeted)" in \
        capsys.readouterr().out
    enough = make_config(search={"evaluations": 8})
    print_search_summary(run_search(enough, tmp_path / "s", progress=False), enough)
    assert "ran out" not in capsys.readouterr().out


def test_a_target_this_machine_cannot_time_is_refused_before_any_note(tmp_path, capsys):
    import onnxruntime

    from hwnas.cli import main

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine can time on CUDA")
    config = tmp_path / "cuda.toml"
    config.write_text('[task]\ndataset = "digits"\n[space]\nname = "mbv3"\n[estimator]\nname = "fake-accuracy"\n'
                      '[cost]\ntarget = "cuda-ort"\n[search]\nevaluations = 2\n')
    assert main(["search", str(config), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    # no table either: the one line says so, and that timing here is no way out
    assert err.startswith("hwnas: error: no latency table for target cuda-ort") and len(err.strip().splitlines()) == 1, err
    assert "cannot time every candidate instead: target cuda-ort: execution provider 'CUDAExecutionProvider' is not " \
           "available" in err
    assert not (tmp_path / "r").exists()


def test_a_resume_whose_proposals_changed_keeps_the_budget_and_unique_ids(tmp_path, make_config, monkeypatch, capsys):
    import numpy as np

    from hwnas.search.strategies.random import RandomStrategy

    config = make_config(search={"strategy": "random", "evaluations": 12, "batch": 4})
    config.search.pop("population")
    interrupt_at(monkeypatch, 7)
    with pytest.raises(KeyboardInterrupt):
        run_search(config, tmp_path / "r", progress=False)
    monkeypatch.undo()
    real_init = RandomStrategy.__init__

    def other_proposals(self, *args, **kwargs):  # as darts re-timing its choices on resume may do
        real_init(self, *args, **kwargs)
        self.rng = np.random.default_rng(1234)

    monkeypatch.setattr(RandomStrategy, "__init__", other_proposals)
    summary = run_search(config, tmp_path / "r", resume=True, progress=False)
    store = Store(tmp_path / "r" / "store.sqlite")
    rows = store.all()
    store.close()
    assert len(rows) == summary.evaluations == 12
    assert len({ev.id for ev in rows}) == 12  # no number given twice
    assert "stopping at 12" in capsys.readouterr().err


@pytest.mark.parametrize("objectives, evaluations, shown", [
    (["error", "latency_ms"], [{"error_pct": 3.0}, {"error_pct": 1.5}], "best_error=1.5%"),
    (["zc_score", "params"], [{"zc_score": 2.0}, {"zc_score": 7.0}], "best_zc_score=7"),  # maximised
    (["zc_score", "params"], [], ""),
])
def test_the_progress_bar_shows_the_best_of_the_first_objective(make_config, tmp_path, objectives, evaluations,
                                                                 shown):
    from hwnas.evaluation import Evaluation
    from hwnas.search.runner import SearchRun

    estimator = {"name": "zero-cost"} if objectives[0] == "zc_score" else {}
    space = {"lrs": [0.01], "optimizers": ["adam"], "dropouts": [0.0]}
    run = SearchRun(make_config(search={"objectives": objectives}, estimator=estimator, space=space),
                    tmp_path / "run", progress=False)
    seen = {f"a{i}": Evaluation(f"a{i}", [i], "ok", m, id=i) for i, m in enumerate(evaluations)}
    assert run._postfix(seen) == f"feasible={len(seen)} failed=0" + (f" {shown}" if shown else "")


def test_a_run_resumes_from_its_own_config_json(tmp_path, make_config, monkeypatch):
    # config.json holds every option the strategy ran with and the cost models used: the same run
    from hwnas.config import load_config

    interrupt_at(monkeypatch, 10)
    with pytest.raises(KeyboardInterrupt):
        run_search(make_config(search={"evaluations": 16}), tmp_path / "r", progress=False)
    monkeypatch.undo()
    again = load_config(tmp_path / "r" / "config.json")
    assert run_search(again, tmp_path / "r", resume=True, progress=False).evaluations == 16
    changed = load_config(tmp_path / "r" / "config.json")
    changed.search["nsga2"]["crossover_prob"] = 0.5
    with pytest.raises(StoreError, match=r"search.nsga2.crossover_prob: stored 0.9, given 0.5"):
        run_search(changed, tmp_path / "r", resume=True, progress=False)


def test_a_strategy_that_keeps_proposing_seen_architectures_is_stopped(tmp_path, make_config, monkeypatch, capsys):
    from hwnas.search.strategies.random import RandomStrategy

    config = make_config(search={"strategy": "random", "evaluations": 12, "batch": 4})
    config.search.pop("population")
    real_ask, first = RandomStrategy.ask, {}

    def repeats(self):  # a plugin strategy whose ask() never returns None
        return first.setdefault("batch", real_ask(self))

    monkeypatch.setattr(RandomStrategy, "ask", repeats)
    summary = run_search(config, tmp_path / "r", progress=False)
    assert summary.evaluations == 4
    assert "strategy 'random' proposed no new architecture in 10 asks in a row; stopping the search (its ask() " \
           "must return None when done)" in capsys.readouterr().err


def test_a_fresh_run_over_its_budget_is_not_said_to_differ_from_a_stored_run(tmp_path, make_config, monkeypatch,
                                                                           capsys):
    from hwnas.search.strategies.random import RandomStrategy

    config = make_config(search={"strategy": "random", "evaluations": 6, "batch": 4})
    config.search.pop("population")
    real_ask = RandomStrategy.ask

    def past_the_budget(self):  # a plugin strategy that does not count its proposals
        self.evaluations = 100
        return real_ask(self)

    monkeypatch.setattr(RandomStrategy, "ask", past_the_budget)
    assert run_search(config, tmp_path / "r", progress=False).evaluations == 6
    err = capsys.readouterr().err
    assert "the strategy proposed more architectures than its 6 evaluations; stopping at 6" in err
    assert "stored run" not in err


def test_a_re_measured_front_is_kept_in_the_store(tmp_path, make_config, monkeypatch):
    from fakes import FakeLatency

    measured = {"n": 0}

    def verify_front(self, archs):  # as a latency table's model re-measures its predictions
        measured["n"] += 1
        return [{"latency_ms_predicted": 0.5, "latency_ms_measured": float(measured["n"])} for _ in archs]

    monkeypatch.setattr(FakeLatency, "verify_front", verify_front)
    config = make_config(search={"evaluations": 8})
    front = run_search(config, tmp_path / "r", progress=False).front
    with open(tmp_path / "r" / "front.csv") as fh:
        assert {r["arch"]: r["latency_ms_measured"] for r in csv.DictReader(fh)} == {e.arch: "1.0" for e in front}
    store = Store(tmp_path / "r" / Store.FILE_NAME)
    stored = {e.arch: e.metrics for e in store}
    store.close()
    assert all(stored[e.arch]["latency_ms_measured"] == 1.0 and stored[e.arch]["latency_ms_predicted"] == 0.5
               for e in front)
    assert sum("latency_ms_measured" in m for m in stored.values()) == len(front)  # the front only
    run_search(config, tmp_path / "r", resume=True, progress=False)  # re-verified: the store follows
    store = Store(tmp_path / "r" / Store.FILE_NAME)
    assert all(store.get(e.arch).metrics["latency_ms_measured"] == 2.0 for e in front)
    store.close()


def test_an_executor_whose_library_is_missing_is_refused_before_any_work(tmp_path, make_config, monkeypatch):
    import sys

    import hwnas.components
    from hwnas.exceptions import MissingExtraError

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: importing it fails
    # building the parts loads the task and measures a latency table's reference networks
    monkeypatch.setattr(hwnas.components, "build_components", lambda *a, **k: pytest.fail("the parts were built"))
    cfg = make_config(execution={"executor": "ray", "workers": 2})
    with pytest.raises(MissingExtraError, match=r"\[execution\]: ray is not installed .*pip install 'hwnas\[ray\]'"):
        run_search(cfg, tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


@pytest.fixture
def decode_fails():
    """A registered mlp space whose decode() raises for every genome with gene 0 = 1 (a plugin's bug)."""
    from hwnas.space import SPACES
    from hwnas.space.mlp import MLPSpace

    class DecodeFails(MLPSpace):
        def decode(self, genome):
            if int(genome[0]) == 1:
                raise RuntimeError("decode blew up")
            return super().decode(genome)

    SPACES.add("audit-decode-fails", DecodeFails)  # unregistered after the test by conftest
    return "audit-decode-fails"


def test_a_plugin_space_whose_decode_raises_stops_the_search_with_one_line(tmp_path, make_config, decode_fails):
    # raised inside nsga2's sampling (pymoo calls the space): a PluginError naming the plugin's
    # function, with what finished written, not a traceback
    from hwnas.exceptions import PluginError

    with pytest.raises(PluginError, match=r"^strategy 'nsga2': ask\(\) failed in the plugin code "
                                          r".*test_runner\..*DecodeFails\.decode \(line \d+\): RuntimeError: decode "
                                          r"blew up; fix the plugin$"):
        run_search(make_config(space={"name": decode_fails}), tmp_path / "r", progress=False)
    assert (tmp_path / "r" / "evaluations.csv").is_file()


def test_a_genome_a_plugin_space_cannot_decode_is_blamed_on_the_space(tmp_path, make_config, decode_fails,
                                                                      monkeypatch):
    import numpy as np

    from hwnas.exceptions import SpaceError
    from hwnas.search.strategies.nsga2 import NSGA2Strategy

    monkeypatch.setattr(NSGA2Strategy, "ask", lambda self: np.eye(1, self.space.n_genes, dtype=np.int64))
    with pytest.raises(SpaceError, match=r"^space '[^']+' \(.*DecodeFails\) cannot decode the genome "
                                         r"\[1, .*\], which is within its upper_bounds \(RuntimeError: decode blew "
                                         r"up\); its decode\(\) and canonical\(\) must accept every such genome$"):
        run_search(make_config(space={"name": decode_fails}), tmp_path / "r", progress=False)


@pytest.mark.parametrize("key, value", [("evaluations", 0), ("evaluations", "six"), ("objectives", ["eror"])])
def test_a_config_edited_in_a_script_is_validated_again(tmp_path, make_config, key, value):
    # the Python API hands out a RunConfig of plain dicts; an edited one got a ZeroDivisionError
    # or a TypeError from deep inside the search instead of the config's own message
    from hwnas.exceptions import ConfigError

    config = make_config()
    config.search[key] = value
    with pytest.raises(ConfigError, match=r"^<dict> \[search\]"):
        run_search(config, tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


def test_the_summary_front_carries_the_front_s_re_measured_columns(tmp_path, make_config, monkeypatch):
    # front.csv and the store had latency_ms_measured (a table's prediction re-measured); the
    # SearchSummary a script reads did not
    from fakes import FakeLatency

    monkeypatch.setattr(FakeLatency, "verify_front", lambda self, archs: [{"latency_ms_measured": 1.5} for _ in archs])
    summary = run_search(make_config(), tmp_path / "r", progress=False)
    assert summary.front and all(ev.metrics["latency_ms_measured"] == 1.5 for ev in summary.front)
    with open(tmp_path / "r" / "front.csv") as fh:
        assert {row["latency_ms_measured"] for row in csv.DictReader(fh)} == {"1.5"}


def test_the_runner_says_the_strategy_s_notes_once(tmp_path, make_config, capsys):
    config = make_config(search={"evaluations": 8, "population": 8})
    run_search(config, tmp_path / "r", progress=False)
    err = capsys.readouterr().err
    assert err.count("hwnas: note: population = 8 is the whole budget of 8 evaluations: all drawn at random") == 1, err


def test_the_progress_bar_counts_candidates_evaluated_over_a_budget(make_config, tmp_path):
    # a zero-cost score (or --train-over-budget) over a budget is neither feasible, untrained nor
    # failed: the bar said "feasible=1 failed=0" after 2 evaluations
    from hwnas.evaluation import Evaluation
    from hwnas.search.runner import SearchRun

    run = SearchRun(make_config(budgets={"max_params": 1e6}), tmp_path / "run", progress=False)
    seen = {"a0": Evaluation("a0", [0], "ok", {"error_pct": 3.0, "params": 10.0}, id=0),
            "a1": Evaluation("a1", [1], "ok", {"error_pct": 2.0, "params": 2e6}, id=1)}
    assert run._postfix(seen) == "feasible=1 evaluated_over_budget=1 failed=0 best_error=3%"


PRE_FILTERED = """
[task]
dataset = "digits"
[space]
name = "mlp"
max_layers = 1
widths = [16, 64, 256]
lrs = [0.003]
optimizers = ["adam"]
dropouts = [0.0]
[estimator]
name = "zero-cost-filtered"
proxy = "params"
quantile = 0.5
warmup = 2
epochs = 1
max_train_samples = 64
[cost]
target = "cpu-ort-1t"
models = ["counts"]
[search]
objectives = ["error", "params"]
evaluations = 6
population = 3
seed = 0
"""


def test_candidates_the_pre_filter_skipped_are_counted_apart_from_failures(tmp_path, capsys):
    # stored as failed (resume reads them so), but a user reads "failed" as broken
    from hwnas.cli import main

    config = tmp_path / "zcf.toml"
    config.write_text(PRE_FILTERED)
    assert main(["search", str(config), "--out", str(tmp_path / "run")]) == 0
    captured = capsys.readouterr()
    rows = _rows(tmp_path / "run" / "evaluations.csv")
    skipped = sum(r["reason"].startswith("PreFilterRejection: pre-filter:") for r in rows)
    assert skipped and all(r["status"] == "failed" for r in rows if r["reason"])  # the store is as it was
    assert f"0 failed, {skipped} skipped by the pre-filter, " in captured.out, captured.out
    assert f"failed=0 skipped_by_prefilter={skipped} " in captured.err, captured.err


def test_workers_that_cannot_import_a_part_a_notebook_registered_are_refused_first(tmp_path, make_config, monkeypatch):
    # worker processes said "unknown accuracy estimator 'nb-acc' ... load its module with hwnas
    # --plugin", of an estimator this process has: a notebook's __main__ cannot be imported there
    import types

    from hwnas.estimate import ESTIMATORS
    from hwnas.exceptions import ConfigError

    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))  # a notebook's: no file
    cell = {"__name__": "__main__"}
    exec("from fakes import FakeAccuracy\nfrom hwnas.estimate import ESTIMATORS\n"
         "@ESTIMATORS.register('nb-acc')\nclass NbAccuracy(FakeAccuracy):\n    pass\n", cell)
    try:
        config = make_config(estimator={"name": "nb-acc"}, search={"evaluations": 4, "population": 2})
        with pytest.raises(ConfigError, match=r"^<dict> \[execution\]: worker processes cannot build the accuracy "
                                              r"estimator 'nb-acc' registered in __main__ \(a notebook or python "
                                              r"-c\).* or run with workers = 1$"):
            run_search(make_config(estimator={"name": "nb-acc"}, search={"evaluations": 4, "population": 2},
                                   execution={"workers": 2}), tmp_path / "r", progress=False)
        assert not (tmp_path / "r").exists()
        assert run_search(config, tmp_path / "one", progress=False).evaluations == 4  # in this process: fine
    finally:
        ESTIMATORS._items.pop("nb-acc", None)
        ESTIMATORS._origins.pop("nb-acc", None)


def test_a_plugin_strategy_that_skips_strategy_init_still_runs(tmp_path, make_config):
    # Strategy.__init__ sets the notes the runner prints; a plugin owes only ask, tell and
    # computed_options, and such a strategy crashed with AttributeError: 'notes'
    from hwnas.search.strategies.base import STRATEGIES
    from hwnas.search.strategies.random import RandomStrategy

    @STRATEGIES.register("no-super")
    class NoSuper(RandomStrategy):
        def __init__(self, space, **kwargs):  # noqa: D107 - the plugin's own set-up, no super().__init__
            inner = RandomStrategy(space, **kwargs)
            self.__dict__.update({k: v for k, v in vars(inner).items() if k != "notes"})

    config = make_config(search={"strategy": "no-super", "evaluations": 4})
    del config.search["population"]
    assert run_search(config, tmp_path / "r", progress=False).evaluations == 4


def test_a_grid_over_nb201_without_dead_edges_says_the_space_ran_out_at_its_networks(tmp_path, capsys):
    # the report compared the evaluations with the space's 15,625 genomes, so a grid that had
    # evaluated all 12,100 networks said "the strategy found no new architecture"
    from fakes import write_nb201_table

    from hwnas.config import config_from_dict
    from hwnas.report import print_search_summary

    table = tmp_path / "t.csv"
    write_nb201_table(table, blank_every=0)
    config = config_from_dict({
        "space": {"name": "nb201", "dead_edges": "drop"},
        "estimator": {"name": "table", "path": str(table), "arch_column": "arch_str", "accuracy_column": "acc"},
        "cost": {"models": ["table"], "table": {"path": str(table), "arch_column": "arch_str",
                                                "metrics": {"latency_ms": "lat"}}},
        "search": {"strategy": "grid", "objectives": ["error", "latency_ms"], "evaluations": 15625}})
    summary = run_search(config, tmp_path / "r", progress=False)
    assert (summary.evaluations, summary.space_size) == (12100, 12100)
    print_search_summary(summary, config)
    assert "space ran out: all 12100 architectures of the space are evaluated (15625 budgeted)" in capsys.readouterr().out
