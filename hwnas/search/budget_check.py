"""Budgets no architecture can meet, refused before a search starts: the cheapest architecture
of the space is priced by every cost model, and a budget below its cost names the value that runs."""

from __future__ import annotations

from ..config import RunConfig
from ..exceptions import BudgetError
from ..registry import plugin_modules, raised_in
from .objectives import BUDGETS, budget_at_least, budgets_text, format_budget


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
        except Exception as exc:  # noqa: BLE001 - a plugin's cost model: one line, not a traceback
            where = raised_in(exc, {*plugin_modules(), "__main__"})
            if where is None:
                raise  # hwnas's own: its traceback says where
            raise BudgetError(f"the budgets cannot be checked: cost model {cost.name!r} raised on the cheapest "
                              f"architecture {space.canonical(smallest)} in {where}: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}; its measure() must price every "
                              f"architecture of the space (or drop the budgets)") from None
    for name, bound in config.budgets.items():
        col = BUDGETS.get(name).column
        if col in lowest and lowest[col][0] > bound:
            value, arch = lowest[col]
            raise BudgetError(
                f"{name} = {format_budget(bound)} cannot be met: the cheapest {space.name} architecture "
                f"({arch}) has {col} = {value:.4g}"
                f"{' on target ' + parts.target.name if parts.target else ''}; "
                f"set {BUDGETS.get(name).flag} to {budget_at_least(value)} or more")
    # each budget alone is met; a table knows whether any of its rows meets them all together
    names = {BUDGETS.get(name).column: name for name in config.budgets}
    bounds = {column: config.budgets[name] for column, name in names.items()}
    for cost in parts.cost_models:
        closest = cost.closest_together(space, bounds)
        if closest is None:
            continue
        arch, values = closest
        together = {names[column]: bounds[column] for column in values}
        broken = {column: value for column, value in values.items() if value > bounds[column]}
        raise BudgetError(
            f"{budgets_text(together)} cannot be met together: each alone is met by some {space.name} "
            f"architecture, but none meets them all; the closest ({arch}) has "
            f"{', '.join(f'{column} = {value:.4g}' for column, value in values.items())}; "
            + " and ".join(f"set {BUDGETS.get(names[column]).flag} to {budget_at_least(value)} or more"
                           for column, value in broken.items())
            + " (or drop it)")
