"""Pieces several strategies share: the record of what was proposed and told, unseen-genome
sampling, single-gene mutation and constrained Pareto ranking.

Every strategy proposes each canonical architecture at most once, so ``evaluations`` in the
config is the number of distinct architectures evaluated, whatever the strategy.
"""

from __future__ import annotations

import itertools
import math
from typing import Callable

import numpy as np

from ...space.base import SearchSpace

#: Draws before a sampler gives up looking for an architecture not proposed yet.
MAX_DRAWS = 200
#: Spaces up to this many genomes are listed when MAX_DRAWS draws find nothing new, so a small
#: space runs out only once every architecture was proposed.
MAX_LISTED = 100_000


def check_int_options(options: dict[str, tuple[object, int]]) -> None:
    """Refuse ``[search]`` options that must be integers of at least some value.

    Args:
        options: name -> (value, lowest valid value); a value of None (the default) is skipped.

    Raises:
        ConfigError: ``[search] population = 2.5 must be an integer >= 2`` (bools too).
    """
    from ...exceptions import ConfigError

    for name, (value, low) in options.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            raise ConfigError(f"[search] {name} = {value!r} must be an integer >= {low}")


def check_number_options(options: dict[str, tuple[object, Callable[[float], bool], str]]) -> None:
    """Refuse ``[search]`` options that must be finite numbers in a range.

    Args:
        options: name -> (value, whether a number is in range, the range in words, e.g. ``"> 0"``).

    Raises:
        ConfigError: ``[search] lr = inf must be a finite number > 0`` (bools, text and NaN too).
    """
    from ...exceptions import ConfigError

    for name, (value, in_range, words) in options.items():
        if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                or not in_range(float(value))):
            raise ConfigError(f"[search] {name} = {value!r} must be a finite number {words}")


def check_batch(batch: object) -> int:
    """A strategy's ``batch`` option: a positive integer (0 would propose nothing, silently)."""
    from ...exceptions import ConfigError

    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"[search] batch = {batch!r} must be a positive integer (architectures per ask, e.g. 16)")
    return batch


def distinct_architectures(space: SearchSpace) -> int | None:
    """How many architectures a search of ``space`` can propose (distinct canonical genomes, none
    degenerate), counted by listing a space of up to MAX_LISTED genomes; None for a larger one.
    Fewer than :attr:`~hwnas.space.base.SearchSpace.n_genomes`, which counts genomes canonical or
    not: NB201's 15,625 cells are 12,100 connected networks with dead edges dropped."""
    listed = Archive(space).listed()
    return None if listed is None else len(listed)


def key(genome) -> tuple[int, ...]:
    """Hashable form of a genome."""
    return tuple(int(v) for v in genome)


class Archive:
    """Canonical genomes proposed so far and the results told for them.

    Args:
        space: the search space (canonicalises genomes).
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.sizes = space.upper_bounds + 1
        self.seen: set[tuple[int, ...]] = set()
        self.genomes: list[np.ndarray] = []
        self.objectives: list[np.ndarray] = []
        self.violations: list[np.ndarray] = []
        self._listed: list[np.ndarray] | None = None  # every architecture of a small space, on demand

    def canonical(self, genome) -> np.ndarray:
        """The canonical genome (inactive genes 0)."""
        return self.space.encode(self.space.decode(np.asarray(genome, dtype=np.int64)))

    def is_new(self, genome) -> bool:
        """True when ``genome`` (canonical) was never proposed and is not degenerate."""
        return key(genome) not in self.seen and self.space.degenerate(self.space.decode(genome)) is None

    def propose(self, genome) -> np.ndarray:
        """Mark a canonical genome as proposed and return it."""
        self.seen.add(key(genome))
        return np.asarray(genome, dtype=np.int64)

    def record(self, genomes: np.ndarray, objectives: np.ndarray, violations: np.ndarray) -> None:
        """Keep the results of told genomes."""
        for g, f, v in zip(np.asarray(genomes), np.asarray(objectives), np.asarray(violations)):
            self.seen.add(key(g))
            self.genomes.append(np.asarray(g, dtype=np.int64))
            self.objectives.append(np.asarray(f, dtype=float))
            self.violations.append(np.asarray(v, dtype=float).reshape(-1))

    def random_unseen(self, rng: np.random.Generator) -> np.ndarray | None:
        """A uniformly drawn canonical genome not proposed yet; after MAX_DRAWS draws, one of the
        architectures left in a space of up to MAX_LISTED genomes (draws per gene reach some
        architectures rarely: a 4-layer MLP is one draw in hundreds); None when there is none."""
        for _ in range(MAX_DRAWS):
            g = self.canonical(rng.integers(0, self.sizes))
            if self.is_new(g):
                return g
        if self._listed is None:
            self._listed = self.listed() or []
        left = [g for g in self._listed if key(g) not in self.seen]
        return left[int(rng.integers(len(left)))] if left else None

    def listed(self) -> list[np.ndarray] | None:
        """Every architecture a search can propose (distinct canonical genomes, none degenerate) of
        a space of up to MAX_LISTED genomes; None for a larger one."""
        if self.space.n_genomes > MAX_LISTED:
            return None
        listed: dict[tuple[int, ...], np.ndarray] = {}
        for raw in itertools.product(*(range(int(s)) for s in self.sizes)):
            g = self.canonical(raw)
            if key(g) not in listed and self.space.degenerate(self.space.decode(g)) is None:
                listed[key(g)] = g
        return list(listed.values())

    def mutate_unseen(self, parent, rng: np.random.Generator, genes: int = 1) -> np.ndarray | None:
        """``parent`` with ``genes`` genes set to other choices, not proposed yet (bounded tries)."""
        choosable = np.flatnonzero(self.sizes > 1)
        if not len(choosable):
            return None
        for _ in range(MAX_DRAWS):
            child = np.array(parent, dtype=np.int64)
            for i in rng.choice(choosable, size=min(genes, len(choosable)), replace=False):
                child[i] = (child[i] + rng.integers(1, self.sizes[i])) % self.sizes[i]
            child = self.canonical(child)
            if self.is_new(child):
                return child
        return None


def pareto_ranks(objectives: np.ndarray, violations: np.ndarray) -> np.ndarray:
    """Constrained non-domination rank of each row (0 = best front).

    Feasible rows (every violation <= 0) rank before infeasible ones, which are ordered by
    their total violation, as in constrained domination.
    """
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    f = np.asarray(objectives, float)
    cv = np.clip(np.asarray(violations, float).reshape(len(f), -1), 0, None).sum(axis=1) if len(f) else np.zeros(0)
    ranks = np.empty(len(f), dtype=np.int64)
    feasible = np.flatnonzero(cv <= 0)
    n_fronts = 0
    if len(feasible):
        fronts = NonDominatedSorting().do(f[feasible])
        for r, front in enumerate(fronts):
            ranks[feasible[front]] = r
        n_fronts = len(fronts)
    infeasible = np.flatnonzero(cv > 0)
    order = np.argsort(cv[infeasible], kind="stable")
    _, dense = np.unique(cv[infeasible][order], return_inverse=True)
    ranks[infeasible[order]] = n_fronts + dense
    return ranks
