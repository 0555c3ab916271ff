"""``diabetes``: scikit-learn's diabetes regression data (442 patients, 10 features, disease
progression after one year), shipped with scikit-learn, so it works offline."""

from __future__ import annotations

import numpy as np

from .base import DATASETS, RawData


@DATASETS.register("diabetes")
def load_diabetes() -> RawData:
    """Load the diabetes data as tabular regression: ``x`` of shape ``(N, 10)``, float targets.

    Returns:
        The whole dataset (``num_classes == 0``); :func:`~hwnas.data.load_task` splits and
        standardises features and targets.
    """
    from sklearn.datasets import load_diabetes as sk_load_diabetes

    bunch = sk_load_diabetes(scaled=False)
    return RawData(x=np.asarray(bunch.data, dtype=np.float32),
                   y=np.asarray(bunch.target, dtype=np.float32), num_classes=0)
