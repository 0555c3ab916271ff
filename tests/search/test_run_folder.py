"""A search's run folder (:mod:`hwnas.search.run_folder`): never overwriting another run or other
files, a stored run's lost config, the lock."""

import pytest

from hwnas.exceptions import StoreError
from hwnas.search.runner import run_search
from hwnas.store import Store


def test_a_second_search_into_a_folder_being_written_is_refused(tmp_path, make_config):
    import fcntl
    import os

    run = tmp_path / "r"
    run.mkdir()
    fd = os.open(run / ".lock", os.O_RDWR | os.O_CREAT)  # another process's search, running
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, b"12345")
        for resume in (False, True):
            with pytest.raises(StoreError, match=r"^another hwnas process is writing .*r \(pid 12345\); wait for it "
                                                 r"or choose another run_dir$"):
                if resume:
                    Store(run / Store.FILE_NAME).close()
                run_search(make_config(), run, resume=resume, progress=False)
        assert not (run / "evaluations.csv").exists() and len(Store(run / Store.FILE_NAME)) == 0
    finally:
        os.close(fd)
    assert run_search(make_config(), run, resume=True, progress=False).evaluations > 0  # free again


def test_a_file_system_without_locks_runs_unguarded(tmp_path, make_config, monkeypatch):
    import errno
    import fcntl

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)  # some network mounts
    assert run_search(make_config(), tmp_path / "r", progress=False).evaluations > 0


@pytest.mark.parametrize("lost", ["emptied", "config row gone"])
def test_resume_refuses_a_store_that_lost_its_config(tmp_path, make_config, lost):
    import sqlite3

    run = tmp_path / "r"
    run_search(make_config(), run, progress=False)
    before = (run / "evaluations.csv").read_text()
    if lost == "emptied":
        (run / Store.FILE_NAME).write_bytes(b"")
    else:
        db = sqlite3.connect(run / Store.FILE_NAME)
        with db:
            db.execute("DELETE FROM meta WHERE key = 'config'")
        db.close()
    stored = (run / Store.FILE_NAME).read_bytes()
    with pytest.raises(StoreError, match=r"^resume=True: .*store\.sqlite has lost its run's config \(an emptied or "
                                         r"damaged file\), so its evaluations cannot be continued; start a new run_dir$"):
        run_search(make_config(search={"evaluations": 7}), run, resume=True, progress=False)
    assert (run / "evaluations.csv").read_text() == before  # left as it was
    assert (run / Store.FILE_NAME).read_bytes() == stored  # the refused resume wrote no schema into it


def test_a_folder_holding_a_runs_csv_but_no_store_is_never_overwritten(tmp_path, make_config):
    run_search(make_config(search={"evaluations": 8}), tmp_path / "r", progress=False)
    (tmp_path / "r" / "store.sqlite").unlink()  # deleted, or only the CSVs were copied
    before = (tmp_path / "r" / "evaluations.csv").read_text()
    with pytest.raises(StoreError, match=r"holds a run's evaluations.csv but no store.sqlite; a new search would "
                                         r"overwrite it: choose another run_dir"):
        run_search(make_config(search={"evaluations": 8}), tmp_path / "r", progress=False)
    with pytest.raises(StoreError, match=r"resume=True: .* holds evaluations.csv but no store.sqlite .*restore "
                                         r"store.sqlite there, or search into a new run_dir$"):
        run_search(make_config(search={"evaluations": 8}), tmp_path / "r", resume=True, progress=False)
    assert (tmp_path / "r" / "evaluations.csv").read_text() == before


def test_a_new_search_never_overwrites_a_foreign_config_json(tmp_path, make_config):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "config.json").write_text('{"mine": 1}')  # --out . in a project of one's own
    with pytest.raises(StoreError, match=r"holds config.json and no store.sqlite \(not a run's folder\): a search "
                                         r"would overwrite it; choose another run_dir, or move it away first"):
        run_search(make_config(search={"evaluations": 8}), folder, progress=False)
    assert (folder / "config.json").read_text() == '{"mine": 1}'


def test_a_run_folder_that_is_a_file_is_one_error_in_python_words(tmp_path, make_config):
    # the CLI checks its --out first; run_search from Python raised FileExistsError
    from hwnas.exceptions import ConfigError

    (tmp_path / "notes.txt").write_text("mine")
    for run_dir, where in ((tmp_path / "notes.txt", ""), (tmp_path / "notes.txt" / "r", f": {tmp_path / 'notes.txt'}")):
        with pytest.raises(ConfigError, match=rf"^run_dir {run_dir}{where} is a file; give a folder for the run's files$"):
            run_search(make_config(), run_dir, progress=False)
    assert (tmp_path / "notes.txt").read_text() == "mine"
