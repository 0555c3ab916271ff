"""compressed.csv semantics: ratios to the parent, slower variants never recommended, best variant, fronts."""

from __future__ import annotations

import pytest

from hwnas.compress.results import (ORIGINAL, best_variants, compare_with_parents, fronts, hypervolumes,
                                    on_parent_scale, read_compressed, write_compressed)
from hwnas.front import pick
from hwnas.search.objectives import resolve_objectives

OBJECTIVES = resolve_objectives(["error", "latency_ms"])


def _row(parent, variant, latency_ms, accuracy_pct, status="ok"):
    return {"parent_arch": parent, "variant": variant, "method": variant.split("0")[0], "status": status,
            "latency_ms": latency_ms, "accuracy_pct": accuracy_pct, "error_pct": 100.0 - accuracy_pct}


@pytest.fixture
def rows():
    rows = [_row("a", ORIGINAL, 0.10, 98.0), _row("a", "prune0.5", 0.06, 97.5), _row("a", "prune0.25", 0.08, 98.2),
            _row("a", "int8-qdq", 0.11, 99.9), _row("a", "broken", 0.0, 0.0, status="failed"),
            _row("b", ORIGINAL, 0.05, 95.0), _row("b", "prune0.5", 0.03, 90.0)]
    compare_with_parents(rows)
    return rows


def test_slower_variants_are_flagged_and_never_recommended(rows):
    by = {(r["parent_arch"], r["variant"]): r for r in rows}
    slow = by["a", "int8-qdq"]
    assert slow["slower_than_parent"] is True and slow["recommended"] is False
    assert slow["latency_ratio"] == pytest.approx(1.1) and slow["accuracy_change_pts"] == pytest.approx(1.9)
    assert by["a", "prune0.5"]["recommended"] is True and by["a", "prune0.5"]["latency_ratio"] == pytest.approx(0.6)
    assert by["a", "broken"]["recommended"] is False and by["a", "broken"]["latency_ratio"] == ""
    assert by["a", ORIGINAL]["recommended"] is False


def test_best_variant_is_the_fastest_within_the_accuracy_drop(rows):
    best = best_variants(rows, max_accuracy_drop_pts=1.0)
    assert best["a"]["variant"] == "prune0.5"  # -0.5 pts, 0.6x
    assert best["b"] is None  # its only variant loses 5 points
    assert best_variants(rows, max_accuracy_drop_pts=0.1)["a"]["variant"] == "prune0.25"


def test_the_combined_front_adds_hypervolume_and_ignores_slower_variants(rows):
    original, combined = fronts(rows, OBJECTIVES)
    assert {r["parent_arch"] for r in original} == {"a", "b"} and all(r["variant"] == ORIGINAL for r in original)
    assert ("a", "int8-qdq") not in {(r["parent_arch"], r["variant"]) for r in combined}  # slower: not on it
    hv = hypervolumes(rows, OBJECTIVES)
    assert hv["combined"] > hv["original"] > 0
    only_parents = [r for r in rows if r["variant"] == ORIGINAL]
    assert hypervolumes(only_parents, OBJECTIVES)["combined"] == hypervolumes(only_parents, OBJECTIVES)["original"]


def test_csv_round_trip(rows, tmp_path):
    write_compressed(tmp_path / "c.csv", rows)
    back = read_compressed(tmp_path / "c.csv")
    assert [r["variant"] for r in back] == [r["variant"] for r in rows]
    assert back[3]["slower_than_parent"] is True and back[1]["latency_ratio"] == pytest.approx(0.6)
    assert best_variants(back)["a"]["variant"] == "prune0.5"


def test_kept_variants_are_the_measured_earlier_rows_of_re_measured_parents(rows):
    from hwnas.compress.results import kept_variants

    new = [_row("a", ORIGINAL, 0.2, 98.0), _row("a", "prune0.5", 0.1, 97.5)]
    kept = kept_variants(rows, new)
    # parent a is re-measured: its other measured variants must be re-timed; b is untouched, broken not measured
    assert [(r["parent_arch"], r["variant"]) for r in kept] == [("a", "prune0.25"), ("a", "int8-qdq")]


def test_fronts_compare_parents_of_different_sessions_on_the_search_s_figures(rows):
    # b was re-timed in a slow session (0.05 -> 0.5 ms); on the search's figures it is still the
    # faster parent, and its variant sits at its ratio (0.6x) of b's search latency
    for r in rows:
        if r["parent_arch"] == "b" and r["status"] == "ok":
            r["latency_ms"] *= 10
    scale = {"a": {"latency_ms": 0.10, "error_pct": 2.0, "accuracy_pct": 98.0},
             "b": {"latency_ms": 0.05, "error_pct": 5.0, "accuracy_pct": 95.0}}
    raw, _ = fronts(rows, OBJECTIVES)
    assert {r["parent_arch"] for r in raw} == {"a"}  # by raw ms, the slow session hides b
    original, combined = fronts(rows, OBJECTIVES, scale)
    assert {r["parent_arch"] for r in original} == {"a", "b"}
    assert ("b", "prune0.5") in {(r["parent_arch"], r["variant"]) for r in combined}
    assert hypervolumes(rows, OBJECTIVES, scale)["original"] > hypervolumes(rows, OBJECTIVES)["original"]


def test_a_hand_edited_cell_that_is_no_number_is_named(rows, tmp_path):
    from hwnas.exceptions import CompressError

    rows[1]["latency_ms"] = "fast"
    write_compressed(tmp_path / "c.csv", rows)
    with pytest.raises(CompressError, match=r"c.csv line 3: latency_ms = 'fast' is not a number"):
        read_compressed(tmp_path / "c.csv")


def test_a_failed_remake_never_replaces_an_earlier_successful_row(rows):
    from hwnas.compress.results import kept_variants, merge_rows

    new = [_row("a", ORIGINAL, 0.2, 98.0), _row("a", "prune0.5", 0.0, 0.0, status="failed"),
           _row("a", "broken", 0.0, 0.0, status="failed")]
    merged = {(r["parent_arch"], r["variant"]): r for r in merge_rows(rows, new)}
    assert merged["a", "prune0.5"]["status"] == "ok" and merged["a", "prune0.5"]["latency_ms"] == 0.06
    assert merged["a", "broken"] is new[2]  # failed before and now: the new reason
    assert ("a", "prune0.5") in {(r["parent_arch"], r["variant"]) for r in kept_variants(rows, new)}  # re-timed


def test_a_regression_summary_reports_r_squared_not_accuracy_points(rows, capsys):
    from pathlib import Path

    from hwnas.compress.pipeline import CompressResult
    from hwnas.report import print_compress_summary
    from hwnas.search.objectives import labelled_for_task

    for r in rows:
        r.setdefault("macs", 1e6)
        r.setdefault("reason", "")
    print_compress_summary(CompressResult(rows, rows, Path("/runs/r"), OBJECTIVES, regression=True))
    out = capsys.readouterr().out
    assert "a: prune0.5  latency x0.60  R² -0.0050" in out and "accuracy" not in out, out
    assert labelled_for_task(OBJECTIVES, True)[0].label == "validation 100·(1 − R²) (lower is better)"
    assert labelled_for_task(OBJECTIVES, False) == OBJECTIVES


def test_a_variant_of_a_re_measured_parent_is_judged_on_the_parent_s_measured_latency():
    # a table-driven run's front row: predicted 0.055 ms, re-measured 0.050 ms; budgets judge the measured
    parent = {"error_pct": 2.0, "accuracy_pct": 98.0, "latency_ms": 0.055, "latency_ms_predicted": 0.055,
              "latency_ms_measured": 0.050}
    variant = {"latency_ratio": 0.7, "accuracy_change_pts": -0.5, "latency_ms": 0.036, "error_pct": 2.5,
               "accuracy_pct": 97.5}
    scaled = on_parent_scale(variant, parent)
    assert scaled["latency_ms"] == pytest.approx(0.0385) and scaled["latency_ms_measured"] == pytest.approx(0.035)
    # 0.035 ms measured-scale meets 0.036; the predicted-scale 0.0385 alone would not
    assert pick([parent, scaled], OBJECTIVES, {"max_latency_ms": 0.036}) == 1
