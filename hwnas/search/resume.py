"""What a search records in its store, and the checks a ``--resume`` makes against it.

A resume replays the stored run (:mod:`hwnas.search.runner`), so everything its numbers came
from must be what this session would use: the config, the target, the cost models and their
tables, the task's data and the results version. Each difference is refused in one line naming
both values.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..config import RESUMABLE_SECTIONS
from ..exceptions import LATENCY_LUT, LATENCY_MEASURE, OUT, RESUME, StoreError
from ..outputs import PLUGINS_META, as_run
from ..registry import plugin_modules
from ..store import Store

if TYPE_CHECKING:
    from .runner import SearchRun

#: What a run's numbers and replay mean, recorded in its store: a resume across versions would
#: mix two kinds of numbers and replay the strategy differently. 1 (no record): before 2;
#: 2: ``macs`` without batch norm, budget violations relative to their bound, NB201 cells'
#: held nodes in ``peak_memory_mb``, mbv3 strides of odd input sizes, active-gene features;
#: 3: NB201 cells' node sums in ``peak_memory_mb`` (up to 24 % more activations).
RESULTS_VERSION = 3


def record_run(run: SearchRun, store: Store) -> None:
    """Record ``run`` in ``store`` (its config, target, cost models, sources, data digest...);
    on a resume, first refuse whatever differs from what the stored run recorded.

    Raises:
        StoreError: a resume whose results version, config, cost models, target, table or
            data differ from the stored run's.
    """
    current = run.config.to_dict()
    models = [c.name for c in run.parts.cost_models]
    if run.resume:
        stored_version = store.get_meta("results_version") or 1
        if store.get_meta("config") is not None and stored_version != RESULTS_VERSION:  # a run was recorded
            which = "an older" if stored_version < RESULTS_VERSION else "a newer"
            raise StoreError(f"{RESUME}: {run.run_dir} was stored by {which} hwnas (results version {stored_version}, "
                             f"this one {RESULTS_VERSION}: MACs, budget violations and a few spaces' "
                             f"numbers differ), so a resume would mix both and replay another search; its "
                             f"results stay readable (hwnas pick, export); search again into a new {OUT}")
        _check_same_config(run, store, current)
        stored_models = store.get_meta("cost_models")
        if stored_models is not None and stored_models != models:
            # an edited target file makes the run's table refuse it, which reads as other models
            # here: name the target's change, the cause, first
            stored_target = store.get_meta("target")
            _check_same_target(stored_target, run.parts.target.describe() if run.parts.target else None,
                               stored_models, remote=bool((stored_target or {}).get("remote")))
            flag = LATENCY_LUT if "lut" in stored_models else LATENCY_MEASURE
            raise StoreError(f"{RESUME}: the run used cost models {stored_models}, this session would use "
                             f"{models} (a latency table appeared or changed); resume with {flag}")
    target = run.parts.target.describe() if run.parts.target else None
    remote = remote_table(run.parts.cost_models)
    if target is not None and remote is not None:
        # the run's latencies are the table's, measured on its device with its runtime: this
        # machine's onnxruntime (which describe() reads) timed none of them
        target.update(runtime_version=remote.meta.get("runtime_version"), device=remote.meta.get("device"),
                      remote=True)
    if run.resume:
        _check_same_target(store.get_meta("target"), target, models, remote=remote is not None)
    data = run.parts.task.digest() if run.parts.task is not None else None
    stored_data = store.get_meta("data_digest") if run.resume else None
    if stored_data is not None and data is not None and stored_data != data:  # a run from before: not recorded
        where = f" ({run.config.task['path']})" if run.config.task.get("path") else ""
        raise StoreError(f"{RESUME}: the data of [task] dataset {run.parts.task.name!r}{where} "
                         f"changed since this run started, so its errors would mix two datasets: restore the "
                         f"data it ran on, or search into a new {OUT}")
    if run.resume:  # after the data: other data may give the space another input shape
        _check_same_space(run, store)
    store.set_meta("data_digest", data)
    store.set_meta("cost_models", models)
    # which modules registered the run's parts, so that export and compress can name them
    store.set_meta(PLUGINS_META, sorted({*(store.get_meta(PLUGINS_META) or []), *plugin_modules()}))
    # what the parts' numbers come from beyond the config (a table's rows): a resume on other ones
    # would mix two tables in one run; keyed by the cost model's name, or "<name> estimator"
    parts = [(c.name, f"{c.name} cost model", c) for c in run.parts.cost_models]
    if run.parts.estimator is not None:
        name = f"{run.parts.estimator.name} estimator"
        parts.append((name, name, run.parts.estimator))
    sources = {key: source for key, _, part in parts if (source := part.source()) is not None}
    stored_sources = (store.get_meta("cost_sources") if run.resume else None) or {}
    for key, label, _ in parts:
        before, source = stored_sources.get(key), sources.get(key)
        if before is not None and source is not None and before.get("digest") != source.get("digest"):
            was, now = _described(before), _described(source)
            # one file edited in place reads the same in words: say what differs
            change = f"{was}, is now {now}" if was != now else f"{now}: the columns it reads hold other values"
            raise StoreError(f"{RESUME}: the {label}'s source changed since this run started ({change}); "
                             f"its numbers would mix two tables: restore that table (or point the config's "
                             f"path at it), or search into a new {OUT}")
    store.set_meta("cost_sources", sources)
    store.set_meta("strategy_options", run.strategy_options)
    if store.get_meta("started_at") is None:  # wall time of the run, e.g. a supernet's before any evaluation
        store.set_meta("started_at", time.time())
    store.set_meta("config", current)
    store.set_meta("target", target)
    store.set_meta("regression", run.regression)  # hwnas pick reports R² without loading the data
    store.set_meta("results_version", RESULTS_VERSION)
    store.set_meta("space", run.parts.space.describe())
    store.set_meta("finished", False)  # until the loop ends: hwnas pick says when it picks from a stopped run


def remote_table(cost_models):
    """The latency table the run's latencies come from when it was built on another device
    (``"remote": true``, nothing timed here); None otherwise (also when ``ort`` times them here).

    Args:
        cost_models: the run's cost models.
    """
    if any(c.name == "ort" for c in cost_models):
        return None
    return next((c.table for c in cost_models
                 if c.name == "lut" and getattr(c, "table", None) is not None and c.table.meta.get("remote")), None)


def _check_same_target(stored: dict | None, current: dict | None, models: list[str], *, remote: bool) -> None:
    """Refuse a ``--resume`` whose target file now says something else (batch size, threads,
    provider) or, where latency is timed or read from a table, whose onnxruntime changed: the
    run's numbers would mix two settings. Its description and file location may change."""
    if stored is None or current is None:
        return
    # this machine's onnxruntime times nothing for a table built on another device (a phone's): its
    # latencies are the table's, and the table's digest is checked with the other sources (a run
    # stored before the table's device and runtime were recorded has this machine's)
    timed_here = bool({"ort", "lut"} & set(models)) and not remote
    ignored = ({"description", "source"} | (set() if timed_here else {"runtime_version"})
               | ({"device", "remote"} if remote else set()))
    diff = [(k, a, b) for k, a, b in _differences(stored, current) if k not in ignored]
    if diff:
        shown = "; ".join(f"{key}: stored {_shown(a)}, now {_shown(b)}" for key, a, b in diff)
        raise StoreError(f"{RESUME}: target {current.get('name')!r} differs from the stored run's: {shown}; its "
                         f"numbers would mix two settings: restore the target (and runtime) it ran with, or "
                         f"search into a new {OUT}")


def _check_same_config(run: SearchRun, store: Store, current: dict) -> None:
    """Refuse a ``--resume`` whose config differs from the stored run's (where evaluations run
    may differ). With the same strategy both are compared as the run ran them: a config.json
    (every option, and the models a run that left them implicit used) resumes the run it came
    from, and the config it came from resumes it after that config.json did (which stored its
    models); the models this session resolves are compared by :func:`record_run`."""
    stored = run.stored_config
    if stored is None:
        return
    stored_options = store.get_meta("strategy_options")
    if stored_options is not None and (stored.get("search") or {}).get("strategy") == run.config.search["strategy"]:
        used, stored_models = store.get_meta("cost_models"), "models" in stored.get("cost", {})
        stored = as_run(stored, used if "models" in current["cost"] and not stored_models else None, stored_options)
        current = as_run(current, used if stored_models and "models" not in current["cost"] else None,
                         run.strategy_options)
    diff = _differences({s: v for s, v in stored.items() if s not in RESUMABLE_SECTIONS},
                        {s: v for s, v in current.items() if s not in RESUMABLE_SECTIONS})
    if not any(c.name == "lut" for c in run.parts.cost_models):
        # this session reads no table (--latency measure): the level the run recorded for its
        # table is a consequence of that, not a second difference to fix
        diff = [d for d in diff if d[0] != "cost.lut" and not d[0].startswith("cost.lut.")]
    # options a strategy derives from the budget (nsga2's population of a run smaller than it)
    # change with it: they are no second reason to refuse
    derived = f"search.{run.config.search['strategy']}."
    grown = [(a, b) for key, a, b in diff if key == "search.evaluations" and isinstance(a, int)
             and isinstance(b, int) and b > a]
    if grown and all(key == "search.evaluations" or key.startswith(derived) for key, _, _ in diff):
        # a strategy plans by its budget (nsga2's default population, evolution's queue,
        # the last generation cut to size), so replaying with another one is another search
        raise StoreError(f"{RESUME}: search.evaluations: stored {grown[0][0]}, given {grown[0][1]}; a run "
                         f"cannot be extended; search into a new {OUT}")
    if diff:
        shown = "; ".join(f"{key}: stored {_shown(a)}, given {_shown(b)}" for key, a, b in diff)
        raise StoreError(f"{RESUME}: the config differs from the stored run: {shown}; resume with the "
                         f"same config and flags or start a new {OUT}")


def _check_same_space(run: SearchRun, store: Store) -> None:
    """Refuse a ``--resume`` whose space, from the same config, is not the one the run recorded
    (:meth:`~hwnas.space.base.SearchSpace.describe`): an NB201 run stored before dead edges were
    dropped (no ``dead_edges``) holds cells that this hwnas writes otherwise, so the replay
    would miss them and train their networks a second time."""
    import json

    stored = store.get_meta("space")
    if stored is None:  # a store from before the space was recorded
        return
    current = json.loads(json.dumps(run.parts.space.describe()))
    diff = _differences(stored, current)
    parts = [run.parts.estimator, *run.parts.cost_models]
    if not any(getattr(part, "needs_model", True) for part in parts if part is not None):
        # a run of tables builds nothing, and a table keeps NB201's dead edges as before they
        # could be dropped: an option the stored run predates changed none of its rows
        diff = [(key, a, b) for key, a, b in diff if a is not _MISSING]
    if diff:
        shown = "; ".join(f"{key}: stored {_shown(a)}, now {_shown(b)}" for key, a, b in diff)
        raise StoreError(f"{RESUME}: space {current.get('name')!r} differs from the stored run's ({shown}): this "
                         f"hwnas writes or builds its architectures otherwise, so a resume would train some "
                         f"networks twice and replay another search; its results stay readable (hwnas pick, "
                         f"export); search again into a new {OUT}")


def _described(source: dict) -> str:
    """A recorded source (:meth:`~hwnas.cost.CostModel.source`) in words: its file, and its build date."""
    return f"{source.get('table')}" + (f", built {source['date']}" if source.get("date") else "")


_MISSING = object()


def _differences(stored, given, prefix: str = "") -> list[tuple[str, object, object]]:
    """``(dotted key, stored value, given value)`` for every key whose values differ, sorted."""
    if not (isinstance(stored, dict) and isinstance(given, dict)):
        return [] if stored == given else [(prefix, stored, given)]
    out = []
    for key in sorted(set(stored) | set(given), key=str):
        out += _differences(stored.get(key, _MISSING), given.get(key, _MISSING), f"{prefix}.{key}".lstrip("."))
    return out


def _shown(value) -> str:
    return "(not set)" if value is _MISSING else repr(value)
