"""Predictor-assisted NSGA-II: a surrogate screens many candidates, few are truly evaluated.

After a random initial population, every generation NSGA-II's mating (the genome-aware
operators of ``nsga2``) and uniform sampling propose a pool of unseen candidates many times
larger than the generation. A surrogate refitted on every true evaluation so far predicts each
objective and budget of each candidate; the candidates whose optimistic prediction (mean minus
``kappa`` standard deviations) adds most hypervolume to the true front, picked greedily, are
the only ones evaluated. NSGA-II's survival then sees their true values.

The surrogate (:class:`Surrogate`) averages two scikit-learn models on the space's features of
each genome (:meth:`~hwnas.space.base.SearchSpace.features`: one-hot genes, per-choice counts,
and what the space adds, e.g. NB201's paths): extra trees and bootstrapped ridge regression;
their spread gives the standard deviation. Positive targets (errors, latencies, MACs) are
modelled in log space, since cost grows multiplicatively with width and depth.

Predictions never leave this module: the runner evaluates, stores and tells true values only,
so the store, the outputs and the final front are truly evaluated, with the trainer and with
tables alike.
"""

from __future__ import annotations

import numpy as np
from pymoo.core.population import Population

from ...exceptions import ConfigError
from ...space.base import SearchSpace
from ..objectives import FAILED_VALUE
from ..operators import CanonicalSampling
from .base import STRATEGIES
from .common import check_int_options, check_number_options
from .nsga2 import NSGA2Strategy


class Surrogate:
    """Extra trees and bootstrapped ridge regression, averaged, one pair per target.

    Args:
        trees: trees of the extra-trees model.
        ridges: bootstrap fits of the ridge model.
        seed: seed of the models' randomness.
    """

    def __init__(self, *, trees: int = 100, ridges: int = 30, seed: int = 0) -> None:
        self.trees = trees
        self.ridges = ridges
        self.rng = np.random.default_rng(seed)

    def fit_predict(self, x: np.ndarray, targets: np.ndarray, x_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fit on ``(x, targets)`` and predict ``x_new``.

        Returns:
            Mean and standard deviation, one column per target.
        """
        from sklearn.ensemble import ExtraTreesRegressor
        from sklearn.linear_model import Ridge

        targets = np.asarray(targets, float)
        log = np.all(targets > 0, axis=0)
        y = np.where(log, np.log(np.where(log, targets, 1.0)), targets)
        per_ridge = []  # bootstrap fits, every target at once: (fits, candidates, targets)
        for _ in range(self.ridges):
            rows = self.rng.integers(0, len(x), len(x))
            per_ridge.append(Ridge(alpha=1.0).fit(x[rows], y[rows]).predict(x_new).reshape(len(x_new), -1))
        per_ridge = np.stack(per_ridge)
        mean, std = np.empty((len(x_new), y.shape[1])), np.empty((len(x_new), y.shape[1]))
        for j in range(y.shape[1]):
            forest = ExtraTreesRegressor(n_estimators=self.trees, n_jobs=1,
                                         random_state=int(self.rng.integers(2**31 - 1))).fit(x, y[:, j])
            leaves = forest.apply(x_new)  # one call instead of one predict per tree
            per_tree = np.stack([t.tree_.value[leaves[:, k], 0, 0] for k, t in enumerate(forest.estimators_)])
            m_tree, m_ridge = per_tree.mean(axis=0), per_ridge[:, :, j].mean(axis=0)
            mean[:, j] = (m_tree + m_ridge) / 2
            # within-model spread and the two models' disagreement
            std[:, j] = np.sqrt((per_tree.var(axis=0) + per_ridge[:, :, j].var(axis=0)) / 2
                                + ((m_tree - m_ridge) / 2) ** 2)
        # back from log space: the median, and the first-order (delta-method) deviation
        mean = np.where(log, np.exp(np.where(log, mean, 0.0)), mean)
        std = np.where(log, mean * std, std)
        return mean, std


def non_dominated(points: np.ndarray) -> np.ndarray:
    """Non-dominated rows of a minimisation matrix, duplicates kept once."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    points = np.unique(np.asarray(points, float), axis=0)
    if len(points) < 2:
        return points
    return points[NonDominatedSorting().do(points, only_non_dominated_front=True)]


def hypervolume_improvement(front: np.ndarray, candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Hypervolume each candidate would add to a non-dominated ``front`` (minimised, below
    ``reference``); exact and vectorised for two objectives, pymoo's HV otherwise."""
    candidates = np.asarray(candidates, float)
    reference = np.asarray(reference, float)
    if len(front) and candidates.shape[1] == 2:
        f = np.minimum(front[np.argsort(front[:, 0])], reference)  # x ascending, so y descending
        x = np.minimum(candidates[:, :1], reference[0])
        y = np.minimum(candidates[:, 1:], reference[1])
        # the front's part of the candidate's box [x, rx] x [y, ry] is a staircase
        xs = np.maximum(f[None, :, 0], x)
        ys = np.maximum(f[None, :, 1], y)
        widths = np.diff(np.concatenate([xs, np.full((len(xs), 1), reference[0])], axis=1), axis=1)
        covered = (widths * (reference[1] - ys)).sum(axis=1)
        box = (reference[0] - x[:, 0]) * (reference[1] - y[:, 0])
        return np.clip(box - covered, 0.0, None)
    from pymoo.indicators.hv import HV

    hv = HV(ref_point=reference)
    base = hv(front) if len(front) else 0.0
    out = np.zeros(len(candidates))
    for i, c in enumerate(candidates):
        if np.all(c < reference) and not (len(front) and np.any(np.all(front <= c, axis=1))):
            out[i] = hv(np.vstack([front, c])) - base if len(front) else float(np.prod(reference - c))
    return out


def domination_gap(front: np.ndarray, points: np.ndarray) -> np.ndarray:
    """How much each point must improve in some objective to be dominated by no front point."""
    if not len(front):
        return np.zeros(len(points))
    # a point escapes front point p once it beats p in some objective
    gaps = np.min(points[:, None, :] - front[None, :, :], axis=2)
    return np.clip(gaps.max(axis=1), 0, None)


@STRATEGIES.register("nsga2-surrogate")
class SurrogateNSGA2Strategy(NSGA2Strategy):
    """NSGA-II whose offspring are screened by a surrogate before any true evaluation.

    Options (``[search]``):
        population: NSGA-II population, also the random initial design (default as ``nsga2``).
        offspring: candidates truly evaluated per generation (default: 2, growing with the
            evaluations so far, one per 25, up to the population, which keeps the surrogate's
            cost small at large budgets).
        crossover_prob, mutation_prob: as ``nsga2``.
        candidates: candidates predicted per one evaluated (default 64, at most
            :attr:`MAX_CANDIDATES`), half from NSGA-II mating, half drawn uniformly; the pool
            never exceeds the genomes not yet proposed.
        kappa: optimism, in surrogate standard deviations (default 1).
        trees: trees of the surrogate's extra-trees model (default 100).
    """

    #: Reference point of the acquisition, per objective normalised to the current front's
    #: ends. Far out (2, not the usual 1.1), so a candidate that would extend the front beyond
    #: its ends (a more accurate but slower network) is credited. Measured on NB201 (medians of
    #: edgegpu / raspi4 / fpga), 2.0 against 1.1: after 200 evaluations 0.976 / 0.969 / 0.965
    #: against 0.976 / 0.967 / 0.963; after 50 (seeds 10-29) 0.936 / 0.910 / 0.903 against
    #: 0.910 / 0.898 / 0.922 — no clear winner.
    REFERENCE = 2.0
    #: Default generation size: one per this many evaluations so far (at least 2).
    GROWTH = 25
    #: Most ``candidates`` allowed. On NB201 an ask takes 0.5 s at 1024 and 2-3.5 s at 4096, but
    #: 25 s at 10**5 (the pool capped at the 15,625 genomes) and over 60 s uncapped.
    MAX_CANDIDATES = 4096

    def __init__(self, space: SearchSpace, *, n_objectives: int, n_constraints: int,
                 evaluations: int, seed: int, population: int | None = None, offspring: int | None = None,
                 crossover_prob: float = 0.9, mutation_prob: float | None = None, candidates: int = 64,
                 kappa: float = 1.0, trees: int = 100) -> None:
        check_int_options({"population": (population, 2), "offspring": (offspring, 1),
                           "candidates": (candidates, 1), "trees": (trees, 1)})
        check_number_options({"kappa": (kappa, lambda v: v >= 0, ">= 0")})
        if candidates > self.MAX_CANDIDATES:  # NSGA-II mating seeks that many new offspring: minutes per proposal
            raise ConfigError(f"[search] candidates = {candidates} is too many to screen per evaluated architecture "
                              f"(each proposal would take minutes); use at most {self.MAX_CANDIDATES} (default 64)")
        # NSGA-II itself (population, operators, no repeats) as in ``nsga2``; its offspring are
        # the mating half of the candidate pool, sized per generation in :meth:`_pool`
        super().__init__(space, n_objectives=n_objectives, n_constraints=n_constraints,
                         evaluations=evaluations, seed=seed, population=population,
                         crossover_prob=crossover_prob, mutation_prob=mutation_prob)
        self.offspring = offspring
        self.candidates = candidates
        self.kappa = float(kappa)
        self.rng = np.random.default_rng(seed)
        self.surrogate = Surrogate(trees=trees, seed=seed)
        self.sampling = CanonicalSampling(space)
        self.space_size = space.n_genomes  # genomes, canonical or not
        self.genomes: list[np.ndarray] = []
        self.targets: list[np.ndarray] = []  # objectives then violations, minimisation form

    def _batch(self) -> int:
        if self.offspring is not None:
            return self.offspring
        return int(np.clip(len(self.genomes) // self.GROWTH, 2, self.population))

    def _pool(self, batch: int) -> np.ndarray:
        """Unseen candidates: NSGA-II offspring of the population, then uniform draws; never more
        than the genomes left unseen (mating that seeks more new offspring than exist loops long)."""
        size = min(batch * self.candidates, self.space_size - len(self.seen))
        self.algorithm.n_offsprings = max(1, size // 2)
        mated = self.algorithm.ask()
        self.algorithm.termination.force_termination = False  # pymoo's flag for "mating found nothing new"
        genomes = [] if mated is None else list(np.rint(mated.get("X")).astype(np.int64))
        taken = {tuple(g.tolist()) for g in genomes} | self.seen
        want = size - len(genomes)
        drawn = self.sampling.do(self.problem, want, random_state=self.rng).get("X") if want > 0 else []
        for g in np.asarray(drawn, dtype=np.int64).reshape(-1, self.space.n_genes):
            if tuple(g.tolist()) not in taken:
                taken.add(tuple(g.tolist()))
                genomes.append(g)
        return np.array(genomes, dtype=np.int64).reshape(-1, self.space.n_genes)

    def _select(self, pool: np.ndarray, batch: int) -> np.ndarray:
        """Indices of the ``batch`` pool members to evaluate: greedy optimistic hypervolume gain."""
        y = np.array(self.targets)
        ok = np.all(y < FAILED_VALUE, axis=1)  # failed evaluations teach the regressor nothing
        if ok.sum() < 2:
            return np.arange(min(batch, len(pool)))  # nothing to learn from yet: NSGA-II's offspring
        mean, std = self._predict(y, pool)
        m = self.n_objectives
        # optimistic on the objectives (explores), expected on the budgets (a candidate predicted
        # over budget is a wasted evaluation whatever its objectives)
        predicted = mean[:, :m] - self.kappa * std[:, :m]
        violation = np.clip(mean[:, m:], 0, None).sum(axis=1)
        feasible = ok & np.all(y[:, m:] <= 0, axis=1)
        front = non_dominated(y[feasible, :m]) if feasible.any() else predicted[:0]
        ideal = front.min(axis=0) if len(front) else predicted.min(axis=0)
        nadir = front.max(axis=0) if len(front) else predicted.max(axis=0)
        scale = np.where(nadir > ideal, nadir - ideal, 1.0)
        front, predicted = (front - ideal) / scale, (predicted - ideal) / scale
        reference = np.full(m, self.REFERENCE)
        chosen: list[int] = []
        left = np.ones(len(pool), dtype=bool)
        while len(chosen) < min(batch, len(pool)):
            idx = np.flatnonzero(left & (violation <= 0))
            if len(idx):
                gain = hypervolume_improvement(front, predicted[idx], reference)
                # nothing predicted to add hypervolume: the least dominated one
                best = idx[int(np.argmax(gain))] if gain.max() > 0 else \
                    idx[int(np.argmin(domination_gap(front, predicted[idx])))]
                front = non_dominated(np.vstack([front, predicted[best]]))  # believe the prediction
            else:  # nothing predicted feasible: the least violating
                idx = np.flatnonzero(left)
                best = idx[int(np.argmin(violation[idx]))]
            chosen.append(best)
            left[best] = False
        return np.array(chosen, dtype=np.int64)

    def _predict(self, y: np.ndarray, pool: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The surrogate's mean and deviation of every target for the pool, each group of targets
        fitted on the evaluations that know it: a candidate priced over budget and not trained
        (:mod:`hwnas.evaluation`) teaches the cost and budget targets, not the error."""
        x, x_new = self.space.features(np.array(self.genomes)), self.space.features(pool)
        known = y < FAILED_VALUE
        mean, std = np.empty((len(pool), y.shape[1])), np.empty((len(pool), y.shape[1]))
        for rows in np.unique(known.T, axis=0):
            cols = np.flatnonzero(np.all(known.T == rows, axis=1))
            mean[:, cols], std[:, cols] = self.surrogate.fit_predict(x[rows], y[rows][:, cols], x_new)
        return mean, std

    def ask(self) -> np.ndarray | None:
        if self.proposed >= self.evaluations:
            return None
        if not self.genomes:  # the random initial population
            pending = self.algorithm.ask()
        else:
            batch = min(self._batch(), self.evaluations - self.proposed)
            pool = self._pool(batch)
            if not len(pool):
                return self._propose(self._unseen(batch))  # None: the space is exhausted
            pending = Population.new(X=pool[self._select(pool, batch)].astype(float))
        return self._propose(pending)

    def tell(self, genomes: np.ndarray, objectives: np.ndarray, violations: np.ndarray) -> None:
        genomes = np.asarray(genomes, dtype=np.int64)
        for g, f, v in zip(genomes, np.asarray(objectives, float),
                           np.asarray(violations, float).reshape(len(genomes), -1)):
            self.genomes.append(g)
            self.targets.append(np.concatenate([f, v]))
        super().tell(genomes, objectives, violations)
