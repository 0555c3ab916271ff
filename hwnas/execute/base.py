"""Where evaluations run: the :class:`Executor` interface and its registry.

The runner hands an executor each batch of new genomes and gets every one's
:class:`~hwnas.evaluation.Evaluation` back as it finishes, in any order. Only the runner
writes the store, so a task retried after its worker died can never make a second row.

A candidate that exceeds the evaluation timeout, or whose worker dies on every attempt, comes
back as a failed evaluation with the reason; the search goes on.
"""

from __future__ import annotations

import dataclasses
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator, Mapping, Sequence

import numpy as np

from ..evaluation import Evaluation
from ..exceptions import require
from ..registry import Registry

#: Attempts per candidate when its worker process dies (the second one runs on a fresh worker).
MAX_ATTEMPTS = 2


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs to rebuild the run's evaluator.

    Attributes:
        config: the run config (plain data, picklable).
        weights_dir: where trained weights are saved.
        modules: modules outside hwnas to import first (user registrations).
        threads: torch intra-op threads per worker (the machine's cores shared out).
        history: metrics of the search's evaluations finished before the worker starts, in
            order, handed to its estimator's ``observe`` (what successive halving ranks against),
            so a worker started on ``--resume`` or after a timeout decides as the search's first
            worker would have.
    """

    config: Any
    weights_dir: Path | None
    modules: tuple[str, ...]
    threads: int
    history: tuple[Mapping[str, float], ...] = ()

    def build_evaluator(self):
        """Import user modules, set threads and build the evaluator (in the worker)."""
        import importlib

        import torch

        from ..components import build_components
        from ..exceptions import ExecutionError

        torch.set_num_threads(self.threads)
        for module in self.modules:
            try:
                importlib.import_module(module)
            except Exception as exc:  # not a dead worker to blame on a missing __main__ guard
                raise ExecutionError(
                    f"a worker process cannot import {module!r}, the module that registered a part of this "
                    f"search ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); worker "
                    f"processes import it by name, so make it importable there (install it, or put its "
                    f"folder on PYTHONPATH), or run with workers = 1") from None
        evaluator = build_components(self.config, weights_dir=self.weights_dir).evaluator
        for metrics in self.history:
            evaluator.estimator.observe(metrics)
        return evaluator


class Executor(ABC):
    """Runs evaluations of one search.

    Args:
        evaluator: the run's evaluator (used in-process, and for failure records).
        spec: how a worker rebuilds the evaluator.
        workers: evaluations at a time.
        eval_timeout_s: wall seconds one evaluation may take (None: no limit).
        options: executor-specific options (e.g. Ray's ``address``).
    """

    name: str = ""
    #: the optional library the executor needs, as (module, hwnas extra), or None
    requires: ClassVar[tuple[str, str] | None] = None

    @classmethod
    def check_requirements(cls) -> None:
        """Refuse a missing optional library; a search calls this before it does any work.

        Raises:
            MissingExtraError: the library in :attr:`requires` is not installed (names the extra).
        """
        if cls.requires:
            require(*cls.requires)

    def __init__(self, evaluator, spec: WorkerSpec, *, workers: int, eval_timeout_s: float | None,
                 **options: Any) -> None:
        self.evaluator = evaluator
        self.spec = spec
        self.workers = workers
        self.eval_timeout_s = eval_timeout_s
        self._history: list[Mapping[str, float]] = []

    @property
    def in_process(self) -> bool:
        """Whether candidates run in the search's own process, one at a time (so one that ends the
        process ends the search; :class:`~hwnas.search.runner.SearchRun` then records which)."""
        return False

    def remember(self, metrics: Mapping[str, float]) -> None:
        """Note the metrics of an evaluation the search has finished (or read back from its
        store); every worker started from now on observes them all (:meth:`worker_spec`)."""
        self._history.append(dict(metrics))

    def worker_spec(self) -> WorkerSpec:
        """The spec a new worker is started from, with the search's history so far."""
        return dataclasses.replace(self.spec, history=tuple(self._history))

    @abstractmethod
    def map(self, genomes: Sequence[np.ndarray]) -> Iterator[tuple[int, Evaluation]]:
        """Evaluate genomes; yield ``(index into genomes, evaluation)`` as each finishes."""

    def close(self) -> None:
        """Stop the workers (idempotent)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def timeout_reason(self) -> str:
        return f"TimeoutError: evaluation exceeded eval_timeout_s = {self.eval_timeout_s:g} s"


def threads_per_worker(workers: int) -> int:
    """Torch threads for each of ``workers`` processes sharing this machine's cores, never more
    than ``OMP_NUM_THREADS`` when it is set (the user's cap on every process's threads, which the
    search's own process obeys: a worker must not quietly train with more)."""
    threads = (os.cpu_count() or 1) // workers
    cap = os.environ.get("OMP_NUM_THREADS", "").strip()
    if cap.isdigit() and int(cap) > 0:
        threads = min(threads, int(cap))
    return max(1, threads)


#: Executor name -> class; ``[execution] executor = "local"`` (default) or ``"ray"``.
EXECUTORS: Registry[type[Executor]] = Registry("executor")
