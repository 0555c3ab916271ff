"""Pareto fronts: non-dominated sets, hypervolume (pymoo), the knee, and pick-under-budget.

Rows are plain mappings of metric column -> value (as in ``evaluations.csv``); objectives are
:class:`hwnas.search.objectives.Objective` declarations, so directions and units come from there.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .exceptions import BudgetError
from .search.objectives import BUDGETS, Objective, is_feasible, minimisation_matrix

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
    return int(np.argmax((1.0 - norm @ normal) / np.linalg.norm(normal)))


def pick(rows: Sequence[Row], objectives: Sequence[Objective], budgets: Mapping[str, float], *,
         required: Mapping[str, float] | None = None) -> int:
    """Choose one row: the best first objective under the budgets, or the knee when none.

    Args:
        rows: successful evaluations (failed ones must be filtered out by the caller).
        objectives: the run's objectives; the first is the one optimised under a budget.
        budgets: budget name -> bound (e.g. ``{"max_latency_ms": 0.3}``).
        required: the run's own budgets (its ``[budgets]``): a row over them is never picked,
            as ``front.csv`` leaves it out; ``budgets`` apply on top.

    Returns:
        Index into ``rows``.

    Raises:
        BudgetError: no row meets the budgets; names the cheapest value seen.
    """
    allowed = [i for i, r in enumerate(rows) if is_feasible(r, required or {})]
    if not allowed:
        raise BudgetError(f"no evaluated architecture meets the run's own budgets "
                          f"({', '.join(f'{k}={v:g}' for k, v in (required or {}).items())}); "
                          f"search longer, or again with looser [budgets]")
    if not budgets:
        front = non_dominated([rows[i] for i in allowed], objectives)
        return allowed[front[knee([rows[allowed[i]] for i in front], objectives)]]
    ok = [i for i in allowed if is_feasible(rows[i], budgets)]
    if not ok:
        parts = []
        for name, bound in budgets.items():
            col = BUDGETS.get(name).column
            seen = [r[col] for r in rows if col in r]
            best = f"{min(seen):.4g}" if seen else "none"
            parts.append(f"{name}={bound:g} (lowest {col} evaluated: {best})")
        raise BudgetError(f"no evaluated architecture meets {', '.join(parts)}; raise the budget")
    # the best first objective; among ties, the best on the next objectives (never a dominated row)
    values = minimisation_matrix([rows[i] for i in ok], objectives)
    return ok[int(np.lexsort(values.T[::-1])[0])]
