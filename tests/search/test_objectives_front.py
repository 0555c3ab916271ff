"""Objectives, budgets, non-dominated sets, knee, pick and hypervolume."""

import numpy as np
import pytest

from hwnas.exceptions import BudgetError, RegistryError
from hwnas.front import hypervolume, knee, latency_figures, non_dominated, optimised_order, pick
from hwnas.search.objectives import (FAILED_VALUE, format_budget, minimisation_matrix, resolve_objectives,
                                     violation_matrix)

OBJ = resolve_objectives(["error", "latency_ms"])
ROWS = [
    {"error_pct": 10.0, "latency_ms": 1.0},
    {"error_pct": 5.0, "latency_ms": 2.0},
    {"error_pct": 2.0, "latency_ms": 4.0},
    {"error_pct": 6.0, "latency_ms": 3.0},   # dominated by row 1
    {"error_pct": 1.5, "latency_ms": 9.0},
]


def test_non_dominated_sorted_by_first_objective():
    assert non_dominated(ROWS, OBJ) == [4, 2, 1, 0]


def test_missing_values_are_failed():
    m = minimisation_matrix([{"error_pct": 1.0}], OBJ)
    assert m[0, 1] == FAILED_VALUE
    v = violation_matrix([{"latency_ms": 2.0}, {}], {"max_latency_ms": 1.5})
    assert v[0, 0] == pytest.approx(0.5 / 1.5) and v[1, 0] == FAILED_VALUE


def test_violations_of_budgets_in_other_units_are_comparable():
    """4x over a latency budget outweighs 0.007 % over a MACs budget (constrained domination sums them)."""
    from hwnas.search.strategies.common import pareto_ranks

    rows = [{"latency_ms": 0.20, "macs": 1.4e6}, {"latency_ms": 0.049, "macs": 1_500_100}]
    v = violation_matrix(rows, {"max_latency_ms": 0.05, "max_macs": 1_500_000})
    assert v[0].tolist() == pytest.approx([3.0, -0.1 / 1.5])
    assert list(pareto_ranks(np.zeros((2, 2)), v)) == [1, 0]


def test_pick_under_budget_and_knee():
    assert pick(ROWS, OBJ, {"max_latency_ms": 4.0}) == 2
    assert pick(ROWS, OBJ, {"max_latency_ms": 1.0}) == 0
    front = [ROWS[i] for i in non_dominated(ROWS, OBJ)]
    assert front[knee(front, OBJ)] == ROWS[2]
    with pytest.raises(BudgetError, match="max_latency_ms=0.5 .lowest latency_ms evaluated: 1"):
        pick(ROWS, OBJ, {"max_latency_ms": 0.5})


@pytest.mark.parametrize("bound", [-1.0, 0.0, float("inf"), float("nan")])
def test_pick_from_python_refuses_a_budget_the_cli_refuses(bound):
    # a negative budget judged every row within it (and picked row 0): the CLI's check was skipped
    from hwnas.exceptions import ConfigError

    with pytest.raises(ConfigError, match=r"^pick: max_latency_ms = .* must be a (positive|finite) number"):
        pick(ROWS, OBJ, {"max_latency_ms": bound})


def test_knee_of_three_objectives_is_farthest_below_the_plane_through_the_extremes():
    obj3 = resolve_objectives(["error", "latency_ms", "params"])
    # extremes (0, .5, .5), (1, 0, 1), (1, 1, 0) span the plane y + z = 1; (.4, .4, .4) lies 0.2 below
    # it, while the smallest coordinate sum would pick the first extreme
    rows = [{"error_pct": e, "latency_ms": lat, "params": p}
            for e, lat, p in [(0, .5, .5), (1, 0, 1), (1, 1, 0), (.4, .4, .4)]]
    assert knee(rows, obj3) == 3
    assert knee(rows[:1], obj3) == 0 and knee([], obj3) == -1


def test_pick_under_budget_breaks_ties_on_the_next_objective():
    rows = [{"error_pct": 3.33, "latency_ms": 0.110}, {"error_pct": 4.0, "latency_ms": 0.05},
            {"error_pct": 3.33, "latency_ms": 0.072}]  # the last dominates the first
    assert pick(rows, OBJ, {"max_latency_ms": 0.12}) == 2


def test_pick_never_takes_a_row_over_the_run_s_own_budgets():
    required = {"max_latency_ms": 3.0}
    front = [ROWS[i] for i in non_dominated(ROWS, OBJ)]
    assert front[knee(front, OBJ)] == ROWS[2]  # 4 ms: over the run's budget
    assert ROWS[pick(ROWS, OBJ, {}, required=required)]["latency_ms"] <= 3.0
    # a looser bound on the command line does not lift the run's own
    assert pick(ROWS, OBJ, {"max_latency_ms": 100.0}, required=required) == 1
    with pytest.raises(BudgetError, match="run's own budgets .max_latency_ms=0.5"):
        pick(ROWS, OBJ, {}, required={"max_latency_ms": 0.5})


def test_hypervolume_of_known_square():
    rows = [{"error_pct": 0.0, "latency_ms": 0.0}]
    assert hypervolume(rows, OBJ, ideal=[0, 0], nadir=[1, 1]) == pytest.approx(1.21)
    assert hypervolume([], OBJ, ideal=[0, 0], nadir=[1, 1]) == 0.0


def test_unknown_objective():
    with pytest.raises(RegistryError, match="did you mean 'latency_ms'"):
        resolve_objectives(["latency"])


def test_accuracy_as_an_objective_points_to_error():
    with pytest.raises(RegistryError, match="unknown objective 'accuracy'; accuracy is the objective 'error' "
                                            r"\(100 − accuracy in %, minimised"):
        resolve_objectives(["accuracy", "latency_ms"])


def test_pick_judges_a_latency_budget_on_the_re_measured_latency():
    rows = [{"error_pct": 2.0, "latency_ms": 0.09, "latency_ms_predicted": 0.09, "latency_ms_measured": 0.12},
            {"error_pct": 4.0, "latency_ms": 0.08, "latency_ms_predicted": 0.08, "latency_ms_measured": 0.095}]
    assert pick(rows, OBJ, {"max_latency_ms": 0.1}) == 1  # the first is predicted under, measured over
    assert latency_figures(rows[1]) == "latency_ms 0.08 predicted, 0.095 measured"
    assert latency_figures(ROWS[0]) is None


def test_the_figures_printed_read_the_measured_column_that_budgets_are_judged_on(monkeypatch):
    from hwnas.front import MEASURED_COLUMNS, judged

    # one declaration of the re-measured column: the printed figures and the budgets follow it
    monkeypatch.setitem(MEASURED_COLUMNS, "latency_ms", "latency_ms_on_device")
    row = {"latency_ms": 0.08, "latency_ms_on_device": 0.095}
    assert latency_figures(row) == "latency_ms 0.08 predicted, 0.095 measured"
    assert judged(row)["latency_ms"] == 0.095
    assert latency_figures({"latency_ms": 0.08, "latency_ms_measured": 0.095}) is None


def test_pick_under_a_budget_optimises_accuracy_when_a_cost_comes_first():
    cost_first = resolve_objectives(["latency_ms", "error"])
    assert pick(ROWS, cost_first, {"max_latency_ms": 4.0}) == 2  # the most accurate under 4 ms, not the fastest
    assert optimised_order(cost_first)[0].name == "error"


def test_budgets_each_met_alone_but_not_together_name_the_closest_row():
    rows = [{"error_pct": 2.0, "latency_ms": 0.068, "params": 9e4},
            {"error_pct": 3.0, "latency_ms": 0.2, "params": 3.2e4},
            {"error_pct": 3.0, "latency_ms": 0.085, "params": 6.5e4}]
    with pytest.raises(BudgetError, match=r"no single evaluated architecture meets max_latency_ms=0.08, "
                                          r"max_params=60000 together; the closest \(latency_ms=0.085, "
                                          r"params=6.5e\+04\) breaks max_latency_ms=0.08, max_params=60000"):
        pick(rows, OBJ, {"max_latency_ms": 0.08, "max_params": 60000})


def test_of_several_budgets_the_refusal_names_only_those_no_row_meets():
    # max_params=1e5 is met by every row: the refusal named it too and said "raise the budget"
    rows = [{"error_pct": 2.0, "latency_ms": 0.068, "params": 9e4},
            {"error_pct": 3.0, "latency_ms": 0.2, "params": 3e4}]
    with pytest.raises(BudgetError) as info:
        pick(rows, OBJ, {"max_latency_ms": 0.01, "max_params": 1e5})
    assert str(info.value) == ("no evaluated architecture meets max_latency_ms=0.01 (lowest latency_ms evaluated: "
                               "0.068); raise the budget")
    with pytest.raises(BudgetError, match=r"max_latency_ms=0.01 .*, max_params=10 .*; raise those budgets$"):
        pick(rows, OBJ, {"max_latency_ms": 0.01, "max_params": 10})


def test_a_budget_none_meets_says_when_latencies_were_re_measured():
    rows = [{"error_pct": 5.0, "latency_ms": 0.09, "latency_ms_predicted": 0.09, "latency_ms_measured": 0.11},
            {"error_pct": 9.0, "latency_ms": 0.12}]
    with pytest.raises(BudgetError, match=r"max_latency_ms=0.1 \(lowest latency_ms \(re-measured where the front "
                                          r"was\) evaluated: 0.11\)"):
        pick(rows, OBJ, {"max_latency_ms": 0.1})


def test_energy_has_a_budget_like_every_other_cost(tmp_path, capsys):
    """energy_mj was an objective but no budget: --max-energy-mj was 'unrecognized' and a table
    search with latency and energy columns could bound only the latency."""
    from fakes import write_nb201_table
    from hwnas.cli import main

    table = tmp_path / "t.csv"
    write_nb201_table(table, blank_every=0)
    run = tmp_path / "r"
    assert main(["search", "--space", "nb201", "--table", str(table), "--arch-column", "arch_str",
                 "--accuracy-column", "acc", "--cost", "latency_ms=lat", "--cost", "energy_mj=energy",
                 "--max-latency-ms", "4", "--max-energy-mj", "6", "--evaluations", "12", "--no-progress",
                 "--out", str(run)]) == 0
    assert "--max-energy-mj 6" in capsys.readouterr().out  # the suggested pick keeps it
    import csv
    with open(run / "front.csv") as fh:
        front = list(csv.DictReader(fh))
    assert front and all(float(r["energy_mj"]) <= 6 and float(r["latency_ms"]) <= 4 for r in front)
    assert main(["pick", str(run), "--max-energy-mj", "5"]) == 0
    assert "under max_energy_mj=5" in capsys.readouterr().out
    assert main(["search", "--space", "nb201", "--table", str(table), "--arch-column", "arch_str",
                 "--accuracy-column", "acc", "--cost", "latency_ms=lat", "--max-energy-mj", "6",
                 "--evaluations", "4", "--out", str(tmp_path / "r2")]) == 2
    assert "budget max_energy_mj needs the metric 'energy_mj'" in capsys.readouterr().err


@pytest.mark.parametrize("value, text", [(1234567, "1234567"), (1234567.0, "1234567"), (0.5, "0.5"),
                                         (0.123456789, "0.123456789"), (1e-06, "1e-06"), (3e20, "3e+20")])
def test_a_budget_is_printed_so_that_it_parses_back_to_the_same_value(value, text):
    assert format_budget(value) == text and float(text) == value  # "{:g}" gave 1.23457e+06


def test_a_budget_none_meets_is_named_exactly():
    with pytest.raises(BudgetError, match=r"max_macs=1234567 \(lowest macs evaluated: 2e\+06\)"):
        pick([{"error_pct": 1.0, "latency_ms": 1.0, "macs": 2e6}], OBJ, {"max_macs": 1234567})



@pytest.mark.parametrize("points", [
    [(0.1, 2.0, 0.2), (0.7, 0.1, 3.0), (1.0, 0.3, 0.1)],
    [(0.1, 0.5, 2.0), (0.3, 0.5, 0.2), (2.0, 0.3, 0.5)],
    [(1.0, 0.5, 0.5, 3.0), (0.2, 2.0, 1.0, 0.1)],  # two points: both extremes, as the docstring says
])
def test_a_knee_tie_among_points_on_the_plane_of_the_extremes_goes_to_the_earliest_row(points):
    # each point is best in some objective, so all lie on the plane through the extremes: a tie,
    # which the rounding of the least-squares normal used to hand to a later row
    objectives = resolve_objectives(["error", "latency_ms", "params", "macs"][:len(points[0])])
    rows = [{o.column: v for o, v in zip(objectives, p)} for p in points]
    assert knee(rows, objectives) == 0
    assert knee(rows[::-1], objectives) == 0


def test_budgets_each_met_alone_by_rows_lacking_the_other_metric_are_refused_not_crashed():
    # each row records one of the budgeted metrics: the closest row lacks the other, which it breaks
    rows = [{"error_pct": 1.0, "latency_ms": 1.0}, {"error_pct": 2.0, "params": 5.0}]
    with pytest.raises(BudgetError, match=r"together; the closest \(latency_ms=1, no params\) breaks max_params=10;"):
        pick(rows, OBJ, {"max_latency_ms": 2.0, "max_params": 10})


def _dominated_volume(points, reference):
    """Exact hypervolume by brute force over the grid the points' coordinates cut (independent of pymoo)."""
    import itertools

    points = np.asarray(points, float).reshape(-1, len(reference))
    points = points[np.all(points < reference, axis=1)]
    if not len(points):
        return 0.0
    cuts = [np.unique(np.append(points[:, j], reference[j])) for j in range(len(reference))]
    volume = 0.0
    for cell in itertools.product(*(range(len(c) - 1) for c in cuts)):
        low = np.array([cuts[j][i] for j, i in enumerate(cell)])
        if np.any(np.all(points <= low, axis=1)):
            volume += float(np.prod([cuts[j][i + 1] - cuts[j][i] for j, i in enumerate(cell)]))
    return volume


def test_front_and_hypervolume_agree_with_pymoo_and_brute_force_on_random_rows():
    """Ties, duplicates, a single row, 1-4 objectives, a maximised one (zc_score), NaN/inf, budgets."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    from hwnas.search.objectives import is_feasible

    rng = np.random.default_rng(0)
    names = ["error", "latency_ms", "params", "zc_score"]
    for _ in range(300):
        objectives = resolve_objectives(list(rng.permutation(names)[:rng.integers(1, 5)]))
        values = rng.integers(0, 4, size=(rng.integers(1, 9), len(objectives))).astype(float)
        rows = [{o.column: float(v) for o, v in zip(objectives, row)} for row in values]
        if rng.random() < 0.3:
            rows[rng.integers(len(rows))][objectives[-1].column] = float(rng.choice([np.nan, np.inf, -np.inf]))
        budgets = {"max_latency_ms": 2.0} if rng.random() < 0.5 else {}
        feasible = [i for i, r in enumerate(rows) if is_feasible(r, budgets)]
        m = minimisation_matrix([rows[i] for i in feasible], objectives)
        front = [feasible[i] for i in non_dominated([rows[i] for i in feasible], objectives)]
        # the feasible non-dominated set of pymoo, each point once, its earliest row, by the first objective
        nds = NonDominatedSorting().do(m, only_non_dominated_front=True) if len(m) else []
        expected = sorted({tuple(m[i]) for i in nds})
        got = minimisation_matrix([rows[i] for i in front], objectives)
        assert sorted(map(tuple, got)) == expected
        assert all(i == min(j for j in feasible if np.array_equal(m[feasible.index(j)], m[feasible.index(i)]))
                   for i in front)
        assert list(got[:, 0]) == sorted(got[:, 0])
        if not front:
            continue
        # hypervolume normalised by the front's ends, reference 1.1: the exact volume, dominated rows adding nothing
        ideal, nadir = got.min(axis=0), got.max(axis=0)
        scale = np.where(nadir > ideal, nadir - ideal, 1.0)
        reference = np.full(len(objectives), 1.1)
        whole = hypervolume([rows[i] for i in feasible], objectives, ideal=ideal, nadir=nadir)
        assert whole == pytest.approx(_dominated_volume((m - ideal) / scale, reference))
        assert hypervolume([rows[i] for i in front], objectives, ideal=ideal, nadir=nadir) == pytest.approx(whole)
        assert knee([rows[i] for i in front], objectives) in range(len(front))


@pytest.mark.parametrize("value, text", [(0.028927331867627536, "0.02893"), (1234567.3, "1235000"), (1.2, "1.2"),
                                         (1.0, "1"), (99999.99, "100000"), (0.1 + 0.2, "0.3001")])
def test_a_suggested_budget_is_short_and_met_when_pasted(value, text):
    from hwnas.search.objectives import budget_at_least

    assert budget_at_least(value) == text and float(text) >= value
