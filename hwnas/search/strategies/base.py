"""The strategy interface: propose genomes (ask), learn from their objectives (tell).

Strategies see only minimisation-form objective matrices and constraint violations
(``g <= 0`` feasible), produced by :mod:`hwnas.search.objectives`; the runner owns the
store, the cache and the outputs, so every strategy shares them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from ...registry import Registry
from ...space.base import SearchSpace


class Strategy(ABC):
    """Base class of search strategies.

    Args:
        space: the search space.
        n_objectives: number of (minimised) objectives.
        n_constraints: number of budget constraints.
        evaluations: proposals to make in total (the search budget).
        seed: seed of the strategy's own random generator.
        options: strategy-specific options from ``[search]``.
    """

    #: Whether the strategy trains on the task's data itself (gradient search): the runner then
    #: passes ``task=``, ``target=`` (the ``[cost] target``, or None), ``latency_table=`` (the
    #: latency table the search's ``lut`` cost model predicts from, or None), ``search_metrics=``
    #: (the metric columns of the objectives and budgets), ``latency_model=`` (the name of the
    #: cost model giving ``latency_ms``, or None) and ``over_budget=`` (a function telling whether
    #: a genome is priced over a budget before training, or None without such budgets), and a
    #: search without a ``[task]`` (on a table) is refused.
    needs_task = False

    def __init__(self, space: SearchSpace, *, n_objectives: int, n_constraints: int,
                 evaluations: int, seed: int, **options: Any) -> None:
        self.space = space
        self.n_objectives = n_objectives
        self.n_constraints = n_constraints
        self.evaluations = evaluations
        self.seed = seed
        #: one-line notes for the runner to print once the strategy is built (a given option that
        #: makes the search other than it says, e.g. all random), without the ``hwnas: note:`` prefix
        self.notes: list[str] = []

    def computed_options(self) -> dict[str, Any]:
        """Options the strategy derived from others or from the budget (``nsga2``'s population),
        recorded in the run's ``config.json`` with the given options and the defaults; the
        default says none."""
        return {}

    @abstractmethod
    def ask(self) -> np.ndarray | None:
        """The next batch of genomes (rows), or None when the budget is spent."""

    @abstractmethod
    def tell(self, genomes: np.ndarray, objectives: np.ndarray, violations: np.ndarray) -> None:
        """Results for the genomes of the last :meth:`ask`, row for row."""


STRATEGIES: Registry[type[Strategy]] = Registry("search strategy")
