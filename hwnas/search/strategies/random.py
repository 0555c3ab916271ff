"""Random search: distinct architectures drawn uniformly per gene."""

from __future__ import annotations

import numpy as np

from ...space.base import SearchSpace
from .base import STRATEGIES, Strategy
from .common import Archive, check_batch


@STRATEGIES.register("random")
class RandomStrategy(Strategy):
    """Uniform random sampling without repeats.

    Options (``[search]``):
        batch: architectures proposed per ask (default 16; only changes how often the store
            is read back, not what is proposed).
    """

    def __init__(self, space: SearchSpace, *, n_objectives: int, n_constraints: int,
                 evaluations: int, seed: int, batch: int = 16) -> None:
        super().__init__(space, n_objectives=n_objectives, n_constraints=n_constraints,
                         evaluations=evaluations, seed=seed)
        self.batch = check_batch(batch)
        self.rng = np.random.default_rng(seed)
        self.archive = Archive(space)
        self.proposed = 0

    def ask(self) -> np.ndarray | None:
        out = []
        while self.proposed < self.evaluations and len(out) < self.batch:
            g = self.archive.random_unseen(self.rng)
            if g is None:
                break  # (nearly) exhausted space
            out.append(self.archive.propose(g))
            self.proposed += 1
        return np.array(out) if out else None

    def tell(self, genomes: np.ndarray, objectives: np.ndarray, violations: np.ndarray) -> None:
        pass
