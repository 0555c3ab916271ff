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

    Objectives are normalised to [0, 1] over the front first; with one point it is the knee.
    """
    values = minimisation_matrix(rows, objectives)
    if len(values) <= 2:
        return int(np.argmin(values.sum(axis=1))) if len(values) else -1
    lo, hi = values.min(axis=0), values.max(axis=0)
    norm = (values - lo) / np.where(hi > lo, hi - lo, 1.0)
    # After normalisation the extremes lie on the plane sum(x) = 1; the point farthest below
    # it has the smallest coordinate sum.
    return int(np.argmin(norm.sum(axis=1)))


def pick(rows: Sequence[Row], objectives: Sequence[Objective], budgets: Mapping[str, float]) -> int:
    """Choose one row: the best first objective under the budgets, or the knee when none.

    Args:
        rows: successful evaluations (failed ones must be filtered out by the caller).
        objectives: the run's objectives; the first is the one optimised under a budget.
        budgets: budget name -> bound (e.g. ``{"max_latency_ms": 0.3}``).

    Returns:
        Index into ``rows``.

    Raises:
        BudgetError: no row meets the budgets; names the cheapest value seen.
    """
    if not budgets:
        front = non_dominated(rows, objectives)
        return front[knee([rows[i] for i in front], objectives)]
    ok = [i for i, r in enumerate(rows) if is_feasible(r, budgets)]
    if not ok:
        parts = []
        for name, bound in budgets.items():
            col = BUDGETS.get(name).column
            seen = [r[col] for r in rows if col in r]
            best = f"{min(seen):.4g}" if seen else "none"
            parts.append(f"{name}={bound:g} (lowest {col} evaluated: {best})")
        raise BudgetError(f"no evaluated architecture meets {', '.join(parts)}; raise the budget")
    values = minimisation_matrix([rows[i] for i in ok], objectives[:1])[:, 0]
    return ok[int(np.argmin(values))]
