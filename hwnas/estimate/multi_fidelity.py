"""``successive-halving``: multi-fidelity proxy training, short runs first, longer runs for survivors.

Every candidate is trained for the first rung's epochs (e.g. 1). It goes on to the next rung
(e.g. 3 epochs, then 9) only if it ranks among the best ``1/eta`` of all candidates recorded at
its current rung so far, the asynchronous promotion rule of ASHA (Li et al., 2020): the decision
is taken when the candidate's rung finishes, against every earlier result at that rung, so no
candidate waits for others and the expected share promoted is ``1/eta``.

Ranking is multi-objective by default (``promotion = "pareto"``): peers are sorted as NSGA-II
selects, by non-dominated rank of (validation error at the rung, trainable parameters), then by
crowding distance (the front's ends first), then by error, so the smallest network on the
error-size front is promoted as readily as the most accurate one; an
accuracy-only rule would stop every small network at the first rung and leave the fast end of
a latency front to one-epoch results. ``promotion = "error"`` ranks by error alone.

Each rung trains from the same seeded initialisation (``proxy-trainer`` re-initialises; weights
without a ``reset_parameters`` are restored to their built values), so a
candidate's error at ``E`` epochs is exactly what ``proxy-trainer`` with ``epochs = E`` gives,
and errors at the last rung compare with a plain search at that budget. With rungs 1, 3, 9 and
``eta = 3`` a candidate costs about 1 + 3/3 + 9/9 = 3 epochs instead of 9 in the long run; early
candidates have few peers and go on more often (4.2-4.6 epochs on average over the first 64
evaluations of a digits search).

Recorded per evaluation: ``error_pct`` / ``accuracy_pct`` at the last rung it reached,
``epochs`` (that rung's epochs), ``rung`` (0-based), ``train_epochs`` (epochs trained over all
its rungs), ``train_s`` and ``eval_s`` (summed), ``trainable_params`` (the size the promotion
ranks by), and ``error_pct_e<E>`` for every rung it ran.
A stopped candidate's error is a short-training error, pessimistic for it, which is the point:
the search treats it as not worth more.

The rung results live in the estimator. On ``--resume`` the runner hands the stored evaluations
back through :meth:`SuccessiveHalvingTrainer.observe`, and a worker process is started with
every evaluation the search finished before it (:class:`hwnas.execute.WorkerSpec`), so a
search with one worker, in-process or not, decides as an uninterrupted one would. With several
workers each also ranks against the candidates it trains itself, not those its siblings train
meanwhile, so their decisions can differ from a serial search's.
"""

from __future__ import annotations

import copy
import inspect
import math
from typing import Any, Mapping, Sequence

import numpy as np
from torch import nn

from ..exceptions import ConfigError, attach_metrics
from ..registry import construct, did_you_mean
from .base import ESTIMATORS, AccuracyEstimator
from .trainer import ProxyTrainer

#: Ranking rules of the promotion decision.
PROMOTIONS = ("pareto", "error")


def _check_rungs(rungs: Any) -> tuple[int, ...]:
    ok = (isinstance(rungs, (list, tuple)) and len(rungs) >= 2
          and all(isinstance(r, int) and not isinstance(r, bool) and 1 <= r <= 1000 for r in rungs)
          and all(a < b for a, b in zip(rungs, rungs[1:])))
    if not ok:
        raise ConfigError(f"successive-halving: rungs = {rungs!r} is invalid; it must list at least two "
                          f"increasing epoch counts in [1, 1000], e.g. [1, 3, 9]")
    return tuple(rungs)


def promoted(errors: Sequence[float], sizes: Sequence[float], eta: float, rule: str) -> bool:
    """Whether the last of ``errors`` (the newest result at a rung) is among the best ``1/eta``.

    Args:
        errors: validation errors of every candidate recorded at the rung, the newest last.
        sizes: their trainable parameter counts (used by ``rule = "pareto"``).
        eta: the promotion rate's inverse; the best ``ceil(n / eta)`` of ``n`` go on.
        rule: ``"pareto"`` (non-dominated rank of error and size, then crowding distance, then
            error) or ``"error"``.

    Returns:
        True when the newest candidate goes on to the next rung.

    Example:
        >>> promoted([5.0, 3.0, 4.0], [1, 1, 1], 3, "error")
        False
        >>> promoted([2.0, 3.0, 9.0, 8.0], [1000, 900, 1100, 10], 2, "pareto")
        True
    """
    n = len(errors)
    keep = math.ceil(n / eta)
    err = np.asarray(errors, dtype=float)
    if rule == "pareto":
        from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
        from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

        points = np.column_stack([err, np.asarray(sizes, dtype=float)])
        ranks, crowding = np.empty(n, dtype=int), np.empty(n)
        for rank, members in enumerate(NonDominatedSorting().do(points)):
            ranks[members] = rank
            crowding[members] = calc_crowding_distance(points[members])
        order = np.lexsort((np.arange(n), err, -crowding, ranks))
    else:
        order = np.lexsort((np.arange(n), err))
    return bool(np.flatnonzero(order == n - 1)[0] < keep)


@ESTIMATORS.register("successive-halving")
class SuccessiveHalvingTrainer(AccuracyEstimator):
    """``proxy-trainer`` in rungs of increasing epochs; only the best ``1/eta`` go on.

    Args:
        task: the data.
        rungs: epochs of each rung, increasing, at least two (default ``[1, 3, 9]``).
        eta: keep the best ``1/eta`` at each rung, a number > 1 (default 3).
        promotion: ``"pareto"`` (error and parameter count) or ``"error"``.
        **trainer_options: ``proxy-trainer`` options (``lr``, ``batch_size``, ``seed``, ...),
            except ``epochs`` (the rungs set it) and ``reset_parameters`` (always on).

    Raises:
        ConfigError: a bad option, naming the valid ones.

    Example:
        >>> from hwnas.data import load_task
        >>> sh = SuccessiveHalvingTrainer(load_task({"dataset": "digits"}), rungs=[1, 2])
        >>> sh.rungs, sh.eta
        ((1, 2), 3.0)
    """

    name = "successive-halving"
    trains = True

    def __init__(self, task: Any, *, rungs: Sequence[int] = (1, 3, 9), eta: float = 3.0,
                 promotion: str = "pareto", **trainer_options: Any) -> None:
        fixed = {"epochs", "reset_parameters"} & set(trainer_options)
        valid = ["rungs", "eta", "promotion"] + [n for n in inspect.signature(ProxyTrainer.__init__).parameters
                                                 if n not in ("self", "task", "epochs", "reset_parameters")]
        unknown = sorted(set(trainer_options) - set(valid) - fixed)
        if unknown:
            raise ConfigError(f"{self.name!r} has no option(s) {', '.join(map(repr, unknown))}; valid options: "
                              f"{', '.join(valid)}{did_you_mean(unknown, valid)}")
        if fixed:
            raise ConfigError(f"successive-halving: {', '.join(sorted(fixed))} cannot be set (the rungs set the "
                              f"epochs, and every rung trains from the same initialisation); use rungs = [1, 3, 9]")
        self.rungs = _check_rungs(list(rungs) if isinstance(rungs, tuple) else rungs)
        if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 1.0 < float(eta) <= 100.0:
            raise ConfigError(f"successive-halving: eta = {eta!r} is invalid; it must be a number in (1, 100], "
                              f"the inverse of the share promoted at each rung, e.g. 3")
        self.eta = float(eta)
        if promotion not in PROMOTIONS:
            raise ConfigError(f"successive-halving: promotion = {promotion!r} is invalid; it must be one of "
                              f"{', '.join(PROMOTIONS)}")
        self.promotion = promotion
        base = construct(ProxyTrainer, task, options=trainer_options, fixed={"epochs": self.rungs[0]},
                         where=self.name, label="proxy-trainer")
        # one trainer per rung, sharing the prepared data tensors
        self.trainers = []
        for epochs in self.rungs:
            trainer = copy.copy(base)
            trainer.epochs = epochs
            self.trainers.append(trainer)
        #: per rung: (error_pct, trainable parameters) of every candidate that finished it
        self.results: list[list[tuple[float, float]]] = [[] for _ in self.rungs]

    def estimate(self, arch: str, model: nn.Module | None,
                 recipe: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Train rung by rung while the candidate ranks among the best ``1/eta``.

        Raises:
            FloatingPointError: training diverged at some rung (the candidate is recorded failed).
        """
        if model is None:
            raise ValueError("successive-halving needs the built model; got None")
        size = float(sum(p.numel() for p in model.parameters() if p.requires_grad))
        out: dict[str, float] = {"train_epochs": 0.0, "train_s": 0.0, "eval_s": 0.0, "trainable_params": size}
        # every rung starts from the built weights: reset_parameters() misses parameters held
        # directly by a module without it (a layer scale, an embedding table of a custom space)
        initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
        recorded = 0  # rungs whose results this candidate added
        try:
            for rung, trainer in enumerate(self.trainers):
                if rung:
                    model.load_state_dict(initial)
                metrics = trainer.estimate(arch, model, recipe)
                out.update(error_pct=metrics["error_pct"], accuracy_pct=metrics["accuracy_pct"],
                           train_loss=metrics["train_loss"], epochs=float(trainer.epochs), rung=float(rung))
                out[f"error_pct_e{trainer.epochs}"] = metrics["error_pct"]
                out["train_epochs"] += trainer.epochs
                out["train_s"] += metrics["train_s"]
                out["eval_s"] += metrics["eval_s"]
                recorded += 1
                if not self._goes_on(rung, metrics["error_pct"], size):
                    break
        except Exception as exc:
            # a failed candidate keeps the rungs it finished (its failed row carries them, and a
            # resumed search replays them from it, so both decide alike), not the failing one's error
            done = {k: v for k, v in out.items() if k.startswith("error_pct_e") or k == "trainable_params"}
            raise attach_metrics(exc, done)
        except BaseException:
            # interrupted: the candidate is not recorded, so a resumed search evaluates it again and
            # replays nothing of it; forget its rung results here too
            for rung in range(recorded):
                self.results[rung].pop()
            raise
        return out

    def observe(self, metrics: Mapping[str, float]) -> None:
        """Record a stored evaluation's rung results (a resumed search replays them)."""
        size = metrics.get("trainable_params")
        if size is None:
            return
        for rung, epochs in enumerate(self.rungs):
            error = metrics.get(f"error_pct_e{epochs}")
            if error is None:
                break
            self.results[rung].append((float(error), float(size)))

    def _goes_on(self, rung: int, error_pct: float, size: float) -> bool:
        self.results[rung].append((error_pct, size))
        if rung == len(self.rungs) - 1:
            return False
        errors, sizes = zip(*self.results[rung])
        return promoted(errors, sizes, self.eta, self.promotion)
