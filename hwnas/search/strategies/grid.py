"""Grid search: every architecture of a small space, in genome order."""

from __future__ import annotations

import itertools

import numpy as np

from ...exceptions import ConfigError
from ...space.base import SearchSpace
from .base import STRATEGIES, Strategy
from .common import Archive, check_batch, check_int_options


@STRATEGIES.register("grid")
class GridStrategy(Strategy):
    """Exhaustive enumeration (genomes in lexicographic order, each architecture once).

    Stops after ``evaluations`` architectures or when the space is exhausted.

    Options (``[search]``):
        max_grid: refuse spaces with more genomes than this (default 1,000,000).
        batch: architectures proposed per ask (default 64).

    Raises:
        ConfigError: the space is larger than ``max_grid``.
    """

    def __init__(self, space: SearchSpace, *, n_objectives: int, n_constraints: int,
                 evaluations: int, seed: int, max_grid: int = 1_000_000, batch: int = 64) -> None:
        super().__init__(space, n_objectives=n_objectives, n_constraints=n_constraints,
                         evaluations=evaluations, seed=seed)
        check_int_options({"max_grid": (max_grid, 1)})
        size = space.n_genomes
        if size > max_grid:
            raise ConfigError(f"strategy 'grid': space {space.name!r} has {size:,} genomes, more than "
                              f"max_grid = {max_grid:,}; use another strategy (e.g. nsga2) or raise max_grid")
        self.batch = check_batch(batch)
        self.archive = Archive(space)
        self._genomes = itertools.product(*(range(int(u) + 1) for u in space.upper_bounds))
        self.proposed = 0

    def ask(self) -> np.ndarray | None:
        out = []
        while self.proposed < self.evaluations and len(out) < self.batch:
            g = next(self._genomes, None)
            if g is None:
                break
            g = self.archive.canonical(g)
            if self.archive.is_new(g):
                out.append(self.archive.propose(g))
                self.proposed += 1
        return np.array(out) if out else None

    def tell(self, genomes: np.ndarray, objectives: np.ndarray, violations: np.ndarray) -> None:
        pass
