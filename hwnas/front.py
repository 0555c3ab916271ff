"""Pareto fronts: non-dominated sets, hypervolume (pymoo), the knee, and pick-under-budget.

Rows are plain mappings of metric column -> value (as in ``evaluations.csv``); objectives are
:class:`hwnas.search.objectives.Objective` declarations, so directions and units come from there.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .exceptions import BudgetError
from .search.objectives import (BUDGETS, Objective, budgets_text, format_budget, is_feasible, minimisation_matrix,
                                violation_matrix)

Row = Mapping[str, float]


def non_dominated(rows: Sequence[Row], objectives: Sequence[Objective]) -> list[int]:
    """Indices of the non-dominated rows (pymoo's non-dominated sorting), duplicates kept once.

    Returns:
        Indices into ``rows`` sorted by the first objective.
    """
    if not rows:
        return []
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    values = minimisation_matrix(rows, objectives)
    front = NonDominatedSorting().do(values, only_non_dominated_front=True)
    _, first = np.unique(values[front], axis=0, return_index=True)
    front = np.asarray(front)[first]
    return [int(i) for i in front[np.argsort(values[front, 0], kind="stable")]]


def hypervolume(rows: Sequence[Row], objectives: Sequence[Objective], *, ideal: Sequence[float],
                nadir: Sequence[float], reference: float = 1.1) -> float:
    """Hypervolume of rows after normalising each objective to [0, 1] between ideal and nadir.

    Args:
        rows: points (any, dominated ones add nothing).
        objectives: which metrics, with their directions.
        ideal: best value of each objective (in minimisation form).
        nadir: worst value of each objective on the reference front.
        reference: reference point coordinate in normalised space.

    Returns:
        The hypervolume (pymoo's HV); 0 when no point beats the reference.
    """
    from pymoo.indicators.hv import HV

    if not rows:
        return 0.0
    ideal_a, nadir_a = np.asarray(ideal, float), np.asarray(nadir, float)
    scale = np.where(nadir_a > ideal_a, nadir_a - ideal_a, 1.0)
    values = (minimisation_matrix(rows, objectives) - ideal_a) / scale
    return float(HV(ref_point=np.full(len(objectives), reference))(values))


def knee(rows: Sequence[Row], objectives: Sequence[Objective]) -> int:
    """Index of the knee of a front: the point farthest below the hyperplane through its extremes.

    Objectives are normalised to [0, 1] over the front first. The extremes are the points best
    in each objective; with two objectives the hyperplane is the line ``x + y = 1``. Ties (and
    a front of one or two points, where every point is an extreme) go to the earliest row.
    """
    values = minimisation_matrix(rows, objectives)
    if len(values) <= 1:
        return len(values) - 1
    lo, hi = values.min(axis=0), values.max(axis=0)
    norm = (values - lo) / np.where(hi > lo, hi - lo, 1.0)
    # the best point in each objective, ties broken by the smallest sum of the others
    extremes = norm[[int(np.lexsort((norm.sum(axis=1), norm[:, j]))[0]) for j in range(norm.shape[1])]]
    # the hyperplane n . x = 1 through them; a degenerate set of extremes (or one whose plane
    # would tilt away from an objective) falls back to the plane sum(x) = 1
    normal = np.linalg.lstsq(extremes, np.ones(len(extremes)), rcond=None)[0]
    if not np.allclose(extremes @ normal, 1.0) or np.any(normal < -1e-9):
        normal = np.ones(norm.shape[1])
    below = (1.0 - norm @ normal) / np.linalg.norm(normal)
    # ties within rounding (points on the plane: each an extreme) go to the earliest row, not to
    # whichever the last bits of the least-squares normal favour
    return int(np.flatnonzero(below >= below.max() - 1e-9)[0])


#: Budgets on these columns are judged on the re-measured figure where a row has it: a table's
#: prediction re-measured on the runtime (``front.csv`` of a latency-table run).
MEASURED_COLUMNS = {"latency_ms": "latency_ms_measured"}


def judged(row: Row) -> dict[str, float]:
    """``row`` as budgets judge it: ``latency_ms`` is the re-measured ``latency_ms_measured`` where
    the row has one (a table-predicted front row re-measured on the runtime), else its own."""
    out = dict(row)
    for column, measured in MEASURED_COLUMNS.items():
        if measured in row:
            out[column] = row[measured]
    return out


def latency_figures(metrics: Row) -> str | None:
    """``"latency_ms 0.0944 predicted, 0.0969 measured"`` for a re-measured row (one of
    :data:`MEASURED_COLUMNS` present), else None; the prediction is ``<column>_predicted``, or the
    column itself."""
    figures = [f"{column} {metrics.get(f'{column}_predicted', metrics.get(column)):.4g} predicted, "
               f"{metrics[measured]:.4g} measured"
               for column, measured in MEASURED_COLUMNS.items() if measured in metrics]
    return "; ".join(figures) or None


def optimised_order(objectives: Sequence[Objective]) -> list[Objective]:
    """The objectives in the order a budgeted pick ranks them: the first estimator-side one
    (``error``, ``zc_score``: what a budget on cost leaves to choose), then the rest in order."""
    first = next((o for o in objectives if o.source == "estimator"), objectives[0] if objectives else None)
    return [first, *(o for o in objectives if o is not first)] if first is not None else []


def pick(rows: Sequence[Row], objectives: Sequence[Objective], budgets: Mapping[str, float], *,
         required: Mapping[str, float] | None = None) -> int:
    """Choose one row: the best estimator-side objective under the budgets, or the knee when none.

    Budgets are judged on :func:`judged` rows (a re-measured latency over the predicted one).

    Args:
        rows: the metrics of successful evaluations (``ev.metrics``; failed ones must be filtered
            out by the caller; from a run read back, :meth:`hwnas.outputs.Run.pick` does it).
        objectives: the run's objectives; under a budget the first estimator-side one (error,
            zc_score) is optimised, the others break ties (:func:`optimised_order`).
        budgets: budget name -> bound (e.g. ``{"max_latency_ms": 0.3}``).
        required: the run's own budgets (its ``[budgets]``): a row over them is never picked,
            as ``front.csv`` leaves it out; ``budgets`` apply on top.

    Returns:
        Index into ``rows``.

    Raises:
        ConfigError: a budget that is not a positive finite number (as the config and CLI refuse it).
        BudgetError: no row meets the budgets; names the cheapest value seen, or, when each
            budget alone is met, the closest row and the budget it breaks.
    """
    from .config import check_budget  # the one check of a budget's value; a Python caller skips the CLI's

    budgets = {name: check_budget(name, bound, "pick") for name, bound in budgets.items()}
    seen_as = [judged(r) for r in rows]
    allowed = [i for i, r in enumerate(seen_as) if is_feasible(r, required or {})]
    if not allowed:
        raise BudgetError(f"no evaluated architecture meets the run's own budgets "
                          f"({budgets_text(required or {})}); "
                          f"search longer, or again with looser [budgets]")
    if not budgets:
        front = non_dominated([rows[i] for i in allowed], objectives)
        return allowed[front[knee([rows[allowed[i]] for i in front], objectives)]]
    ok = [i for i in allowed if is_feasible(seen_as[i], budgets)]
    if not ok:
        raise BudgetError(_none_meets([seen_as[i] for i in allowed], budgets,
                                      re_measured=any(m in r for r in rows for m in MEASURED_COLUMNS.values())))
    # the best estimator-side objective; ties go to the next objectives (never a dominated row)
    values = minimisation_matrix([rows[i] for i in ok], optimised_order(objectives))
    return ok[int(np.lexsort(values.T[::-1])[0])]


def _none_meets(rows: Sequence[Row], budgets: Mapping[str, float], re_measured: bool = False) -> str:
    """Why no row meets ``budgets``: each budget's lowest value, or, when every budget alone is
    met by some row, the row closest to meeting them all and the budget(s) it breaks
    (``re_measured``: some rows are judged on their re-measured latency, which is said)."""
    lowest = {}
    for name in budgets:
        col = BUDGETS.get(name).column
        seen = [r[col] for r in rows if col in r]
        lowest[name] = min(seen) if seen else None
    if len(budgets) > 1 and all(lowest[n] is not None and lowest[n] <= b for n, b in budgets.items()):
        over = np.clip(violation_matrix(rows, budgets), 0.0, None)
        closest = rows[int(np.argmin(over.sum(axis=1)))]
        # a row may lack a budgeted metric (breaking that budget): said, rather than a KeyError
        cols = ", ".join(f"{c}={closest[c]:.4g}" if c in closest else f"no {c}"
                         for c in (BUDGETS.get(n).column for n in budgets))
        broken = budgets_text({n: b for n, b in budgets.items() if not is_feasible(closest, {n: b})})
        return (f"each budget alone is met, but no single evaluated architecture meets "
                f"{budgets_text(budgets)} together; the closest ({cols}) "
                f"breaks {broken}; raise that budget or search longer")
    how = {c: " (re-measured where the front was)" for c in MEASURED_COLUMNS} if re_measured else {}
    # only the budgets no row meets: naming one some rows meet would ask to raise it too
    unmet = {n: b for n, b in budgets.items() if lowest[n] is None or lowest[n] > b}
    parts = [f"{name}={format_budget(bound)} (lowest {BUDGETS.get(name).column}"
             f"{how.get(BUDGETS.get(name).column, '')} evaluated: "
             f"{'none' if lowest[name] is None else f'{lowest[name]:.4g}'})" for name, bound in unmet.items()]
    which = "the budget" if len(unmet) == 1 else "those budgets"
    return f"no evaluated architecture meets {', '.join(parts)}; raise {which}"
