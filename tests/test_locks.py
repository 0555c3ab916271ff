"""hwnas.locks: one process at a time writes a run folder."""

import errno
import fcntl
import os

import pytest

from hwnas.locks import held


def test_a_held_lock_calls_busy_with_the_holders_pid(tmp_path):
    other = os.open(tmp_path / "l", os.O_RDWR | os.O_CREAT)  # another process's lock
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        os.write(other, b"4242")

        def refuse(pid):
            raise RuntimeError(f"held by {pid}")

        with pytest.raises(RuntimeError, match="held by 4242"):
            with held(tmp_path / "l", refuse):
                pass
    finally:
        os.close(other)
    with held(tmp_path / "l", refuse):  # free again: taken, and the pid recorded
        assert (tmp_path / "l").read_text() == str(os.getpid())


def test_a_file_system_without_locks_is_unguarded(tmp_path, monkeypatch):
    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)  # some network mounts
    entered = False
    with held(tmp_path / "l", lambda pid: pytest.fail("not busy")):
        entered = True
    assert entered


def test_holder_names_the_pid_of_a_held_lock_and_none_once_it_is_free(tmp_path):
    from hwnas.locks import holder

    assert holder(tmp_path / "l") is None  # no lock file at all
    with held(tmp_path / "l", lambda pid: pytest.fail("not busy")):
        assert holder(tmp_path / "l") == str(os.getpid())
    assert holder(tmp_path / "l") is None  # released: a finished or killed search
    with held(tmp_path / "l", lambda pid: pytest.fail("the check above must not keep the lock")):
        pass
