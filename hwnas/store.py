"""The run's SQLite store: every evaluation is committed before the search moves on.

It is the source of truth for ``--resume``: a resumed search replays its seeded algorithm and
takes every architecture already in the store from here instead of evaluating it again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .evaluation import Evaluation
from .exceptions import OUT, RESUME, StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    arch TEXT NOT NULL UNIQUE,
    genome TEXT NOT NULL,
    status TEXT NOT NULL,
    metrics TEXT NOT NULL,
    reason TEXT,
    duration_s REAL NOT NULL,
    created_at REAL NOT NULL,
    seq INTEGER
);
"""


class Store:
    """Evaluations of one run, in evaluation order, keyed by canonical architecture.

    Args:
        path: the SQLite file (created if missing).
        readonly: read without writing (``hwnas pick``, ``export``); the file must exist.

    Example:
        >>> store = Store(Path(tmp) / "store.sqlite")   # doctest: +SKIP
        >>> store.add(evaluation); store.get(evaluation.arch)
    """

    FILE_NAME = "store.sqlite"

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self._sidecars_made = False  # whether this read-only open made store.sqlite-wal/-shm
        if readonly:
            found = self._sidecars_exist()
            self._db = self._open_readonly()
            self._sidecars_made = not found and self._sidecars_exist()
            return
        try:
            self._db = sqlite3.connect(self.path)
            # WAL + synchronous=NORMAL: each commit survives a killed process (not a power cut)
            # without an fsync per evaluation, which would dominate fast (table) evaluations.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(evaluations)")}
            if "seq" not in columns:  # a store written before parallel evaluation existed
                with self._db:
                    self._db.execute("ALTER TABLE evaluations ADD COLUMN seq INTEGER")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable hwnas store ({exc}); choose another {OUT} directory") from None

    def _open_readonly(self) -> sqlite3.Connection:
        """A connection that writes nothing (``hwnas pick``, ``export`` on a run another user
        owns, or on read-only media); ``immutable`` where even WAL's shared memory cannot be made."""
        uri = self.path.resolve().as_uri()
        for mode in ("mode=ro", "immutable=1"):
            wal = self._sidecars()[0]
            if mode == "immutable=1" and wal.is_file() and wal.stat().st_size > 0:
                # immutable reads the main file only: the last evaluations, still in the WAL, would be missing
                raise StoreError(f"{self.path}: cannot be read here without writing (its latest evaluations are "
                                 f"still in {wal.name}); copy the run folder somewhere writable and pass that")
            try:
                db = sqlite3.connect(f"{uri}?{mode}", uri=True)
                db.execute("SELECT COUNT(*) FROM evaluations").fetchone()
                return db
            except sqlite3.DatabaseError as exc:
                error = exc
        if "no such table" in str(error):
            raise StoreError(f"{self.path}: not an hwnas store ({error}); pass the {OUT} directory of a "
                             f"'hwnas search'") from None
        raise self._error(error)

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """SQLite's errors once the store is open (a full disk, a damaged file) as one StoreError."""
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None

    def _error(self, exc: sqlite3.DatabaseError) -> StoreError:
        text = str(exc)
        if "malformed" in text or "not a database" in text:
            damaged = StoreError(f"{self.path}: {text}: the store is damaged; search again into a new {OUT}")
            damaged.resumable = False  # no "continue with --resume" hint after it
            return damaged
        if "readonly" in text:  # a run copied from read-only media, another user's file: no space is missing
            return StoreError(f"{self.path}: {text}: this user cannot write it; make it (and its folder) writable, "
                              f"or copy the run folder somewhere writable, then {RESUME} there")
        if "locked" in text:  # a write transaction of another program (a sqlite3 shell, a database browser)
            return StoreError(f"{self.path}: {text} by another program (a sqlite3 shell or database browser with "
                              f"changes not committed); close it, then {RESUME}")
        return StoreError(f"{self.path}: {text}; free space (or fix the disk), then {RESUME}")

    def _sidecars(self) -> tuple[Path, Path]:
        """The WAL and its shared-memory index, beside the store file."""
        return self.path.with_name(self.path.name + "-wal"), self.path.with_name(self.path.name + "-shm")

    def _sidecars_exist(self) -> bool:
        return any(f.exists() for f in self._sidecars())

    def close(self) -> None:
        """Close the connection; a read-only one leaves the run folder as it found it.

        A read-only connection cannot remove the ``-wal``/``-shm`` files it made (only the last
        read-write connection does), so where this open made them and the WAL is still empty, a
        read-write connection opens and closes at once: SQLite then removes them itself, and only
        where it is the store's last connection (its exclusive lock on the file), so a search or
        another ``pick`` that has the store open keeps them, and a WAL holding data is never touched.
        """
        self._db.close()
        wal = self._sidecars()[0]
        if self._sidecars_made and wal.is_file() and wal.stat().st_size == 0:
            try:
                db = sqlite3.connect(self.path, timeout=0)
                try:
                    db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # opens the WAL, to close it
                finally:
                    db.close()
            except sqlite3.Error:  # a store file this user cannot write: the files stay, as before
                pass

    # --- metadata ---------------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        """A JSON metadata value, or None."""
        with self._guarded():
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable metadata value."""
        with self._guarded(), self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    # --- evaluations ------------------------------------------------------------------
    def add(self, ev: Evaluation) -> Evaluation:
        """Commit an evaluation; its ``id`` is its place in the evaluation order.

        The runner sets ``ev.id`` to the order in which the search proposed the architecture,
        so parallel evaluations finishing out of order still list in proposal order; without
        one, the id is the commit order.

        Raises:
            StoreError: the architecture is already stored (it must never be evaluated twice).
        """
        try:
            with self._guarded(), self._db:
                cur = self._db.execute(
                    "INSERT INTO evaluations (arch, genome, status, metrics, reason, duration_s, created_at, seq)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (ev.arch, json.dumps(ev.genome), ev.status, json.dumps(ev.metrics), ev.reason,
                     ev.duration_s, time.time(), ev.id),
                )
        except sqlite3.IntegrityError:
            raise StoreError(f"{self.path}: architecture {ev.arch!r} is already stored") from None
        if ev.id is None:
            ev.id = int(cur.lastrowid)
        return ev

    def update_metrics(self, arch: str, metrics: dict[str, float]) -> None:
        """Merge ``metrics`` into a stored evaluation's (its latency re-measured after the search,
        say); a key it had is replaced.

        Raises:
            StoreError: the architecture is not stored.
        """
        with self._guarded(), self._db:
            row = self._db.execute("SELECT metrics FROM evaluations WHERE arch = ?", (arch,)).fetchone()
            if row is None:
                raise StoreError(f"{self.path}: architecture {arch!r} is not stored; only an evaluated one is updated")
            self._db.execute("UPDATE evaluations SET metrics = ? WHERE arch = ?",
                             (json.dumps({**json.loads(row[0]), **metrics}), arch))

    def get(self, arch: str) -> Evaluation | None:
        """The stored evaluation of a canonical architecture, or None."""
        with self._guarded():
            row = self._db.execute(f"SELECT {self._COLS} FROM evaluations WHERE arch = ?", (arch,)).fetchone()
        return None if row is None else self._row(row)

    def get_id(self, eval_id: int) -> Evaluation | None:
        """The evaluation with a given id, or None."""
        with self._guarded():
            row = self._db.execute(f"SELECT {self._COLS} FROM evaluations WHERE COALESCE(seq, id) = ?",
                                   (eval_id,)).fetchone()
        return None if row is None else self._row(row)

    def all(self) -> list[Evaluation]:
        """Every evaluation in evaluation order."""
        return list(self)

    def __iter__(self) -> Iterator[Evaluation]:
        with self._guarded():
            rows = self._db.execute(f"SELECT {self._COLS} FROM evaluations ORDER BY COALESCE(seq, id), id").fetchall()
        for row in rows:
            yield self._row(row)

    def __len__(self) -> int:
        with self._guarded():
            return int(self._db.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0])

    _COLS = "COALESCE(seq, id), arch, genome, status, metrics, reason, duration_s"

    @staticmethod
    def _row(row: tuple) -> Evaluation:
        i, arch, genome, status, metrics, reason, duration = row
        return Evaluation(arch, json.loads(genome), status, json.loads(metrics), reason, duration, i)
