"""NSGA-II (pymoo) driven by ask/tell, with genome-aware operators and no repeated proposals."""

from __future__ import annotations

from typing import Any

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.operators.crossover.ux import UniformCrossover

from ...space.base import SearchSpace
from ...wording import counted
from ..operators import CanonicalRepair, CanonicalSampling, CategoricalMutation, NoRepeatElimination
from .base import STRATEGIES, Strategy
from .common import Archive, check_int_options, check_number_options


@STRATEGIES.register("nsga2")
class NSGA2Strategy(Strategy):
    """pymoo NSGA-II with constrained domination for budgets.

    Options (``[search]``):
        population: population size (default: ``evaluations // 6`` clipped to 8..16, so a small
            budget still gets at least six generations; 16 from 96 evaluations on; at most half
            the evaluations, so that under 16 some are bred, not all random); at most the
            evaluations (a note says when it takes them all: a random search).
        offspring: offspring per generation (default: the population size; at most the evaluations).
        crossover_prob: probability of uniform crossover per mating (default 0.9).
        mutation_prob: per-gene mutation probability (default pymoo's: min(0.5, 1 / genes), the
            genome's length, inactive genes included).
    """

    def __init__(self, space: SearchSpace, *, n_objectives: int, n_constraints: int,
                 evaluations: int, seed: int, population: int | None = None, crossover_prob: float = 0.9,
                 mutation_prob: float | None = None, offspring: int | None = None) -> None:
        super().__init__(space, n_objectives=n_objectives, n_constraints=n_constraints,
                         evaluations=evaluations, seed=seed)
        check_int_options({"population": (population, 2), "offspring": (offspring, 1)})
        if population is None:
            # measured on NB201 (hwnas bench): 8 beats 16 at 50 evaluations, 16 is best from 200 on;
            # under 16 evaluations half of them are still bred from the first half
            population = min(16, max(8, evaluations // 6), max(2, evaluations // 2))
        elif population >= evaluations:
            # the smallest population is 2: under 3 evaluations no population leaves one to breed
            # the config may give it in either table, and refuses it in both ("given both")
            table = next((f"[search.{n}]" for n in STRATEGIES.names() if STRATEGIES.get(n) is type(self)),
                         "the strategy's own table")
            fix = (f"set [search] population below {evaluations} (e.g. population = {max(2, evaluations // 2)}), "
                   f"or {table} population where the config sets it there"
                   if evaluations > 2 else "give 3 or more evaluations to breed any (the smallest population is 2)")
            self.notes.append(f"population = {population} is the whole budget of "
                              f"{counted(evaluations, 'evaluation')}: all drawn at random, none bred (a random "
                              f"search); {fix}")
        # more than the evaluations would never finish a generation, and pymoo samples the whole
        # first population up front (population = 10**7 would fill the memory)
        population = max(2, min(population, evaluations))
        offspring = None if offspring is None else min(offspring, evaluations)
        check_number_options({"crossover_prob": (crossover_prob, lambda v: 0 <= v <= 1, "in [0, 1]")})
        if mutation_prob is not None:
            check_number_options({"mutation_prob": (mutation_prob, lambda v: 0 < v <= 1, "in (0, 1]")})
        self.seen: set[tuple] = set()
        self.population = population
        self.problem = problem = Problem(n_var=space.n_genes, n_obj=n_objectives, n_ieq_constr=n_constraints,
                                         xl=np.zeros(space.n_genes), xu=space.upper_bounds.astype(float),
                                         vtype=int)
        self.algorithm = NSGA2(
            pop_size=population,
            n_offsprings=offspring,
            sampling=CanonicalSampling(space),
            crossover=UniformCrossover(prob=crossover_prob),
            mutation=CategoricalMutation(space, prob_var=mutation_prob),
            repair=CanonicalRepair(space),
            eliminate_duplicates=NoRepeatElimination(self.seen, space),
        )
        # pymoo's own evaluation counter does not move under ask/tell, so we count proposals.
        self.algorithm.setup(problem, termination=("n_gen", 10**9), seed=seed)
        self.proposed = 0
        self._pending = None
        self.rng = np.random.default_rng(seed)
        self.archive = Archive(space)
        self.archive.seen = self.seen  # one record of what was proposed

    def computed_options(self) -> dict[str, Any]:
        return {"population": self.population}

    def ask(self) -> np.ndarray | None:
        if self.proposed >= self.evaluations:
            return None
        pending = self.algorithm.ask()
        if pending is None or len(pending) == 0:
            pending = self._unseen(self.algorithm.n_offsprings or self.population)  # a generation's worth
        return self._propose(pending)

    def _unseen(self, n: int):
        """Up to ``n`` architectures never proposed, drawn at random, when mating finds none (in a
        small space it stops finding the last few); None when the space is exhausted."""
        self.algorithm.termination.force_termination = False  # pymoo's flag for "mating found nothing new"
        genomes = []
        while len(genomes) < min(n, self.evaluations - self.proposed):
            g = self.archive.random_unseen(self.rng)
            if g is None:
                break
            genomes.append(self.archive.propose(g))
        return Population.new(X=np.array(genomes, dtype=float)) if genomes else None

    def _propose(self, pending) -> np.ndarray | None:
        """Hand out a pymoo population as the next batch (None: nothing new to propose)."""
        if pending is None or len(pending) == 0:
            return None  # the space is exhausted
        # the last generation may be larger than what is left of the budget
        self._pending = pending[: self.evaluations - self.proposed]
        genomes = np.rint(self._pending.get("X")).astype(np.int64)
        self.proposed += len(genomes)
        return genomes

    def tell(self, genomes: np.ndarray, objectives: np.ndarray, violations: np.ndarray) -> None:
        pop = self._pending
        pop.set("F", objectives)
        if self.n_constraints:
            pop.set("G", violations)
        self.seen.update(tuple(g.tolist()) for g in np.asarray(genomes, dtype=np.int64))
        self.algorithm.evaluator.n_eval += len(pop)
        self.algorithm.tell(infills=pop)
