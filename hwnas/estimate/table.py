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

from typing import Any, Mapping

from ..exceptions import ConfigError
from ..table import TableBacked, load_table
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
        ConfigError: missing file or column (naming the available ones).
    """

    name = "table"
    needs_model = False

    def __init__(self, task: Any = None, *, path: str | None = None, arch_column: str = "arch",
                 accuracy_column: str | None = None) -> None:
        if not path or not accuracy_column:
            raise ConfigError("the table estimator needs 'path' (a CSV file) and 'accuracy_column'")
        self.table = load_table(path, arch_column)
        self.accuracy_column = accuracy_column
        self.table.column(accuracy_column)  # fail now on a missing or non-numeric column

    def estimate(self, arch: str, model=None, recipe: Mapping[str, Any] | None = None) -> dict[str, float]:
        """``error_pct`` and ``accuracy_pct`` of ``arch``; raises MissingEntry when absent."""
        accuracy = self.table.value(arch, self.accuracy_column)
        return {"error_pct": 100.0 - accuracy, "accuracy_pct": accuracy}
