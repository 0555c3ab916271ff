"""The ``table`` cost model: hardware costs read from a metric table instead of measured.

Any number of metrics, each from one column (``{"latency_ms": "edgegpu_latency"}``); the metric
names carry the units, as everywhere. A blank cell or an architecture with no row raises
:class:`~hwnas.table.MissingEntry`, recorded by the evaluator as a failed (infeasible)
candidate.

Config::

    [cost]
    models = ["table"]
    [cost.table]
    path = "nb201_cifar10_hw.csv"
    arch_column = "arch_str"
    metrics = { latency_ms = "edgegpu_latency", energy_mj = "edgegpu_energy" }
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from ..exceptions import ConfigError, attach_metrics
from ..table import MissingEntry, TableBacked, load_table
from .base import COST_MODELS, CostModel


@COST_MODELS.register("table")
class TableCostModel(TableBacked, CostModel):
    """Costs looked up in a CSV table.

    Args:
        target: the target of the run, or None (the table's device is in its columns).
        input_shape: unused.
        path: the CSV file.
        arch_column: column of canonical architecture strings.
        metrics: metric name (unit in the name, e.g. ``latency_ms``) -> column.

    Raises:
        ConfigError: missing file, column, or no metrics, or a negative cost (a time <= 0).
    """

    name = "table"
    needs_model = False

    def __init__(self, target: Any, input_shape: tuple[int, ...], *, path: str | None = None,
                 arch_column: str = "arch", metrics: Mapping[str, str] | None = None) -> None:
        self.target = target
        self.input_shape = tuple(input_shape)
        if not path or not metrics or not isinstance(metrics, Mapping):
            raise ConfigError("the table cost model needs 'path' (a CSV file) and 'metrics', a table of "
                              "metric name -> column, e.g. { latency_ms = \"edgegpu_latency\" }")
        self.table = load_table(path, arch_column)
        self.metrics = {str(k): str(v) for k, v in metrics.items()}
        self.provides = tuple(self.metrics)
        for name, column in self.metrics.items():
            values = self.table.column(column)  # fail now on a missing or non-numeric column
            # a cost is never negative, and a time never 0 (it would divide the summary's ratios)
            timed = name.endswith("_ms")
            bad = np.flatnonzero(values <= 0 if timed else values < 0)
            if bad.size:
                i = int(bad[0])
                raise ConfigError(f"table {self.table.path}: column {column!r} ({name}) row {self.table.lines[i]} "
                                  f"holds {values[i]:g}; a {'time must be > 0' if timed else 'cost must be >= 0'}: "
                                  f"fix the cell or leave it blank (no value){f' ({bad.size} such rows)' if bad.size > 1 else ''}")

    def columns_read(self) -> list[str]:
        return list(self.metrics.values())

    def measure(self, arch: str, model: torch.nn.Module | None = None) -> dict[str, float]:
        """Every configured metric of ``arch``; raises MissingEntry when one is absent, carrying
        the metrics that are there (the failed row keeps them)."""
        found, missing = {}, None
        for name, column in self.metrics.items():
            try:
                found[name] = self.table.value(arch, column)
            except MissingEntry as exc:
                missing = missing or exc
        if missing is not None:
            raise attach_metrics(missing, found)
        return found

    def lowest(self, space: Any, smallest: str, model: torch.nn.Module | None) -> dict[str, tuple[float, str]]:
        """Each metric's lowest value over the rows a search can propose (canonical, not degenerate); a
        table's cheapest cell need not be the smallest one.

        Reads the rows as parsed by :meth:`check_space` when the search was built.

        Raises:
            ConfigError: a row that is not a canonical string of ``space`` (:meth:`check_space`).
        """
        rows = self._proposable_rows(space)
        out = {}
        for name, column in self.metrics.items():
            values = self.table.column(column)[rows]
            if np.isfinite(values).any():
                best = int(np.nanargmin(values))
                out[name] = (float(values[best]), self.table.archs[rows[best]])
        return out

    def _proposable_rows(self, space: Any) -> list[int]:
        """The rows a search can propose: canonical in ``space`` as it searches (an NB201 cell with
        a dead edge is not, with ``dead_edges = "drop"``: its network is proposed as the cell with
        that edge none) and not degenerate."""
        return [i for i, arch in enumerate(self.table.parsed(space)) if space.degenerate(arch) is None
                and space.canonical(space.decode(space.encode(arch))) == self.table.archs[i]]

    def closest_together(self, space: Any, bounds: Mapping[str, float]) -> tuple[str, dict[str, float]] | None:
        """When no row a search can propose (canonical, not degenerate) meets every bound on this table's
        metrics together, the row with the least summed relative excess over them and its values;
        None when one does, when fewer than two bounds concern the table, or when no row has all
        their values (every candidate fails then, each one with its reason)."""
        bounded = {name: float(bound) for name, bound in bounds.items() if name in self.metrics}
        if len(bounded) < 2:
            return None
        rows = np.array(self._proposable_rows(space), dtype=np.int64)
        values = np.column_stack([self.table.column(self.metrics[name])[rows] for name in bounded])
        whole = np.isfinite(values).all(axis=1)
        if not whole.any():
            return None
        values, rows = values[whole], rows[whole]
        excess = np.clip(values / np.array(list(bounded.values())) - 1.0, 0.0, None).sum(axis=1)
        best = int(np.argmin(excess))
        if excess[best] <= 0.0:
            return None
        return self.table.archs[rows[best]], {name: float(v) for name, v in zip(bounded, values[best])}

    def describe(self) -> dict[str, Any]:
        out = {"cost_model": self.name, "provides": list(self.provides), "table": str(self.table.path),
               "arch_column": self.table.arch_column, "columns": dict(self.metrics)}
        if self.target is not None:
            out.update(self.target.describe())
        return out
