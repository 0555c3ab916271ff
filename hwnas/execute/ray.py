"""Evaluations on a Ray cluster (``pip install 'hwnas[ray]'``).

Each worker is a Ray actor that builds the run's evaluator once; with GPUs in the cluster every
actor holds one GPU (the trainer uses it). Without ``address`` a local cluster is started for
the run and stopped after it. Results come back to the search process, which alone writes the
store: a task retried after its actor died cannot make a duplicate row.

On a remote cluster, modules that register user components must be importable on the nodes
(Ray's ``runtime_env``); trained weights are saved where the actor runs.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import deque
from typing import Any, Iterator, Sequence

import numpy as np

from ..evaluation import Evaluation, failed_evaluation
from ..exceptions import ExecutionError, require
from .base import EXECUTORS, MAX_ATTEMPTS, Executor, WorkerSpec


class _RayWorker:
    """The actor: one evaluator, evaluating genomes on request."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.evaluator = spec.build_evaluator()

    def ready(self) -> bool:
        return True

    def evaluate(self, genome: np.ndarray) -> tuple[str, Any]:
        from ..exceptions import HwnasError

        try:
            return "done", self.evaluator.evaluate(genome)
        except HwnasError as exc:
            return "error", exc


#: Seconds to wait for a cluster's address to answer before calling it unreachable.
CONNECT_TIMEOUT_S = 10.0


def _check_reachable(address: str) -> None:
    """Refuse a ``host:port`` address where nothing listens (``auto`` and ``ray://`` are Ray's
    to resolve).

    Raises:
        ConnectionError: nothing answered within :data:`CONNECT_TIMEOUT_S`.
    """
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {address} ({exc.strerror or exc})") from None


def _quiet_token_auth(address: str | None) -> None:
    """For a local cluster, choose Ray's default, token authentication, in ``RAY_AUTH_MODE`` (its
    documented switch) before Ray is imported, so Ray does not warn that it chose it. An explicit
    ``RAY_AUTH_MODE``, a cluster elsewhere, or Ray already imported (it has read the mode) is left
    as it is."""
    if not address and "ray" not in sys.modules:
        os.environ.setdefault("RAY_AUTH_MODE", "token")


@EXECUTORS.register("ray")
class RayExecutor(Executor):
    """``workers`` Ray actors; ``address`` names a running cluster (default: start a local one)."""

    name = "ray"
    requires = ("ray", "ray")

    @classmethod
    def check_requirements(cls) -> None:
        """Refuse a missing Ray without importing it (the executor sets ``RAY_AUTH_MODE`` first).

        Raises:
            MissingExtraError: Ray is not installed (names the extra).
        """
        import importlib.util

        if importlib.util.find_spec(cls.requires[0]) is None:
            require(*cls.requires)

    def __init__(self, evaluator, spec: WorkerSpec, *, workers: int, eval_timeout_s: float | None,
                 address: str | None = None) -> None:
        super().__init__(evaluator, spec, workers=workers, eval_timeout_s=eval_timeout_s)
        _quiet_token_auth(address)
        self.ray = require("ray", "ray")
        self._started_cluster = False
        if not self.ray.is_initialized():
            try:
                if address:
                    _check_reachable(address)  # ray.init retries an address no one answers at forever
                    self.ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
                else:  # a local cluster: the workers import what this process imports
                    self.ray.init(num_cpus=max(workers, os.cpu_count() or 1), include_dashboard=False,
                                  logging_level=logging.WARNING,
                                  log_to_driver=False,
                                  runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}})
            except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError...
                reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                error = ExecutionError(
                    f"cannot start or reach a Ray cluster at {address!r} ({reason}); check address (e.g. 'auto' or "
                    f"'host:6379')" if address else
                    f"cannot start a local Ray cluster here ({reason}); run with workers on this machine "
                    f"(--executor local) or give the address of a running cluster")
                # the CLI words it as --address when the value came from its flag, not the config
                error.address, error.reason = address, reason
                raise error from None
            self._started_cluster = True
        cpus = self.ray.cluster_resources().get("CPU", 0)
        if cpus < workers:  # each worker takes a CPU: the others wait until the cluster grows (autoscaling)
            print(f"hwnas: note: the Ray cluster has {cpus:g} CPU(s) now for --workers {workers} (one each); the "
                  f"others start when it grows; if it cannot, stop (Ctrl-C) and resume with --workers "
                  f"{max(1, int(cpus))}", file=sys.stderr)
        gpus = 1 if self.ray.cluster_resources().get("GPU", 0) >= workers else 0
        self._actor_class = self.ray.remote(num_cpus=1, num_gpus=gpus)(_RayWorker)
        self._actors: list[Any] = []
        self._starting: dict[Any, int] = {}  # an actor's ready() ref -> its slot, until it is ready
        self._start_deaths = 0  # actors that died before they were ready (each one replaced)

    def _restart(self, slot: int) -> None:
        """A new actor in ``slot``; it takes work once ready (start-up never counts as run time)."""
        self._actors[slot] = self._actor_class.remote(self.worker_spec())
        self._starting[self._actors[slot].ready.remote()] = slot

    def map(self, genomes: Sequence[np.ndarray]) -> Iterator[tuple[int, Evaluation]]:
        ray = self.ray
        if not len(genomes):  # nothing new (a resumed batch read back from the store): no worker yet
            return
        if not self._actors:  # each slot takes work once its actor is ready: on a cluster with fewer
            # CPUs than workers the first ones evaluate while the others wait for the cluster to grow
            self._actors = [None] * self.workers
            for slot in range(self.workers):
                self._restart(slot)
        queue = deque((i, np.asarray(g), 1) for i, g in enumerate(genomes))
        running: dict[Any, tuple[int, tuple[int, np.ndarray, int], float]] = {}  # ref -> slot, task, start
        done = 0
        spent: dict[int, float] = {}  # index -> seconds its actors ran it before they died
        while done < len(genomes):
            busy = {slot for slot, _, _ in running.values()} | set(self._starting.values())
            for slot in range(self.workers):
                if slot not in busy and queue:
                    task = queue.popleft()
                    running[self._actors[slot].evaluate.remote(task[1])] = (slot, task, time.perf_counter())
            wait_s = None
            if self.eval_timeout_s is not None and running:
                wait_s = max(0.0, min(s + self.eval_timeout_s for _, _, s in running.values()) - time.perf_counter())
            finished, _ = ray.wait(list(running) + list(self._starting), num_returns=1, timeout=wait_s)
            for ref in finished:
                if ref in self._starting:
                    slot = self._starting.pop(ref)
                    try:
                        ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        if isinstance(exc, ray.exceptions.RayActorError) and not exc.actor_init_failed \
                                and self._start_deaths < MAX_ATTEMPTS:
                            # killed while starting (kill -9, the out-of-memory killer, a lost node), not
                            # an evaluator that cannot be built; it held no candidate: start another
                            self._start_deaths += 1
                            self._restart(slot)
                            continue
                        raise ExecutionError(f"a Ray worker could not build the run's evaluator "
                                             f"({str(exc).splitlines()[0]}); run with executor = \"local\" "
                                             f"to see the error in this process") from None
                    continue
                slot, (index, genome, attempt), start = running.pop(ref)
                try:
                    kind, payload = ray.get(ref)
                except ray.exceptions.RayActorError as exc:
                    spent[index] = spent.get(index, 0.0) + time.perf_counter() - start
                    self._restart(slot)
                    if attempt < MAX_ATTEMPTS:
                        queue.appendleft((index, genome, attempt + 1))
                        continue
                    done += 1
                    yield index, failed_evaluation(self.evaluator.space, genome,
                                                   f"WorkerDied: the Ray actor died on {attempt} attempts "
                                                   f"({type(exc).__name__})", spent[index])
                    continue
                if kind == "error":
                    raise payload
                done += 1
                yield index, payload
            if self.eval_timeout_s is None:
                continue
            for ref, (slot, (index, genome, _), start) in list(running.items()):
                if time.perf_counter() - start >= self.eval_timeout_s and not ray.wait([ref], timeout=0)[0]:
                    running.pop(ref)
                    ray.kill(self._actors[slot], no_restart=True)
                    self._restart(slot)
                    done += 1
                    yield index, failed_evaluation(self.evaluator.space, genome, self.timeout_reason(),
                                                   self.eval_timeout_s)

    def close(self) -> None:
        for actor in self._actors:
            self.ray.kill(actor, no_restart=True)
        self._actors = []
        self._starting = {}
        if self._started_cluster:
            self.ray.shutdown()
            self._started_cluster = False
