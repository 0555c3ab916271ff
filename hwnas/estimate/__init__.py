"""Accuracy estimators: the :class:`AccuracyEstimator` interface, its registry and the
``proxy-trainer`` (short training runs) and ``table`` (accuracy from a CSV).

Example:
    >>> from hwnas.estimate import ESTIMATORS
    >>> "proxy-trainer" in ESTIMATORS
    True
"""

from .base import ESTIMATORS, AccuracyEstimator
from .trainer import OPTIMIZERS, ProxyTrainer, recalibrate_batchnorm
from .table import TableEstimator

__all__ = ["ESTIMATORS", "OPTIMIZERS", "AccuracyEstimator", "ProxyTrainer", "TableEstimator", "recalibrate_batchnorm"]
