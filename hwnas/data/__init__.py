"""Datasets: loaders registered by name and the :class:`Task` they become.

Importing this package registers ``digits`` (the default), ``fashion_mnist``, ``npz``,
``cifar10`` and ``diabetes``.

Example:
    >>> from hwnas.data import load_task
    >>> load_task({"dataset": "digits"}).x_train.shape
    (1347, 1, 8, 8)
"""

from . import cifar, diabetes, digits, fashion_mnist, npz  # noqa: F401  (register the datasets)
from .base import DATASETS, RawData, Task, load_task, standardize

__all__ = ["DATASETS", "RawData", "Task", "load_task", "standardize"]
