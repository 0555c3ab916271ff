"""The ``table`` estimator: accuracy read from a metric table instead of training.

``error_pct = 100 - accuracy`` where the accuracy column holds top-1 accuracy in percent
(e.g. NAS-Bench-201's ``val_acc_cifar10valid_nb201``). An architecture with no row or a blank
cell raises :class:`~hwnas.table.MissingEntry`, so the evaluator records it as failed with
that reason and the search goes on.

Example:
    >>> est = TableEstimator(None, path="nb201_cifar10_hw.csv", arch_column="arch_str",
    ...                      accuracy_column="val_acc_cifar10valid_nb201")   # doctest: +SKIP
    >>> est.estimate(arch, None)["accuracy_pct"]                             # doctest: +SKIP
    90.77
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from ..exceptions import ConfigError
from ..table import TableBacked, load_table
from ..wording import counted
from .base import ESTIMATORS, AccuracyEstimator


@ESTIMATORS.register("table")
class TableEstimator(TableBacked, AccuracyEstimator):
    """Accuracy looked up in a CSV table.

    Args:
        task: unused (the table holds the accuracies); may be None.
        path: the CSV file.
        arch_column: column of canonical architecture strings.
        accuracy_column: column of top-1 accuracy in percent.

    Raises:
        ConfigError: missing file or column (naming the available ones), or an accuracy column
            that is not in percent (a value outside 0..100, or fractions).
    """

    name = "table"
    needs_model = False
    reads_table = True

    def __init__(self, task: Any = None, *, path: str | None = None, arch_column: str = "arch",
                 accuracy_column: str | None = None) -> None:
        if not path or not accuracy_column:
            raise ConfigError("the table estimator needs 'path' (a CSV file) and 'accuracy_column'")
        for option, value in (("path", path), ("arch_column", arch_column), ("accuracy_column", accuracy_column)):
            if not isinstance(value, (str, os.PathLike) if option == "path" else str):
                raise ConfigError(f"table: {option} = {value!r} is invalid; it must be a string "
                                  f"({'a CSV file' if option == 'path' else 'a column name'})")
        self.table = load_table(path, arch_column)
        self.accuracy_column = accuracy_column
        values = self.table.column(accuracy_column)  # fail now on a missing or non-numeric column
        known = ~np.isnan(values)
        outside = np.flatnonzero(known & ~((values >= 0.0) & (values <= 100.0)))
        if outside.size:
            i = int(outside[0])
            raise ConfigError(f"table {self.table.path}: column {accuracy_column!r} row {self.table.lines[i]} holds "
                              f"{values[i]:g}, not a top-1 accuracy in percent (0 to 100); pick the accuracy column in %")
        if known.any() and values[known].max() <= 1.0:
            raise ConfigError(f"table {self.table.path}: column {accuracy_column!r} holds fractions (every value "
                              f"is at most 1), but accuracy_column must be in percent; scale the column by 100")

    def columns_read(self) -> list[str]:
        return [self.accuracy_column]

    def check_space(self, space) -> None:
        """As :meth:`~hwnas.table.TableBacked.check_space`; also keeps the space's size for :meth:`advice`."""
        super().check_space(space)
        self._space = (space.name, space.n_genomes)

    def advice(self, evaluations: int) -> str | None:
        """A table with rows for under half the space: most proposals will have no row (failed)."""
        name, size = getattr(self, "_space", (None, 0))
        if not size or 2 * len(self.table) >= size:
            return None
        fail = "the 1 evaluation will most likely fail" if evaluations == 1 else \
            f"most of the {counted(evaluations, 'evaluation')} will fail"
        return (f"table {self.table.path.name} has rows for {len(self.table)} of {name}'s {size} architectures "
                f"({100 * len(self.table) / size:.2g} %); the search proposes from the whole space and records one "
                f"with no row as failed, so {fail}: add rows (measure more of the space) or budget more evaluations")

    def estimate(self, arch: str, model=None, recipe: Mapping[str, Any] | None = None) -> dict[str, float]:
        """``error_pct`` and ``accuracy_pct`` of ``arch``; raises MissingEntry when absent."""
        accuracy = self.table.value(arch, self.accuracy_column)
        return {"error_pct": 100.0 - accuracy, "accuracy_pct": accuracy}
