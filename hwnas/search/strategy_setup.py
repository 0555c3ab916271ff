"""A search's strategy built from its config: the registered class, what the runner fixes for it
(objectives, budget, seed; the task and the latency table for one that trains), and the options
it runs with, as the run's config.json records them."""

from __future__ import annotations

import json

from ..config import SEARCH_KEYS, RunConfig
from ..exceptions import ConfigError
from ..registry import construct, option_defaults
from .objectives import BUDGETS
from .strategies import STRATEGIES
from .strategies.base import Strategy


def build_strategy(config: RunConfig, parts, objectives) -> tuple[Strategy, dict]:
    """The run's strategy, and the options it runs with: given, defaulted or derived
    (config.json's ``[search.<strategy>]``).

    Args:
        config: the run's config.
        parts: the run's components (:func:`hwnas.components.build_components`).
        objectives: the run's resolved objectives.

    Raises:
        ConfigError: an unknown strategy, a bad option, or one that trains with no task.
    """
    name = config.search["strategy"]
    strategy_class = STRATEGIES.get(name, where=f"{config.source} [search] strategy")
    fixed = dict(n_objectives=len(objectives), n_constraints=len(config.budgets),
                 evaluations=config.search["evaluations"], seed=config.search["seed"])
    if strategy_class.needs_task:
        if parts.task is None:
            raise ConfigError(f"{config.source} [search] strategy {name!r} trains on the task's data, and this "
                              f"search has none (a table search); add a [task] or use another strategy "
                              f"(nsga2, evolution, ...)")
        tables = [m.table for m in parts.cost_models if m.name == "lut"]
        priced = [o.column for o in objectives] + [BUDGETS.get(b).column for b in config.budgets]
        latency = next((m.name for m in parts.cost_models if "latency_ms" in m.provides), None)
        evaluator = parts.evaluator
        fixed.update(task=parts.task, target=parts.target, latency_table=tables[0] if tables else None,
                     search_metrics=tuple(dict.fromkeys(priced)), latency_model=latency,
                     # costs priced before training: a proposal over a budget can be skipped, not spent
                     over_budget=evaluator.priced_over_budget if evaluator and evaluator.budgets_first else None)
    own_table = f" and [search.{name}]" if isinstance(config.search.get(name), dict) else ""
    strategy = construct(strategy_class, parts.space, options=config.strategy_options(),
                         where=f"{config.source} [search]{own_table}", label=name, fixed=fixed,
                         also=SEARCH_KEYS)
    options = _jsonable({**option_defaults(strategy_class, exclude=["space", *fixed]),
                         **config.strategy_options(), **strategy.computed_options()})
    return strategy, options


def _jsonable(options: dict) -> dict:
    """``options`` as JSON holds them (tuples as lists); a value JSON cannot hold is left out."""
    out = {}
    for name, value in options.items():
        try:
            out[name] = json.loads(json.dumps(value, allow_nan=False))
        except (TypeError, ValueError):
            continue
    return out
