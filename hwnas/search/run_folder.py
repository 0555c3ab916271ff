"""A search's run folder: what it may search into, the stored run's config a ``--resume`` reads,
and the lock that keeps a second search out while one writes it."""

from __future__ import annotations

from pathlib import Path

from ..exceptions import OUT, RESUME, RunExistsError, StoreError
from ..outputs import CONFIG_JSON, EVALUATIONS_CSV, FRONT_CSV, PARETO_PNG, check_folder_to_write
from ..store import Store

#: the file a search holds locked while it writes its run directory
LOCK_FILE = ".lock"


def check_run_folder(run_dir: Path, resume: bool) -> None:
    """Refuse a ``--resume`` with no stored run, and a new run into a folder that holds one.

    Raises:
        StoreError: naming the folder, what it holds and the fix.
        RunExistsError: a new run into a folder that holds a stored run.
        ConfigError: ``run_dir`` is a file, or under one or under a folder that is not writable.
    """
    check_folder_to_write(run_dir, OUT, "the run's files")  # the CLI checked its --out; a Python caller's too
    store_path = run_dir / Store.FILE_NAME
    if not store_path.exists() and (run_dir / EVALUATIONS_CSV).is_file():
        # a run whose store was deleted (or not copied): a new search would overwrite its results
        if resume:
            raise StoreError(f"{RESUME}: {str(run_dir)!r} holds {EVALUATIONS_CSV} but no {Store.FILE_NAME} "
                             f"(deleted or not copied), and a run resumes only from its store: restore "
                             f"{Store.FILE_NAME} there, or search into a new {OUT}")
        raise StoreError(f"{str(run_dir)!r} holds a run's {EVALUATIONS_CSV} but no {Store.FILE_NAME}; a new "
                         f"search would overwrite it: choose another {OUT}, or move that run's files away first")
    ours = [n for n in (CONFIG_JSON, FRONT_CSV, PARETO_PNG) if (run_dir / n).exists()]
    if not resume and not store_path.exists() and ours:  # a folder of other files (--out .)
        raise StoreError(f"{str(run_dir)!r} holds {', '.join(ours)} and no {Store.FILE_NAME} (not a run's "
                         f"folder): a search would overwrite {'them' if len(ours) > 1 else 'it'}; choose another "
                         f"{OUT}, or move {'them' if len(ours) > 1 else 'it'} away first")
    if resume and not store_path.is_file():
        raise StoreError(f"{RESUME}: {str(run_dir)!r} holds no run to resume; drop {RESUME} to start one")
    if not resume and store_path.exists():
        raise RunExistsError(run_dir)


def stored_config(run_dir: Path) -> dict | None:
    """The config of the run stored in ``run_dir``; None for a store that never recorded one (a
    search stopped while starting).

    Raises:
        StoreError: the run had evaluated and its config is lost.
    """
    path = run_dir / Store.FILE_NAME
    config, evaluated = None, 0
    if path.stat().st_size:  # an emptied (0-byte) file holds neither
        # read-only: a resume refused here leaves the file as it was (no schema written into it)
        store = Store(path, readonly=True)
        try:
            config, evaluated = store.get_meta("config"), len(store)
        finally:
            store.close()
    if config is None and (evaluated or (run_dir / EVALUATIONS_CSV).exists()):
        raise StoreError(f"{RESUME}: {run_dir / Store.FILE_NAME} has lost its run's config (an emptied or "
                         f"damaged file), so its evaluations cannot be continued; start a new {OUT}")
    return config


def exclusive(run_dir: Path):
    """Hold ``run_dir`` for this process (:func:`hwnas.locks.held`): a second search (or resume)
    into it while this one runs would mix two runs in one store.

    Raises:
        StoreError: another process holds it (naming its pid).
    """
    from ..locks import held

    def refuse(pid: str) -> None:
        raise StoreError(f"another hwnas process is writing {run_dir} (pid {pid}); wait for it or choose "
                         f"another {OUT}")

    return held(run_dir / LOCK_FILE, refuse)


def writer(run_dir: Path) -> str | None:
    """The pid of the search that is writing ``run_dir`` now (:func:`exclusive`), else None."""
    from ..locks import holder

    return holder(Path(run_dir) / LOCK_FILE)
