"""Regularized (aging) evolution (Real et al., 2019), multi-objective by Pareto tournaments."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from ...exceptions import ConfigError
from ...space.base import SearchSpace
from .base import STRATEGIES, Strategy
from .common import Archive, check_int_options, pareto_ranks


@STRATEGIES.register("evolution")
class RegularizedEvolution(Strategy):
    """Aging evolution: the population is a queue; each child replaces the oldest member.

    A parent is the winner of a tournament among ``sample`` random members: the member with the
    best constrained Pareto rank within the sample (ties broken at random). The child is the
    parent with one gene changed (an architecture not proposed before).

    Options (``[search]``):
        population: queue length (default 32, at most evaluations / 2).
        sample: tournament size (default 8, at most the population).
    """

    def __init__(self, space: SearchSpace, *, n_objectives: int, n_constraints: int,
                 evaluations: int, seed: int, population: int = 32, sample: int | None = None) -> None:
        super().__init__(space, n_objectives=n_objectives, n_constraints=n_constraints,
                         evaluations=evaluations, seed=seed)
        check_int_options({"population": (population, 2), "sample": (sample, 1)})
        if sample is None:
            sample = min(8, population)
        if sample > population:
            raise ConfigError(f"[search] sample = {sample} must be at most population = {population}")
        self.population = max(2, min(population, evaluations // 2))
        self.sample = min(sample, self.population)
        self.rng = np.random.default_rng(seed)
        self.archive = Archive(space)
        self.queue: deque[int] = deque()  # indices into the archive, oldest first
        self.proposed = 0

    def computed_options(self) -> dict[str, Any]:
        return {"population": self.population, "sample": self.sample}

    def ask(self) -> np.ndarray | None:
        if self.proposed >= self.evaluations:
            return None
        if len(self.queue) < self.population:
            # the first population: random, proposed together so that workers evaluate it side by
            # side (the draws are those one-at-a-time asks would make: telling draws nothing)
            wanted = min(self.population - len(self.queue), self.evaluations - self.proposed)
            batch = []
            for _ in range(wanted):
                g = self.archive.random_unseen(self.rng)
                if g is None:
                    break
                batch.append(self.archive.propose(g))
            if not batch:
                return None
            self.proposed += len(batch)
            return np.array(batch)
        g = None
        if len(self.queue) >= self.population:
            members = list(self.queue)
            picked = self.rng.choice(len(members), size=self.sample, replace=False)
            idx = [members[i] for i in picked]
            ranks = pareto_ranks(np.array([self.archive.objectives[i] for i in idx]),
                                 np.array([self.archive.violations[i] for i in idx]))
            best = np.flatnonzero(ranks == ranks.min())
            parent = self.archive.genomes[idx[int(self.rng.choice(best))]]
            g = self.archive.mutate_unseen(parent, self.rng)
        if g is None:
            g = self.archive.random_unseen(self.rng)
        if g is None:
            return None
        self.proposed += 1
        return self.archive.propose(g)[None, :]

    def tell(self, genomes: np.ndarray, objectives: np.ndarray, violations: np.ndarray) -> None:
        start = len(self.archive.genomes)
        self.archive.record(genomes, objectives, violations)
        for i in range(start, len(self.archive.genomes)):
            self.queue.append(i)
            if len(self.queue) > self.population:
                self.queue.popleft()  # aging: the oldest dies, whatever its fitness
