"""Executors: where a search's evaluations run (this process, local worker processes, Ray)."""

from .base import EXECUTORS, Executor, WorkerSpec, threads_per_worker
from . import local, ray  # noqa: F401  (registration; ray itself is imported only when used)

__all__ = ["EXECUTORS", "Executor", "WorkerSpec", "threads_per_worker"]
