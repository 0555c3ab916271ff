"""The search loop with deterministic fakes: outputs, caching, failures, resume by replay."""

import csv

import pytest

from fakes import interrupt_at
from hwnas.exceptions import BudgetError, StoreError
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


def test_budget_no_architecture_can_meet(tmp_path, make_config):
    with pytest.raises(BudgetError, match="max_latency_ms = 1e-06 cannot be met: the smallest mlp"):
        run_search(make_config(budgets={"max_latency_ms": 1e-6}), tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


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
    with pytest.raises(StoreError, match="already holds a search; pass --resume"):
        run_search(make_config(search={"evaluations": 8}), tmp_path / "r", progress=False)
    with pytest.raises(StoreError, match=r"differs from the stored run in \['search'\]"):
        run_search(make_config(search={"evaluations": 8, "seed": 3}), tmp_path / "r", resume=True, progress=False)


def test_resume_refuses_other_cost_models(tmp_path, make_config):
    # e.g. a latency table appeared between sessions and `latency = "auto"` would now pick it
    run_search(make_config(search={"evaluations": 8}), tmp_path / "r", progress=False)
    store = Store(tmp_path / "r" / "store.sqlite")
    store.set_meta("cost_models", ["counts", "lut"])
    store.close()
    with pytest.raises(StoreError, match=r"used cost models \['counts', 'lut'\].*resume with --latency lut"):
        run_search(make_config(search={"evaluations": 8}), tmp_path / "r", resume=True, progress=False)
