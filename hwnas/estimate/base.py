"""The accuracy side of an evaluation: the :class:`AccuracyEstimator` interface and its registry.

An estimator turns one architecture into accuracy metrics. Trainers fit the freshly built
model; zero-cost proxies, lookup tables and predictors may ignore it (``needs_model = False``
lets the caller skip building one).

Units: ``error_pct`` is 100 minus the top-1 validation accuracy in percent for classification,
and ``100 * (1 - R^2)`` on the validation split (percent of variance left unexplained) for
regression, so both read "lower is better, 0 is perfect". ``accuracy_pct = 100 - error_pct``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Mapping

import torch

from ..exceptions import attach_metrics
from ..registry import Registry, construct


class AccuracyEstimator(ABC):
    """Gives the accuracy-side metrics of one architecture.

    Attributes:
        name: the registry name, used in messages.
        needs_model: whether :meth:`estimate` needs the built torch module.
        trains: whether :meth:`estimate` trains that module in place; only then are its weights
            worth keeping (``weights/``, read by ``hwnas export`` and ``hwnas compress``).
        metrics: the metric columns :meth:`estimate` always returns; a search whose
            accuracy-side objective reads another column is refused when it is built.
        reads_table: whether the accuracy is a table's row: the space is then made with its
            :attr:`~hwnas.space.base.SearchSpace.table_defaults` (NB201 keeps cells that compute
            one network apart, as the table's rows do).
    """

    name: str = ""
    needs_model: bool = True
    trains: bool = False
    reads_table: bool = False
    metrics: tuple[str, ...] = ("error_pct", "accuracy_pct")

    @classmethod
    def from_options(cls, task: Any, options: Mapping[str, Any] | None = None, *,
                     source: str = "config") -> "AccuracyEstimator":
        """Build from a config table (``[estimator]`` without its ``name`` key).

        Args:
            task: the data (:class:`hwnas.data.Task`).
            options: keyword arguments of the constructor.
            source: where the options came from, for error messages.

        Raises:
            ConfigError: an unknown key or a bad value, prefixed with ``source``.
        """
        return construct(cls, task, options=dict(options or {}), where=source, label=cls.name or cls.__name__)

    @abstractmethod
    def estimate(self, arch: str, model: torch.nn.Module | None,
                 recipe: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Estimate the accuracy metrics of one architecture.

        Args:
            arch: canonical architecture string.
            model: a freshly built, untrained module (trainers train it in place), or None
                when ``needs_model`` is False.
            recipe: per-architecture training overrides from the search space, e.g.
                ``{"lr": 1e-3, "optimizer": "adam"}``.

        Returns:
            At least ``{"error_pct": ..., "accuracy_pct": ...}``; units in the names.

        Raises:
            FloatingPointError: training diverged (the caller records a failed candidate).
            HwnasError: a user error every candidate would hit (bad recipe, wrong output size).
        """

    def source(self) -> dict[str, Any] | None:
        """What this estimator's numbers come from besides the config, when that can change between
        sessions (a metric table's rows): recorded with a run, and a ``--resume`` whose source
        differs is refused. None (the default): nothing beyond the config."""
        return None

    def advice(self, evaluations: int) -> str | None:
        """A one-line note for a search of ``evaluations`` with this estimator's settings (e.g. a
        pre-filter whose warm-up covers the whole search), or None."""
        return None

    def observe(self, metrics: Mapping[str, float]) -> None:
        """Take note of a stored evaluation's metrics, read back when a search resumes.

        Estimators that learn from the candidates they evaluated (successive halving's rung
        results) override this so a resumed search decides as the uninterrupted one would;
        the default ignores it.
        """


class CandidateRejected(Exception):
    """An estimator's verdict that a candidate fails, after it measured ``metrics`` (kept in the
    candidate's failed row, e.g. the zero-cost score a pre-filter rejected it on)."""

    def __init__(self, message: str, metrics: Mapping[str, float]) -> None:
        super().__init__(message)
        attach_metrics(self, metrics)


#: Estimator name -> class; configs pick one with ``[estimator] name = "proxy-trainer"``.
ESTIMATORS: Registry[type[AccuracyEstimator]] = Registry("accuracy estimator")
