"""Multi-objective Bayesian optimisation through Optuna's samplers (ask/tell, in memory).

``model = "tpe"`` (default) is Optuna's multi-objective TPE (MOTPE, Ozaki et al.): fast enough
for thousands of evaluations. ``model = "gp"`` is Optuna's Gaussian-process sampler with
log-EHVI, better per evaluation but cubic in the evaluations, for budgets of a few hundred.
Budgets are passed as constraints; failed evaluations reach the GP as failed trials, and one
over budget that was not trained (:mod:`hwnas.evaluation`) as its violation with the worst
value seen so far for each objective it lacks, so the GP's constraint model learns where the
budget lies. Optuna is an optional extra (``pip install 'hwnas[bench]'``).
"""

from __future__ import annotations

import warnings

import numpy as np

from ...exceptions import ConfigError, require
from ...space.base import SearchSpace
from ...wording import counted
from ..objectives import FAILED_VALUE
from .base import STRATEGIES, Strategy
from .common import MAX_DRAWS, Archive, check_int_options, key

_CONSTRAINT = "constraint"
#: Asks of the GP sampler before a random new architecture is handed to it: told an evaluated
#: architecture again, the GP barely moves and proposes it again, each ask a fit of seconds.
GP_ASKS = 5


def _constraints(trial) -> list[float]:
    return trial.user_attrs[_CONSTRAINT]


@STRATEGIES.register("bayes")
class BayesStrategy(Strategy):
    """Optuna MOTPE / GP sampler over categorical genes, without repeated proposals.

    When the sampler proposes an architecture that was already evaluated, it is told the known
    result and asked again (bounded: 200 asks for TPE, ``GP_ASKS`` for the GP), then handed a
    random new architecture, so every proposal is a new architecture.

    Options (``[search]``):
        model: ``"tpe"`` (default) or ``"gp"``.
        startup: random architectures before the model is used (default 10).
    """

    def __init__(self, space: SearchSpace, *, n_objectives: int, n_constraints: int,
                 evaluations: int, seed: int, model: str = "tpe", startup: int = 10) -> None:
        super().__init__(space, n_objectives=n_objectives, n_constraints=n_constraints,
                         evaluations=evaluations, seed=seed)
        check_int_options({"startup": (startup, 0)})
        if startup >= evaluations:  # otherwise a random search that says it is Bayesian
            self.notes.append(f"bayes: startup = {counted(startup, 'random architecture')} "
                              f"{'comes' if startup == 1 else 'come'} before the {model} model, "
                              f"and the search has evaluations = {evaluations}, so every proposal is random; "
                              f"set [search.bayes] startup below {evaluations}")
        optuna = require("optuna", "bench")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        constraints = _constraints if n_constraints else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "experimental" warnings for multivariate / constraints
            if model == "tpe":
                sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True,
                                                     constraints_func=constraints)
            elif model == "gp":
                sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup,
                                                    constraints_func=constraints)
            else:
                raise ConfigError(f"[search] model = {model!r} is not a bayes model; choose 'tpe' or 'gp'")
        self.optuna = optuna
        self.study = optuna.create_study(directions=["minimize"] * n_objectives, sampler=sampler)
        self.distributions = {g.name: optuna.distributions.CategoricalDistribution(list(range(g.size)))
                              for g in space.genes}
        self.rng = np.random.default_rng(seed)
        self.archive = Archive(space)
        self.results: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self.pending = None
        self.proposed = 0
        self.model = model
        self.asks = MAX_DRAWS if model == "tpe" else GP_ASKS
        self.worst = np.full(n_objectives, -np.inf)  # per objective, the worst value told so far

    def _tell(self, trial, f: np.ndarray, g: np.ndarray) -> None:
        known = f < FAILED_VALUE
        self.worst = np.where(known, np.maximum(self.worst, np.where(known, f, -np.inf)), self.worst)
        if self.model == "gp" and not np.all(known):
            over_budget = len(g) and np.all(g < FAILED_VALUE) and np.any(g > 0)
            if over_budget and np.all(np.isfinite(self.worst[~known])):
                f = np.where(known, f, self.worst)  # over budget, untrained: its violation is what counts
            else:
                # a failed evaluation's FAILED_VALUE swamps the GP's fit: it then finds nothing feasible
                self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
                return
        trial.set_user_attr(_CONSTRAINT, [float(v) for v in g])
        self.study.tell(trial, [float(v) for v in f])

    def ask(self) -> np.ndarray | None:
        if self.proposed >= self.evaluations:
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(self.asks):
                trial = self.study.ask(self.distributions)
                g = self.archive.canonical([trial.params[n] for n in self.distributions])
                if self.archive.is_new(g):
                    break
                known = self.results.get(key(g))
                if known is None:  # a degenerate architecture (never evaluated), or one not told yet
                    self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
                else:
                    self._tell(trial, *known)
            else:
                g = self.archive.random_unseen(self.rng)
                if g is None:
                    return None
                # the sampler keeps proposing evaluated architectures: hand it a random new one
                self.study.enqueue_trial(dict(zip(self.distributions, (int(v) for v in g))))
                trial = self.study.ask(self.distributions)
        self.pending = (trial, g)
        self.proposed += 1
        return self.archive.propose(g)[None, :]

    def tell(self, genomes: np.ndarray, objectives: np.ndarray, violations: np.ndarray) -> None:
        trial, g = self.pending
        f, v = np.asarray(objectives[0], float), np.asarray(violations[0], float).reshape(-1)
        self.results[key(g)] = (f, v)
        self.archive.record(genomes, objectives, violations)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._tell(trial, f, v)
