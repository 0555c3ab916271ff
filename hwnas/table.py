"""Metric tables: a CSV with one row per architecture and one column per metric.

The one home for reading benchmark tables (e.g. NAS-Bench-201 with HW-NAS-Bench latencies).
A table is read once per process (cached by path, modification time and architecture column)
and shared by the table estimator, the table cost model and ``hwnas bench``.

Blank (or ``nan``) cells are *missing*: looking one up raises :class:`MissingEntry`, which the
evaluator records as a failed (infeasible) candidate; so does an architecture with no row.
Problems with the table itself (no file, no such column, text in a metric column) are
:class:`~hwnas.exceptions.ConfigError`, raised when the table or column is first asked for.

Example:
    >>> table = load_table("../shared/data/nb201/nb201_cifar10_hw.csv", "arch_str")  # doctest: +SKIP
    >>> table.value("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    ...             "test_acc_cifar10")                                               # doctest: +SKIP
    93.66
"""

from __future__ import annotations

import csv
import functools
import math
from pathlib import Path

import numpy as np

from .exceptions import ConfigError


class MissingEntry(LookupError):
    """The table has no value for an architecture (no row, or a blank cell)."""


class MetricTable:
    """An in-memory CSV: architecture string -> row, numeric columns parsed on first use.

    Args:
        path: the CSV file.
        arch_column: the column holding canonical architecture strings.

    Raises:
        ConfigError: missing or unreadable file, no such column, repeated architectures.
    """

    def __init__(self, path: str | Path, arch_column: str) -> None:
        self.path = Path(path)
        self.arch_column = arch_column
        _require_file(path)
        try:
            # utf-8-sig: a spreadsheet's "CSV UTF-8" starts with a byte-order mark, which would
            # otherwise stick to the first column's name
            with open(self.path, newline="", encoding="utf-8-sig") as fh:
                reader = csv.reader(fh)
                header = next(reader, None)
                lines, rows = [], []
                for row in reader:
                    if any(cell.strip() for cell in row):  # blank lines (a trailing one, mostly) are no rows
                        lines.append(reader.line_num)
                        rows.append(row)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ConfigError(f"table {str(path)!r} cannot be read as CSV ({exc})") from None
        if not header:
            raise ConfigError(f"table {str(path)!r} is empty; it needs a header row")
        self.columns = [c.strip() for c in header]
        if len(self.columns) == 1 and any(sep in self.columns[0] for sep in ";\t"):
            raise ConfigError(f"table {self.path}: the header {header[0]!r} is one column: the file is not "
                              f"comma-separated; save it as CSV with commas")
        if not rows:
            raise ConfigError(f"table {self.path} has a header but no rows; it needs one row per architecture")
        self._raw = rows
        #: each row's line number in the file (the header is line 1), for messages
        self.lines = lines
        col = self._column_index(arch_column, "architecture")
        self.archs = [r[col].strip() if col < len(r) else "" for r in rows]
        self._row = {}
        for i, arch in enumerate(self.archs):
            if arch in self._row:
                raise ConfigError(f"table {self.path}: architecture {arch!r} appears twice in column "
                                  f"{arch_column!r} (rows {lines[self._row[arch]]} and {lines[i]}); keep one row per "
                                  f"architecture")
            self._row[arch] = i
        self._values: dict[str, np.ndarray] = {}
        #: per space whose canonical strings every row is: the rows parsed, in row order
        self._parsed: dict[tuple, tuple] = {}

    def __len__(self) -> int:
        return len(self.archs)

    def __contains__(self, arch: object) -> bool:
        return arch in self._row

    def row_of(self, arch: str) -> int | None:
        """Row index of an architecture, or None when the table has no row for it."""
        return self._row.get(arch)

    def _column_index(self, column: str, role: str) -> int:
        try:
            return self.columns.index(column)
        except ValueError:
            how = ("--arch-column (arch_column in a config)" if role == "architecture"
                   else "--accuracy-column or --cost NAME=COLUMN (in a config: accuracy_column, [cost.table] metrics)")
            raise ConfigError(f"table {self.path}: no {role} column {column!r}; available columns: "
                              f"{', '.join(self.columns)}; name one of them with {how}") from None

    def column(self, column: str) -> np.ndarray:
        """A metric column as floats in row order; missing cells are NaN.

        Raises:
            ConfigError: no such column, a cell that is neither a number nor blank, or no number at all.
        """
        values = self._values.get(column)
        if values is None:
            j = self._column_index(column, "metric")
            values = np.full(len(self._raw), np.nan)
            for i, row in enumerate(self._raw):
                cell = row[j].strip() if j < len(row) else ""
                if not cell:
                    continue
                try:
                    values[i] = float(cell)
                except ValueError:
                    raise ConfigError(f"table {self.path}: column {column!r} row {self.lines[i]} holds {cell!r}, "
                                      f"not a number; metric columns need numbers or blanks") from None
            if np.isnan(values).all():  # every lookup would miss: every candidate would fail
                raise ConfigError(f"table {self.path}: column {column!r} is blank in all {len(values)} rows; "
                                  f"pick a column with numbers (columns: {', '.join(self.columns)})")
            values.setflags(write=False)
            self._values[column] = values
        return values

    def digest(self, columns: list[str]) -> str:
        """A short hash of the architecture column and ``columns`` (what a search reads)."""
        import hashlib

        h = hashlib.sha256("\n".join(self.archs).encode())
        for column in columns:
            h.update(column.encode() + self.column(column).tobytes())
        return h.hexdigest()[:16]

    def check_space(self, space) -> None:
        """Refuse a table whose architecture strings are not the space's canonical strings.

        Checks every row (once per table and space): each must parse in ``space`` and print back
        unchanged; a row that does not would never be looked up, so every architecture it
        describes would read as missing. The parsed rows are kept (:meth:`parsed`).

        Raises:
            ConfigError: naming the table, the column, the first bad row, how many rows are bad,
                and the space.
        """
        self.parsed(space)

    def parsed(self, space) -> tuple:
        """Every row's architecture in ``space``, in row order, parsed once per table and space.

        Raises:
            ConfigError: as :meth:`check_space`.
        """
        from .exceptions import SpaceError

        key = (space.name, tuple((g.name, g.choices) for g in space.genes))
        if key in self._parsed:
            return self._parsed[key]
        first, bad, parsed = None, 0, []
        for i, arch in enumerate(self.archs):
            try:
                parsed.append(space.parse(arch))
                text = space.canonical(parsed[-1])
                why = None if text == arch else f"not in {space.name}'s canonical form {text!r}"
            except SpaceError as exc:
                why = f"not a {space.name} architecture ({exc})"
            if why is not None:
                bad += 1
                first = first or (i, arch, why)
        if first is not None:
            i, arch, why = first
            raise ConfigError(f"table {self.path}: column {self.arch_column!r} row {self.lines[i]} ({arch!r}) is "
                              f"{why}, and so {'is' if bad == 1 else 'are'} {bad} of {len(self)} rows; pick the "
                              f"column of canonical {space.name} strings, rewrite it, or use another --space")
        self._parsed[key] = parsed = tuple(parsed)
        return parsed

    def value(self, arch: str, column: str) -> float:
        """One cell.

        Raises:
            MissingEntry: no row for ``arch``, or a blank cell.
            ConfigError: as :meth:`column`.
        """
        values = self.column(column)
        i = self._row.get(arch)
        if i is None:
            raise MissingEntry(f"table {self.path.name} has no row for {arch!r} in column {self.arch_column!r}")
        v = float(values[i])
        if math.isnan(v):
            raise MissingEntry(f"table {self.path.name} has no {column} for {arch!r} (blank cell)")
        return v


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, arch_column: str) -> MetricTable:
    return MetricTable(path, arch_column)


def _require_file(path: str | Path) -> None:
    """Refuse a table path that is not a file: missing, or a folder (named as such)."""
    if Path(path).is_dir():
        raise ConfigError(f"table {str(path)!r} is a folder; pass the CSV file in it")
    if not Path(path).is_file():
        raise ConfigError(f"table {str(path)!r} not found; pass an existing CSV file")


def load_table(path: str | Path, arch_column: str) -> MetricTable:
    """The table at ``path``, read once per process while the file is unchanged.

    Raises:
        ConfigError: as :class:`MetricTable`.
    """
    p = Path(path).resolve()
    _require_file(path)
    return _load(str(p), p.stat().st_mtime_ns, arch_column)


#: the architecture columns a table command (hwnas search --table, hwnas bench) looks for, in
#: order, when no --arch-column is given
ARCH_COLUMNS = ("arch", "arch_str")


def arch_column_of(path: str | Path, given: str | None) -> str:
    """The architecture column of the table at ``path``: ``given`` (from ``--arch-column``) when
    set, else the first of :data:`ARCH_COLUMNS` the table has.

    Raises:
        ConfigError: no column given and the table has none of :data:`ARCH_COLUMNS`.
    """
    if given:
        return given
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            columns = [c.strip() for c in next(csv.reader(fh), None) or []]
    except (OSError, UnicodeDecodeError, csv.Error):
        columns = []
    if len(columns) < 2:  # no file, no header, not comma-separated: loading the table says which
        return ARCH_COLUMNS[0]
    for column in ARCH_COLUMNS:
        if column in columns:
            return column
    raise ConfigError(f"table {path} has neither an {ARCH_COLUMNS[0]!r} nor an {ARCH_COLUMNS[1]!r} column "
                      f"(columns: {', '.join(columns)}); name its architecture column with --arch-column")


class TableBacked:
    """Mixin of the estimator and cost model that read a :class:`MetricTable` (``self.table``)
    through the columns :meth:`columns_read` names."""

    table: MetricTable

    def columns_read(self) -> list[str]:
        """The metric columns this part reads."""
        raise NotImplementedError

    def source(self) -> dict[str, str]:
        """The table's file and a digest of what is read from it: stored with a run, so a
        ``--resume`` on a table whose rows changed is refused (see :meth:`hwnas.cost.CostModel.source`)."""
        return {"table": str(self.table.path), "digest": self.table.digest(self.columns_read())}

    def check_space(self, space) -> None:
        """Refuse a table whose architecture strings are not the space's canonical strings
        (:meth:`MetricTable.check_space`)."""
        self.table.check_space(space)


def table_search_config(*, space: str, table: str | Path, arch_column: str, accuracy_column: str,
                        costs: dict[str, str], strategy: str = "nsga2", evaluations: int = 100,
                        seed: int = 0, objectives: list[str] | None = None, **search_options):
    """The run config of a table-backed search (no task, no training, no measuring).

    Args:
        space: registered space whose canonical strings the table's ``arch_column`` holds.
        table: the CSV file (made absolute, so the config is valid from any folder).
        arch_column: column of canonical architecture strings.
        accuracy_column: column of top-1 accuracy in percent (gives ``error_pct``).
        costs: metric name -> column, e.g. ``{"latency_ms": "edgegpu_latency"}``.
        strategy, evaluations, seed: ``[search]`` values.
        objectives: objective names; default ``error`` plus every cost metric.
        search_options: further ``[search]`` options for the strategy.

    Returns:
        A validated :class:`~hwnas.config.RunConfig`.

    Raises:
        ConfigError/RegistryError: as :func:`hwnas.config.config_from_dict`.
    """
    from .config import config_from_dict

    path = str(Path(table).resolve())
    if not costs:
        raise ConfigError("a table search needs at least one cost, e.g. --cost latency_ms=edgegpu_latency")
    data = {
        "space": {"name": space},
        "estimator": {"name": "table", "path": path, "arch_column": arch_column, "accuracy_column": accuracy_column},
        "cost": {"models": ["table"], "table": {"path": path, "arch_column": arch_column, "metrics": dict(costs)}},
        "search": {"strategy": strategy, "objectives": objectives or ["error", *costs], "evaluations": evaluations,
                   "seed": seed, **search_options},
    }
    return config_from_dict(data, source="command line")


def parse_costs(items) -> dict[str, str]:
    """``["latency_ms=edgegpu_latency", ...]`` -> ``{"latency_ms": "edgegpu_latency"}``.

    Raises:
        ConfigError: an item without ``NAME=COLUMN`` or a repeated name.
    """
    costs: dict[str, str] = {}
    for item in items or []:
        name, sep, column = str(item).partition("=")
        if not sep or not name.strip() or not column.strip():
            raise ConfigError(f"--cost {item!r} must be NAME=COLUMN, e.g. --cost latency_ms=edgegpu_latency")
        if name.strip() in costs:
            raise ConfigError(f"--cost {name.strip()} is given twice; give each metric once")
        if name.strip() in _accuracy_side():
            raise ConfigError(f"--cost {item!r}: {name.strip()} is the accuracy side, read from --accuracy-column; "
                              f"--cost names hardware costs (e.g. latency_ms=COLUMN)")
        from .search.objectives import OBJECTIVES

        # NAME becomes an objective: an unknown one is named here, not as a '[search] objectives' the user never wrote
        OBJECTIVES.get(name.strip(), where=f"--cost {item!r}")
        costs[name.strip()] = column.strip()
    return costs


def _accuracy_side() -> set[str]:
    """Names and columns of the objectives an estimator gives (``error``, ``error_pct``, ...), and ``accuracy_pct``."""
    from .search.objectives import OBJECTIVES

    side = [OBJECTIVES.get(n) for n in OBJECTIVES.names()]
    return {"accuracy_pct"} | {x for o in side if o.source == "estimator" for x in (o.name, o.column)}
