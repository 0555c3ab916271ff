"""pymoo operators that know the genome: every gene is categorical.

- :class:`CanonicalRepair` maps a genome to its canonical form (inactive genes 0), so two
  genomes that build the same network are literally equal.
- :class:`CategoricalMutation` resamples a gene to a *different* choice (no ordinal steps:
  kernel 7 is not "closer" to 5 than to 3 in any sense the search should assume).
- :class:`CanonicalSampling` draws distinct, non-degenerate canonical genomes (bounded attempts).
- :class:`NoRepeatElimination` removes offspring equal to each other, to the population, or
  to any architecture already proposed in this run, and degenerate ones.
Crossover is pymoo's uniform crossover (UX), which never invents values.
"""

from __future__ import annotations

import numpy as np
from pymoo.core.duplicate import DuplicateElimination
from pymoo.core.mutation import Mutation
from pymoo.core.repair import Repair
from pymoo.core.sampling import Sampling

from ..space.base import SearchSpace


def canonical_genomes(space: SearchSpace, genomes: np.ndarray) -> np.ndarray:
    """Canonical genome of each row."""
    return np.array([space.encode(space.decode(g)) for g in np.asarray(genomes, dtype=np.int64)],
                    dtype=np.int64).reshape(len(genomes), space.n_genes)


class CanonicalRepair(Repair):
    """Repair that canonicalises genomes through the space."""

    def __init__(self, space: SearchSpace) -> None:
        super().__init__()
        self.space = space

    def _do(self, problem, X, **kwargs):
        return canonical_genomes(self.space, np.rint(X).astype(np.int64))


class CategoricalMutation(Mutation):
    """Each gene, with probability ``prob_var``, takes a different choice uniformly at random."""

    def __init__(self, space: SearchSpace, prob_var: float | None = None) -> None:
        super().__init__(prob=1.0, prob_var=prob_var)
        self.sizes = space.upper_bounds + 1

    def _do(self, problem, X, random_state=None, **kwargs):
        X = np.rint(X).astype(np.int64)
        p = self.get_prob_var(problem, size=len(X))
        p = np.broadcast_to(np.asarray(p, float).reshape(-1, 1), X.shape)
        hit = (random_state.random(X.shape) < p) & (self.sizes > 1)
        # shift by 1..size-1 modulo size: a uniformly random *other* choice
        shift = np.floor(random_state.random(X.shape) * (self.sizes - 1)).astype(np.int64) + 1
        return np.where(hit, (X + shift) % self.sizes, X)


class CanonicalSampling(Sampling):
    """Distinct, non-degenerate canonical genomes drawn uniformly per gene (at most 50 rounds of
    draws; degenerate ones are never taken, so a space with fewer such genomes than asked for
    gives fewer)."""

    def __init__(self, space: SearchSpace) -> None:
        super().__init__()
        self.space = space

    def _do(self, problem, n_samples, random_state=None, **kwargs):
        chosen: dict[tuple, np.ndarray] = {}
        for _ in range(50):
            raw = random_state.integers(0, self.space.upper_bounds + 1, size=(n_samples, self.space.n_genes))
            for g in canonical_genomes(self.space, raw):
                if self.space.degenerate(self.space.decode(g)) is not None:
                    continue
                chosen.setdefault(tuple(g.tolist()), g)
                if len(chosen) == n_samples:
                    return np.array(list(chosen.values()))
        return np.array(list(chosen.values()))  # a space smaller than the population


class NoRepeatElimination(DuplicateElimination):
    """Duplicate elimination on canonical genomes, also against everything proposed so far.

    Degenerate architectures (:meth:`SearchSpace.degenerate`) count as duplicates too, so
    pymoo mates again instead of proposing them.

    Args:
        seen: canonical genome tuples already proposed in this run (shared with the strategy,
            which adds every told genome).
        space: the space, to recognise degenerate genomes (None: none are).
    """

    def __init__(self, seen: set[tuple], space: SearchSpace | None = None) -> None:
        super().__init__()
        self.seen = seen
        self.space = space

    def _do(self, pop, other, is_duplicate):
        taken = set(self.seen)
        if other is not None:
            taken.update(tuple(np.rint(x).astype(np.int64).tolist()) for x in other.get("X"))
        for i, x in enumerate(pop.get("X")):
            key = tuple(np.rint(x).astype(np.int64).tolist())
            if key in taken or (self.space is not None and
                                self.space.degenerate(self.space.decode(np.array(key))) is not None):
                is_duplicate[i] = True
            taken.add(key)
        return is_duplicate
