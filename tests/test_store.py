"""SQLite store: order, uniqueness, metadata, reopening."""

import pytest

from hwnas.evaluation import Evaluation
from hwnas.exceptions import StoreError
from hwnas.store import Store


def test_add_get_order_and_reopen(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    a = store.add(Evaluation("a", [0], "ok", {"error_pct": 1.0}))
    b = store.add(Evaluation("b", [1], "failed", {}, "RuntimeError: boom"))
    store.set_meta("config", {"x": 1})
    store.close()
    store = Store(tmp_path / "s.sqlite")
    assert [e.arch for e in store.all()] == ["a", "b"] and a.id < b.id
    assert store.get("b").reason == "RuntimeError: boom" and not store.get("b").ok
    assert store.get("zzz") is None and store.get_meta("config") == {"x": 1} and len(store) == 2


def test_duplicate_is_refused(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.add(Evaluation("a", [0], "ok"))
    with pytest.raises(StoreError, match="already stored"):
        store.add(Evaluation("a", [0], "ok"))


def test_not_a_database(tmp_path):
    p = tmp_path / "s.sqlite"
    p.write_text("not sqlite at all" * 100)
    with pytest.raises(StoreError, match=r"not a usable hwnas store .*; choose another run_dir directory$"):
        Store(p).all()


def test_numbered_evaluations_list_in_proposal_order_whatever_the_commit_order(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    for arch, number in (("c", 3), ("a", 1), ("b", 2)):  # parallel workers finishing out of order
        store.add(Evaluation(arch, [0], "ok", id=number))
    assert [(e.arch, e.id) for e in store.all()] == [("a", 1), ("b", 2), ("c", 3)]
    assert store.get_id(3).arch == "c" and store.get("b").id == 2


def test_a_store_from_before_numbering_is_upgraded_in_place(tmp_path):
    import sqlite3

    path = tmp_path / "s.sqlite"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE evaluations (id INTEGER PRIMARY KEY AUTOINCREMENT, arch TEXT NOT NULL UNIQUE,"
                     " genome TEXT NOT NULL, status TEXT NOT NULL, metrics TEXT NOT NULL, reason TEXT,"
                     " duration_s REAL NOT NULL, created_at REAL NOT NULL);"
                     " INSERT INTO evaluations VALUES (1, 'a', '[0]', 'ok', '{}', NULL, 0.1, 0);")
    db.commit()
    db.close()
    store = Store(path)
    store.add(Evaluation("b", [1], "ok", id=2))
    assert [(e.arch, e.id) for e in store.all()] == [("a", 1), ("b", 2)]


def _damaged(tmp_path):
    """A store whose evaluation pages were overwritten (its first page, the schema, intact)."""
    p = tmp_path / "s.sqlite"
    store = Store(p)
    for i in range(300):
        store.add(Evaluation(f"arch{i}" * 5, [i], "ok", {"error_pct": 1.0}))
    store.set_meta("config", {"x": 1})
    store.close()
    data = bytearray(p.read_bytes())
    data[4096 * 3:4096 * 5] = b"\xff" * 8192
    p.write_bytes(bytes(data))
    return p


@pytest.mark.parametrize("readonly", [False, True])
def test_a_damaged_store_says_so_in_one_line(tmp_path, readonly):
    p = _damaged(tmp_path)
    with pytest.raises(StoreError, match=r"s\.sqlite: database disk image is malformed: the store is damaged; "
                                         r"search again into a new run_dir$"):
        Store(p, readonly=readonly).all()


def test_a_full_disk_while_writing_says_free_space_then_resume(tmp_path):
    import sqlite3

    store = Store(tmp_path / "s.sqlite")

    class _FullDisk:  # what SQLite says when a write hits the file-size limit or a full disk
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def execute(self, *args):
            raise sqlite3.OperationalError("disk I/O error")

    store._db = _FullDisk()
    for write in (lambda: store.set_meta("config", {}), lambda: store.add(Evaluation("a", [0], "ok"))):
        with pytest.raises(StoreError, match=r"s\.sqlite: disk I/O error; free space \(or fix the disk\), then "
                                             r"resume=True$"):
            write()


def test_a_read_only_run_folder_is_read_without_writing(tmp_path):
    import stat

    run = tmp_path / "run"
    run.mkdir()
    store = Store(run / "s.sqlite")
    store.add(Evaluation("a", [0], "ok"))
    store.close()
    run.chmod(stat.S_IRUSR | stat.S_IXUSR)  # another user's run, or read-only media (root writes anyway)
    try:
        store = Store(run / "s.sqlite", readonly=True)
        assert [e.arch for e in store.all()] == ["a"]
        with pytest.raises(StoreError, match="readonly"):
            store.set_meta("x", 1)  # opened read-only: nothing is written
        store.close()
    finally:
        run.chmod(stat.S_IRWXU)


def test_a_store_whose_latest_evaluations_are_in_its_wal_is_not_read_as_immutable(tmp_path, monkeypatch):
    import sqlite3

    import hwnas.store

    writer = Store(tmp_path / "s.sqlite")  # a killed search's connection: its WAL not checkpointed
    writer.add(Evaluation("a", [0], "ok"))
    assert (tmp_path / "s.sqlite-wal").stat().st_size > 0
    real = sqlite3.connect

    def no_shared_memory(database, *args, **kwargs):  # mode=ro fails where WAL's shared memory cannot be made
        if "mode=ro" in str(database):
            raise sqlite3.OperationalError("unable to open database file")
        return real(database, *args, **kwargs)

    monkeypatch.setattr(hwnas.store.sqlite3, "connect", no_shared_memory)
    try:
        with pytest.raises(StoreError, match=r"latest evaluations are still in s\.sqlite-wal\); copy the run folder "
                                             r"somewhere writable"):
            Store(tmp_path / "s.sqlite", readonly=True)
    finally:
        writer.close()


def test_a_file_that_is_no_store_is_refused_read_only(tmp_path):
    (tmp_path / "s.sqlite").write_bytes(b"")
    with pytest.raises(StoreError, match=r"s\.sqlite: not an hwnas store \(no such table: evaluations\); pass the "
                                         r"run_dir directory of a 'hwnas search'$"):
        Store(tmp_path / "s.sqlite", readonly=True)


def test_update_metrics_merges_into_a_stored_evaluation(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.add(Evaluation("a", [0], "ok", {"latency_ms": 0.2, "error_pct": 3.0}))
    store.update_metrics("a", {"latency_ms_predicted": 0.2, "latency_ms_measured": 0.25})
    store.update_metrics("a", {"latency_ms_measured": 0.24})  # re-measured on a resume
    store.close()
    store = Store(tmp_path / "s.sqlite")
    assert store.get("a").metrics == {"latency_ms": 0.2, "error_pct": 3.0, "latency_ms_predicted": 0.2,
                                      "latency_ms_measured": 0.24}
    with pytest.raises(StoreError, match="architecture 'b' is not stored"):
        store.update_metrics("b", {"latency_ms_measured": 1.0})


def _sidecars(folder):
    return sorted(p.name for p in folder.glob("s.sqlite-*"))


def test_a_read_only_open_leaves_a_folder_without_wal_files_as_it_found_it(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.add(Evaluation("a", [0], "ok"))
    store.close()
    assert _sidecars(tmp_path) == []  # a finished search's folder
    store = Store(tmp_path / "s.sqlite", readonly=True)  # hwnas pick, export
    assert [e.arch for e in store.all()] == ["a"]
    store.close()
    assert _sidecars(tmp_path) == []


def test_a_read_only_open_keeps_the_wal_files_of_a_store_open_elsewhere(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.add(Evaluation("a", [0], "ok"))
    store.close()
    other = Store(tmp_path / "s.sqlite", readonly=True)  # another pick, still reading
    mine = Store(tmp_path / "s.sqlite", readonly=True)
    mine.close()
    assert _sidecars(tmp_path) == ["s.sqlite-shm", "s.sqlite-wal"]
    writer = Store(tmp_path / "s.sqlite")  # a search starting on the folder
    writer.add(Evaluation("b", [0], "ok"))
    other.close()
    assert _sidecars(tmp_path) == ["s.sqlite-shm", "s.sqlite-wal"]
    assert (tmp_path / "s.sqlite-wal").stat().st_size > 0
    writer.close()
    assert _sidecars(tmp_path) == []  # the last connection, the search's, removed them


def test_a_read_only_open_leaves_a_killed_search_s_wal_untouched(tmp_path):
    import shutil

    writer = Store(tmp_path / "s.sqlite")
    writer.add(Evaluation("a", [0], "ok"))
    killed = tmp_path / "killed"  # the files as a killed search leaves them: its last evaluation in the WAL
    killed.mkdir()
    for name in ("s.sqlite", "s.sqlite-wal"):
        shutil.copy(tmp_path / name, killed / name)
    writer.close()
    before = {p.name: p.read_bytes() for p in killed.iterdir()}
    assert len(before["s.sqlite-wal"]) > 0
    store = Store(killed / "s.sqlite", readonly=True)
    assert [e.arch for e in store.all()] == ["a"]
    store.close()
    assert {p.name: p.read_bytes() for p in killed.iterdir() if p.name != "s.sqlite-shm"} == before


def test_writing_a_store_this_user_cannot_write_says_make_it_writable_not_free_space(tmp_path):
    import sqlite3

    store = Store(tmp_path / "s.sqlite")
    store.close()
    # what SQLite gives on a store file this user may only read (root writes anyway, so opened read-only here)
    store._db = sqlite3.connect(f"{(tmp_path / 's.sqlite').as_uri()}?mode=ro", uri=True)
    with pytest.raises(StoreError, match=r"s\.sqlite: attempt to write a readonly database: this user cannot write "
                                         r"it; make it \(and its folder\) writable, or copy the run folder "
                                         r"somewhere writable, then resume=True there$"):
        store.set_meta("config", {})


def test_a_store_another_program_holds_locked_says_close_it_not_free_space(tmp_path):
    import sqlite3

    store = Store(tmp_path / "s.sqlite")
    other = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)  # a sqlite3 shell in a transaction
    other.execute("BEGIN EXCLUSIVE")
    store._db.close()
    store._db = sqlite3.connect(tmp_path / "s.sqlite", timeout=0)  # SQLite's 5 s wait, skipped
    try:
        with pytest.raises(StoreError, match=r"s\.sqlite: database is locked by another program \(a sqlite3 shell or "
                                             r"database browser with changes not committed\); close it, then "
                                             r"resume=True$"):
            store.set_meta("config", {})
    finally:
        other.close()
