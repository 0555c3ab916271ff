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
    with pytest.raises(StoreError, match="not a usable hwnas store"):
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
