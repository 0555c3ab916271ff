"""The default executor: this process, or ``workers`` local processes.

With one worker and no timeout, evaluations run in the search's own process (no start-up cost,
which matters for table searches). Otherwise each worker is a spawned process that builds the
run's evaluator once and evaluates genomes sent over a pipe; a worker that overruns the timeout
is killed and replaced, and one that dies has its candidate retried once on a fresh worker.
"""

from __future__ import annotations

import os
import signal
import time
from collections import deque
from multiprocessing import connection, get_context
from typing import Iterator, Sequence

import numpy as np

from ..evaluation import Evaluation, failed_evaluation
from ..exceptions import ExecutionError
from .base import EXECUTORS, MAX_ATTEMPTS, Executor, WorkerSpec


def _exit_with(parent: int) -> None:
    """End this worker as soon as the search process ``parent`` is gone (``kill -9``): a worker
    only sees it between candidates, and a hung one would run on, past any timeout."""
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="hwnas-parent-watch", daemon=True).start()


def _worker_main(conn, spec: WorkerSpec, parent: int) -> None:
    """A worker process: build the evaluator, then evaluate genomes until told to stop."""
    from ..exceptions import HwnasError

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _exit_with(parent)
    try:
        evaluator = spec.build_evaluator()
    except HwnasError as exc:
        _send(conn, ("error", None, exc))
        return
    if not _send(conn, ("ready", None, None)):
        return
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the search process is gone (killed): nothing left to do
            return
        if task is None:
            return
        index, genome = task
        try:
            message = ("done", index, evaluator.evaluate(genome))
        except HwnasError as exc:  # a user error every candidate would hit: the parent stops
            message = ("error", index, exc)
        if not _send(conn, message):
            return


def _send(conn, message: tuple) -> bool:
    """Send ``message`` to the search process; False when it is gone (killed: a broken pipe),
    which leaves the worker nothing to do and nothing to say."""
    try:
        conn.send(message)
    except OSError:  # BrokenPipeError, ConnectionResetError
        return False
    return True


class _Worker:
    """One worker process and the task it is running."""

    def __init__(self, spec: WorkerSpec) -> None:
        ctx = get_context("spawn")  # never fork a process whose torch/OpenMP threads are running
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, spec, os.getpid()), daemon=True)
        self.proc.start()
        child.close()
        self.ready = False
        self.task: tuple[int, np.ndarray, int] | None = None  # index, genome, attempt
        self.started = 0.0

    def assign(self, task: tuple[int, np.ndarray, int]) -> None:
        self.task, self.started = task, time.perf_counter()
        self.conn.send((task[0], task[1]))

    def stop(self, *, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


@EXECUTORS.register("local")
class LocalExecutor(Executor):
    """Evaluations in this process (1 worker, no timeout) or in local worker processes."""

    name = "local"

    def __init__(self, evaluator, spec: WorkerSpec, *, workers: int, eval_timeout_s: float | None) -> None:
        super().__init__(evaluator, spec, workers=workers, eval_timeout_s=eval_timeout_s)
        self._pool: list[_Worker] = []
        self._start_kills = 0  # workers killed by a signal before they were ready (each one replaced)

    @property
    def in_process(self) -> bool:
        return self.workers == 1 and self.eval_timeout_s is None

    def map(self, genomes: Sequence[np.ndarray]) -> Iterator[tuple[int, Evaluation]]:
        if not len(genomes):  # nothing new (a resumed batch read back from the store): no worker yet
            return
        if self.in_process:
            for i, genome in enumerate(genomes):
                yield i, self.evaluator.evaluate(genome)
            return
        if not self._pool:
            self._pool = [_Worker(self.worker_spec()) for _ in range(self.workers)]
        yield from self._run(deque((i, np.asarray(g), 1) for i, g in enumerate(genomes)), len(genomes))

    def _run(self, queue: deque, total: int) -> Iterator[tuple[int, Evaluation]]:
        done = 0
        spent: dict[int, float] = {}  # index -> seconds its workers ran it before they died
        while done < total:
            for w in self._pool:
                if w.ready and w.task is None and queue:
                    w.assign(queue.popleft())
            busy = [w for w in self._pool if w.task is not None]
            wait_s = None
            if self.eval_timeout_s is not None and busy:
                wait_s = max(0.0, min(w.started + self.eval_timeout_s for w in busy) - time.perf_counter())
            ready = connection.wait([w.conn for w in self._pool] + [w.proc.sentinel for w in self._pool], wait_s)
            for slot, w in enumerate(list(self._pool)):
                if w.conn in ready:
                    try:
                        kind, index, payload = w.conn.recv()
                    except (EOFError, OSError):
                        kind = "died"
                    if kind == "ready":
                        w.ready = True
                        continue
                    if kind == "error":
                        raise payload
                    if kind == "done":
                        w.task = None
                        done += 1
                        yield index, payload
                        continue
                elif w.proc.sentinel not in ready:
                    if w.task is not None and self.eval_timeout_s is not None and \
                            time.perf_counter() - w.started >= self.eval_timeout_s:
                        index, genome, _ = w.task
                        self._replace(slot, kill=True)
                        done += 1
                        yield index, failed_evaluation(self.evaluator.space, genome, self.timeout_reason(),
                                                       self.eval_timeout_s)
                    continue
                # the worker process is gone (killed, out of memory, crashed in native code)
                w.proc.join(timeout=5)
                code = w.proc.exitcode
                if not w.ready:
                    if code is not None and code < 0 and self._start_kills < MAX_ATTEMPTS:
                        # killed by a signal (kill, the out-of-memory killer) while it held no
                        # candidate: not a script's missing guard, and nothing lost; start another
                        self._start_kills += 1
                        self._replace(slot, kill=True)
                        continue
                    if code is not None and code < 0:
                        raise ExecutionError(f"evaluation worker processes were killed (signal {-code}) while "
                                             f"starting, {self._start_kills + 1} times; if memory is short "
                                             f"(the out-of-memory killer), run with fewer workers")
                    raise ExecutionError(f"an evaluation worker process exited (code {code}) while starting; "
                                         f"a script that starts a search must guard it with "
                                         f"`if __name__ == \"__main__\":`; run with workers = 1 to see "
                                         f"any other error in this process")
                task = w.task
                self._replace(slot, kill=True)
                if task is None:
                    continue
                index, genome, attempt = task
                spent[index] = spent.get(index, 0.0) + time.perf_counter() - w.started
                if attempt < MAX_ATTEMPTS:
                    queue.appendleft((index, genome, attempt + 1))
                else:
                    done += 1
                    yield index, failed_evaluation(
                        self.evaluator.space, genome,
                        f"WorkerDied: the worker process exited (code {code}) on {attempt} attempts", spent[index])

    def _replace(self, slot: int, *, kill: bool) -> None:
        self._pool[slot].stop(kill=kill)
        self._pool[slot] = _Worker(self.worker_spec())

    def close(self) -> None:
        for w in self._pool:
            w.stop()
        self._pool = []
