"""Accuracy estimators: the :class:`AccuracyEstimator` interface, its registry and the
``proxy-trainer`` (short training runs), ``table`` (accuracy from a CSV), ``zero-cost`` (a
zero-cost proxy score, no training), ``zero-cost-filtered`` (training behind a proxy
pre-filter) and ``successive-halving`` (multi-fidelity training: short runs first, longer runs
for survivors).

Example:
    >>> from hwnas.estimate import ESTIMATORS
    >>> "proxy-trainer" in ESTIMATORS
    True
"""

from .base import ESTIMATORS, AccuracyEstimator
from .trainer import OPTIMIZERS, ProxyTrainer, recalibrate_batchnorm
from .multi_fidelity import SuccessiveHalvingTrainer
from .table import TableEstimator
from .zero_cost import PROXIES, PreFilteredTrainer, ZeroCostEstimator, score_model

__all__ = ["ESTIMATORS", "OPTIMIZERS", "PROXIES", "AccuracyEstimator", "PreFilteredTrainer", "ProxyTrainer",
           "SuccessiveHalvingTrainer",
           "TableEstimator", "ZeroCostEstimator", "recalibrate_batchnorm", "score_model"]
