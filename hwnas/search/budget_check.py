"""Budgets no architecture can meet, refused before a search starts: the cheapest architecture
of the space is priced by every cost model, and a budget below its cost names the value that runs."""

from __future__ import annotations

from ..config import RunConfig
from ..exceptions import BudgetError
from .objectives import BUDGETS, format_budget


def check_budgets(config: RunConfig, parts) -> None:
    """Refuse budgets that even the cheapest architecture of the space cannot meet.

    Args:
        config: the run's config (its ``budgets``).
        parts: the run's components (:func:`hwnas.components.build_components`).

    Raises:
        BudgetError: naming the budget, the cheapest architecture and its cost.
    """
    if not config.budgets:
        return
    space = parts.space
    smallest = space.smallest()
    model = space.build(smallest) if any(c.needs_model for c in parts.cost_models) else None
    lowest: dict[str, tuple[float, str]] = {}
    for cost in parts.cost_models:
        try:
            lowest.update(cost.lowest(space, space.canonical(smallest), model))
        except LookupError:  # a table without the smallest architecture: nothing to check
            continue
        except ValueError as exc:  # e.g. a latency table predicting no positive latency for it
            raise BudgetError(f"the budgets cannot be checked: cost model {cost.name!r} fails on the "
                              f"cheapest architecture: {str(exc).splitlines()[0]}") from None
    for name, bound in config.budgets.items():
        col = BUDGETS.get(name).column
        if col in lowest and lowest[col][0] > bound:
            value, arch = lowest[col]
            raise BudgetError(
                f"{name} = {format_budget(bound)} cannot be met: the cheapest {space.name} architecture "
                f"({arch}) has {col} = {value:.4g}"
                f"{' on target ' + parts.target.name if parts.target else ''}; "
                f"set {BUDGETS.get(name).flag} to {format_budget(value)} or more")
