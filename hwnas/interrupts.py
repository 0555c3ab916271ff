"""Stopping cleanly: which signals stop a command, and holding them off while files are committed.

Ctrl-C raises KeyboardInterrupt; :func:`kill_as_interrupt` makes ``kill`` (SIGTERM) and a closed
terminal (SIGHUP) do the same, so every long command saves what it finished and exits 130.
:func:`held_interrupts` notes those signals instead of acting on them, for the few moments that
files which must change together are moved into place.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator

#: Signals that stop a command as Ctrl-C does: ``kill`` and a closed terminal (SIGHUP, POSIX only).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextmanager
def kill_as_interrupt() -> Iterator[None]:
    """Within the block, ``kill`` (SIGTERM) and a hang-up (SIGHUP: a closed terminal, a dropped
    SSH session) stop the command as cleanly as Ctrl-C: they raise KeyboardInterrupt, which the
    command turns into what it saved and exit status 130."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    with _handled(STOP_SIGNALS, interrupt):
        yield


@contextmanager
def held_interrupts() -> Iterator[list[int]]:
    """Within the block, Ctrl-C and the :data:`STOP_SIGNALS` are noted in the yielded list instead
    of stopping anything (Python-level handlers: blocking the signals would not stop the other
    threads of torch or ONNX Runtime from taking them); the caller acts on them afterwards."""
    came: list[int] = []
    with _handled((signal.SIGINT, *STOP_SIGNALS), lambda signum, frame: came.append(signum)):
        yield came


@contextmanager
def _handled(signals, handler) -> Iterator[None]:
    """``handler`` for ``signals`` within the block; the previous handlers afterwards."""
    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, before in previous.items():
            signal.signal(s, before)
