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
