"""Advisory file locks that keep two hwnas processes from writing one run folder at once.

A search holds ``<run>/.lock`` while it writes the run; ``hwnas compress`` holds
``<run>/compressed.lock`` from reading ``compressed.csv`` to writing it. Where there is no
``flock`` (Windows) or the file system has no locks (some network mounts), the work goes on
unguarded, as it did before locks existed.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


@contextmanager
def held(path: Path, busy: Callable[[str], None]) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    Args:
        path: the lock file; it records the holder's pid.
        busy: called with the holder's pid (``"unknown"`` when not recorded) when another process
            holds the lock: raise to refuse, or return to wait for it.
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): unguarded
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except BlockingIOError:
            busy(os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown")
            fcntl.flock(fd, fcntl.LOCK_EX)
            locked = True
        except OSError:  # a file system without locks: unguarded
            locked = False
        if locked:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def holder(path: Path) -> str | None:
    """The pid recorded in the lock file ``path`` when another process holds it now, else None (no
    such file, nobody holds it, or no locks here), for a reader that only needs to know.

    Args:
        path: a lock file that :func:`held` takes.
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): nothing can be held
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # released with the file at once
    except BlockingIOError:
        return os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
    except OSError:  # a file system without locks
        return None
    finally:
        os.close(fd)
    return None
