"""What a run directory holds, and how it is written and read back.

Files: ``store.sqlite`` (source of truth), ``evaluations.csv`` (every evaluation in order),
``front.csv`` (non-dominated feasible rows), ``pareto.png``, ``config.json`` (resolved config:
``[cost] models`` is the list the run used, e.g. ``lut`` or ``ort`` as ``[cost] latency`` chose,
and ``[search.<strategy>]`` every option the strategy ran with: :func:`resolved_config`),
``weights/`` (trained state dicts for ``hwnas export``). ``hwnas compress`` adds ``compressed.csv``,
``compressed/`` (ONNX files) and ``compressed.png`` (see :mod:`hwnas.compress.results`).
"""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, TextIO

from .config import SEARCH_KEYS, RunConfig, config_from_dict
from .evaluation import Evaluation
from .exceptions import ConfigError, RegistryError, StoreError
from .front import non_dominated
from .search.objectives import (METRIC_COLUMNS, Objective, budgets_text, is_feasible, labelled_for_task,
                                resolve_objectives)
from .store import Store
from .wording import counted

EVALUATIONS_CSV = "evaluations.csv"
FRONT_CSV = "front.csv"
PARETO_PNG = "pareto.png"
CONFIG_JSON = "config.json"
WEIGHTS_DIR = "weights"
#: store meta key: the plugin modules loaded when the run was searched (``--plugin``, ``HWNAS_PLUGINS``)
PLUGINS_META = "plugins"


def row_of(ev: Evaluation, budgets: Mapping[str, float]) -> dict[str, object]:
    """One CSV row: id, arch, status, feasible, metrics, duration, reason."""
    return {"id": ev.id, "arch": ev.arch, "status": ev.status,
            "feasible": ev.ok and is_feasible(ev.metrics, budgets),
            **ev.metrics, "duration_s": round(ev.duration_s, 3), "reason": ev.reason or ""}


def columns_for(objectives: Sequence[Objective], rows: Sequence[Mapping[str, object]],
                always: Sequence[str] = ()) -> list[str]:
    """CSV columns: identity, objective columns, the other known metrics, then any extras;
    ``always`` (the estimator's metrics) whether or not a row has them."""
    head = ["id", "arch", "status", "feasible"]
    obj_cols = [o.column for o in objectives]
    seen = {k for r in rows for k in r} | set(always)
    known = [c for c in METRIC_COLUMNS if c not in obj_cols and c in seen]
    extra = sorted(seen - set(head) - set(obj_cols) - set(known) - {"duration_s", "reason"})
    return head + obj_cols + known + extra + ["duration_s", "reason"]


def front_indices(evaluations: Sequence[Evaluation], objectives: Sequence[Objective],
                  budgets: Mapping[str, float]) -> list[int]:
    """Indices of the feasible, successful, non-dominated evaluations."""
    ok = [i for i, ev in enumerate(evaluations) if ev.ok and is_feasible(ev.metrics, budgets)]
    return [ok[j] for j in non_dominated([evaluations[i].metrics for i in ok], objectives)]


def write_csv(path: Path, rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> None:
    """Write rows with the given columns (missing values blank), whole or not at all: an
    interrupt while writing leaves the earlier file (:func:`replace_file`)."""
    with replace_file(path) as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


@contextmanager
def replace_file(path: str | Path) -> Iterator[TextIO]:
    """A text file to write that replaces ``path`` only once it is written whole (written beside
    it, then moved into place): Ctrl-C or ``kill`` mid-write leaves the earlier file, never half a
    one. Files rewritten as a run goes (a study's rows, its settings) are written this way."""
    path = Path(path)
    part = path.with_name(path.name + ".part")
    try:
        with open(part, "w", newline="") as fh:
            yield fh
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def check_file_to_write(path: str | Path, flag: str, what: str, example: str) -> Path:
    """Refuse, before any work, an output path that cannot be a file: a directory, a path under a
    file, or one this process cannot write. Missing folders are fine (they are created when the
    file is written).

    Args:
        path: the path given.
        flag: the option that gave it (``-o``, ``--out``), for the message.
        what: what to give instead, e.g. ``"the ONNX file to write"``.
        example: a file name inside ``path`` offered when ``path`` is a directory.

    Raises:
        ConfigError: naming the path, what is wrong and the fix.
    """
    import os

    out = Path(path)
    if out.is_dir():
        raise ConfigError(f"{flag} {out} is a directory; give {what}, e.g. {flag} {out / example}")
    if str(path).endswith(("/", os.sep)):  # Path drops the slash: a folder asked for would be written as a file
        raise ConfigError(f"{flag} {path} names a folder; give {what}, e.g. {flag} {out / example}")
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ConfigError(f"{flag} {out}: {parent} is a file, not a folder; choose another path")
    if (out.exists() and not os.access(out, os.W_OK)) or (
            parent is not None and not os.access(parent, os.W_OK | os.X_OK)):
        raise ConfigError(f"{flag} {out}: {out if out.exists() else parent} is not writable; choose another path")
    return out


def check_folder_to_write(path: str | Path, flag: str, what: str) -> Path:
    """Refuse, before any work, an output path that cannot be a folder: a file, a path under a
    file, or under a folder this process cannot write. Missing folders are fine.

    Args:
        path: the path given.
        flag: the option that gave it (``--out``), for the message.
        what: what the folder is for, e.g. ``"bench.csv, summary.csv and bench.png"``.

    Raises:
        ConfigError: naming the path, what is wrong and the fix.
    """
    import os

    out = Path(path)
    nearest = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not nearest.is_dir():
        where = "" if nearest == out.absolute() else f": {nearest}"
        raise ConfigError(f"{flag} {out}{where} is a file; give a folder for {what}")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise ConfigError(f"{flag} {out}: {nearest} is not writable; choose another {flag}")
    return out


def resolved_config(run_dir: Path, config: RunConfig) -> dict[str, Any]:
    """The config as the run in ``run_dir`` ran it, still a config that :func:`config_from_dict`
    reads: ``[cost] models`` is the cost-model list its store recorded (``[cost] latency``
    resolved to ``lut`` or ``ort``), so the file says whether latency came from a table or was
    timed; ``[search.<strategy>]`` holds every option the strategy ran with, defaults and derived
    values (``nsga2``'s population) included, in place of the plain ``[search]`` options."""
    data = config.to_dict()
    store_path = run_dir / Store.FILE_NAME
    if store_path.is_file():
        store = Store(store_path)  # the search writing its outputs: the last connection, which checkpoints its WAL
        try:
            models, options = store.get_meta("cost_models"), store.get_meta("strategy_options")
        finally:
            store.close()
        data = as_run(data, models, options)
    return data


def as_run(data: dict[str, Any], models: Sequence[str] | None, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """A config (as :meth:`RunConfig.to_dict` gives it) with the cost models a run used as its
    ``[cost] models`` and every option its strategy ran with as ``[search.<strategy>]`` (a config
    and its ``config.json`` then read alike). None for either: left as given (a run stored before
    they were recorded)."""
    data = {section: dict(values) if isinstance(values, Mapping) else values for section, values in data.items()}
    if models:
        data["cost"]["models"] = list(models)
        if "lut" not in models:  # latency was timed: the table's options were not read
            data["cost"].pop("lut", None)
    if options is not None:
        search = data["search"]
        data["search"] = {k: v for k, v in search.items() if k in SEARCH_KEYS or isinstance(v, Mapping)}
        data["search"][search["strategy"]] = dict(options)
    return data


def write_outputs(run_dir: Path, config: RunConfig, evaluations: Sequence[Evaluation],
                  verify: Callable[[list[str]], list[dict[str, float]]] | None = None, *,
                  regression: bool = False) -> list[int]:
    """Write evaluations.csv, front.csv, pareto.png and config.json; return the front indices.

    Args:
        verify: given the front's architectures, extra columns per front row (e.g. a table
            prediction re-measured on the runtime: ``latency_ms_predicted``, ``latency_ms_measured``).
        regression: the task is a regression (pareto.png's error axis reads 100·(1 − R²)).
    """
    objectives = resolve_objectives(config.objectives)
    rows = [row_of(ev, config.budgets) for ev in evaluations]
    # the estimator's metrics always: a run whose evaluations all failed has the columns of one that did not
    always = _estimator_metrics(config)
    columns = columns_for(objectives, rows, always)
    front = front_indices(evaluations, objectives, config.budgets)
    front_rows = [rows[i] for i in front]
    if verify is not None and front_rows:
        front_rows = [{**row, **extra} for row, extra in zip(front_rows, verify([r["arch"] for r in front_rows]))]
        _mark_re_measured_over_budget(front_rows, config.budgets)
    write_csv(run_dir / EVALUATIONS_CSV, rows, columns)
    write_csv(run_dir / FRONT_CSV, front_rows, columns_for(objectives, front_rows, always))
    (run_dir / CONFIG_JSON).write_text(json.dumps(resolved_config(run_dir, config), indent=2))
    from .plots import plot_front

    plot_front(run_dir / PARETO_PNG, evaluations, front, labelled_for_task(_labelled(objectives, config), regression),
               config.budgets)
    return front


def _mark_re_measured_over_budget(front_rows: Sequence[dict[str, object]], budgets: Mapping[str, float]) -> None:
    """A front row chosen on its predicted latency but re-measured over a budget: ``feasible`` is
    False in ``front.csv`` (``hwnas pick`` judges budgets on the measured figure and never picks
    it), and a note says so. ``evaluations.csv`` keeps what the search saw: the prediction."""
    from .front import judged

    over = [row for row in front_rows if row["feasible"] and not is_feasible(judged(row), budgets)]
    if not over:
        return
    for row in over:
        row["feasible"] = False
    print(f"hwnas: note: {len(over)} of the {counted(front_rows, 'front row')} "
          f"(id {', '.join(str(r['id']) for r in over)}) "
          f"re-measured over the budgets ({budgets_text(budgets)}): feasible = False "
          f"in front.csv, and hwnas pick leaves {'it' if len(over) == 1 else 'them'} out", file=sys.stderr)


def _estimator_metrics(config: RunConfig) -> tuple[str, ...]:
    """The metrics the run's estimator always reports (none for a plugin's not loaded here)."""
    from .estimate import ESTIMATORS
    from .exceptions import RegistryError

    try:
        return tuple(ESTIMATORS.get(config.estimator.get("name")).metrics)
    except RegistryError:
        return ()


def _labelled(objectives: Sequence[Objective], config: RunConfig) -> list[Objective]:
    """The objectives as a plot names them: a table run's error is 100 minus the table's own
    accuracy column (a test accuracy, say), not the declared label's validation error."""
    from dataclasses import replace

    column = config.estimator.get("accuracy_column") if config.estimator.get("name") == "table" else None
    return [replace(o, label=f"error (%): 100 − {column}") if column and o.column == "error_pct" else o
            for o in objectives]


@dataclass
class Run:
    """A finished (or interrupted) run read back from its directory."""

    path: Path
    config: RunConfig
    evaluations: list[Evaluation]
    #: the task is a regression (``accuracy_pct`` is 100·R²); None for a run stored before it was recorded
    regression: bool | None = None
    #: the target the run was searched on (:meth:`Target.describe` as stored); None when it had none
    target: dict | None = None
    #: the search went through to its end; False while it runs and after it was stopped (Ctrl-C,
    #: kill, an error) before a ``--resume`` finished it; None for a run stored before it was recorded
    finished: bool | None = None
    #: the plugin modules loaded when it was searched (None: a run stored before they were recorded)
    plugins: list[str] | None = None
    #: :meth:`hwnas.data.Task.digest` of the data it was searched on (None: no task, or a run stored before it was recorded)
    data_digest: str | None = None

    @contextmanager
    def plugins_named(self) -> Iterator[None]:
        """Inside it, an unknown name (a space, dataset...) that one of the run's plugins registered,
        not imported now, is told with the ``--plugin`` flags the run needs."""
        try:
            yield
        except RegistryError as exc:
            raise _plugins_hint(exc, self.plugins) from None

    @property
    def objectives(self) -> list[Objective]:
        """The run's objectives."""
        return resolve_objectives(self.config.objectives)

    @property
    def front(self) -> list[Evaluation]:
        """The run's Pareto front as ``front.csv`` lists it: its successful evaluations within the
        run's ``[budgets]`` that no other dominates, sorted by the first objective.

        Example:
            >>> [ev.arch for ev in load_run("runs/digits").front]   # doctest: +SKIP
            ['w0.25:k3e3/k3e3/k3e3/k3e3', ...]
        """
        return [self.evaluations[i] for i in front_indices(self.evaluations, self.objectives, self.config.budgets)]

    def pick(self, budgets: Mapping[str, float] | None = None) -> Evaluation:
        """The evaluation ``hwnas pick`` chooses: the best estimator-side objective among the
        successful ones under ``budgets`` (and the run's own ``[budgets]``), or the knee of the
        front without any (:func:`hwnas.front.pick`).

        Args:
            budgets: budget name -> bound, e.g. ``{"max_latency_ms": 0.1}`` (``hwnas list`` names them).

        Raises:
            BudgetError: no successful evaluation meets the budgets (naming the closest values).
            ConfigError: a budget that is unknown or not a positive number.

        Example:
            >>> load_run("runs/digits").pick({"max_latency_ms": 0.1}).arch   # doctest: +SKIP
            'w0.5:k3e4/k3e3/k3e4/k5e3'
        """
        from .exceptions import BudgetError
        from .front import pick

        ok = [ev for ev in self.evaluations if ev.ok]
        if not ok:
            raise BudgetError(f"{self.path}: no successful evaluation to pick from (of "
                              f"{counted(self.evaluations, 'evaluation')}); see the reason column of "
                              f"{EVALUATIONS_CSV}")
        return ok[pick([ev.metrics for ev in ok], self.objectives, dict(budgets or {}), required=self.config.budgets)]

    def components(self) -> Any:
        """The run's parts rebuilt from its stored config (no estimator), for export and compress.

        Raises:
            DataError: the data the run was searched on cannot be read now; the message says to
                restore it, since the stored config (and its ``[task] path``) cannot change.
        """
        from .components import build_components
        from .exceptions import DataError

        try:
            with self.plugins_named():
                parts = build_components(self.config, with_estimator=False)
        except DataError as exc:
            raise self._data_gone(exc) from None
        if parts.task is not None:
            self._same_data(parts.task)
        return parts

    def task(self) -> Any:
        """The run's task data, loaded again (for export, which needs no cost model).

        Raises:
            DataError: as :meth:`components`.
        """
        from .data import load_task
        from .exceptions import DataError

        try:
            with self.plugins_named():
                task = load_task(self.config.task, source=self.config.source)
        except DataError as exc:
            raise self._data_gone(exc) from None
        return self._same_data(task)

    def _same_data(self, task: Any) -> Any:
        """``task``, unless it differs from the data the run was searched on: its weights (and the
        input and target scaling an export records) belong to that data, and a changed file would
        give another input width, classes or scaling.

        Raises:
            DataError: naming the data and the fix.
        """
        from .exceptions import DataError

        if self.data_digest is not None and task.digest() != self.data_digest:
            path = self.config.task.get("path")
            raise DataError(f"{self.path}: the data of [task] dataset {task.name!r}"
                            f"{f' ({path})' if path else ''} changed since this run was searched, so its "
                            f"networks and their scaling belong to other data; restore the data it was searched on, "
                            f"or search the new data into a new --out")
        return task

    def _data_gone(self, exc: Exception) -> Exception:
        from .exceptions import DataError

        what = str(exc).split("; ")[0]  # the loader's fix would edit a config this run does not read
        return DataError(f"{self.path}: the data it was searched on cannot be read now ({what}); networks "
                         f"are rebuilt from it: restore it where the run read it")

    def resolve_arch(self, space: Any, text: str | int) -> str:
        """The canonical architecture string that ``text`` (what a user typed for ``hwnas
        export`` or ``hwnas compress --arch``) names in this run.

        Text of digits (optionally signed) is an evaluation id, since no space's architecture
        string is a bare number; anything else is parsed as an architecture of ``space`` (the
        run's space), evaluated in the run or not: the run's string when the text is one, else
        the canonical form of what it computes (an NB201 cell with its dead edges ``none``).

        Raises:
            ConfigError: an id that no evaluation of the run has (naming the run's ids).
            SpaceError: text that is no architecture of the space.

        Example:
            >>> load_run("runs/digits").resolve_arch(space, "3")   # doctest: +SKIP
            'w1:k3e4/k5e6/k3e4/k7e3'
        """
        text = str(text).strip()  # an id a Python caller gives as a number (ev.id)
        if re.fullmatch(r"[+-]?\d+", text):
            by_id = {ev.id: ev for ev in self.evaluations}
            if int(text) in by_id:
                return by_id[int(text)].arch
            ids = f"ids {min(by_id)}-{max(by_id)}" if by_id else "no evaluations yet"
            raise ConfigError(f"no evaluation {text} in {self.path} ({ids}); "
                              f"give an id or an arch string from {FRONT_CSV}")
        arch = space.parse(text)
        if space.canonical(arch) in {ev.arch for ev in self.evaluations}:  # as stored (a run of an older hwnas)
            return space.canonical(arch)
        # the canonical form of what it computes: an NB201 cell typed with dead edges is the
        # network the run evaluated with them none
        return space.canonical(space.decode(space.encode(arch)))


def load_run(run_dir: str | Path) -> Run:
    """Read a run directory (config and every evaluation from the store).

    Raises:
        StoreError: the directory holds no hwnas run.
    """
    path = Path(run_dir)
    store_path = path / Store.FILE_NAME
    if not store_path.is_file():
        raise StoreError(f"{str(run_dir)!r} holds no hwnas run (no {Store.FILE_NAME}); "
                         f"pass the --out directory of a 'hwnas search'")
    store = Store(store_path, readonly=True)
    try:
        cfg = store.get_meta("config")
        if cfg is None:
            if len(store) or (path / EVALUATIONS_CSV).is_file():  # it ran: an emptied or damaged store
                raise StoreError(f"{store_path}: has lost its run's config (an emptied or damaged file), so its "
                                 f"results cannot be read back ({EVALUATIONS_CSV} still lists them); search again "
                                 f"into a new --out")
            raise StoreError(f"{store_path}: no config recorded; the run never started, search again")
        plugins = store.get_meta(PLUGINS_META)
        try:
            # named by its config.json (the same config, as run), which hwnas profile --task can read
            # and beside which the run's own latency table goes (<run>/config-<space>-<CxHxW>.json);
            # a run killed before writing it has only the store's copy: "<...>", as for a config
            # built in code, names no file to read or to put a table beside
            as_run = path / CONFIG_JSON
            source = str(as_run) if as_run.is_file() else f"<config in {store_path}>"
            config = config_from_dict(cfg, source=source)
        except RegistryError as exc:  # an objective a plugin declared
            raise _plugins_hint(exc, plugins) from None
        return Run(path, config, store.all(), store.get_meta("regression"), store.get_meta("target"),
                   store.get_meta("finished"), plugins, store.get_meta("data_digest"))
    finally:
        store.close()


def _plugins_hint(exc: RegistryError, plugins: Sequence[str] | None) -> RegistryError:
    """``exc``, naming the ``--plugin`` flags of the run's plugins not imported now (if any)."""
    from .registry import PLUGIN_HINT

    missing = [m for m in plugins or () if m not in sys.modules]
    if not missing:
        return exc
    from .exceptions import AND_PLUGIN, LOAD_PLUGIN, PLUGIN_END

    # in the caller's words: import them (Python), --plugin flags (the CLI)
    load = f"{LOAD_PLUGIN} {AND_PLUGIN.join(missing)}{PLUGIN_END}".replace(AND_PLUGIN, f"{AND_PLUGIN} ")
    return RegistryError(f"{exc.said({}).replace(PLUGIN_HINT, '')}; the run was searched with the plugin(s) "
                         f"{', '.join(missing)} loaded: load them too, e.g. {load}")
