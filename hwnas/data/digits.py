"""``digits``: scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), shipped with
scikit-learn, so it works offline. The default dataset."""

from __future__ import annotations

import numpy as np

from .base import DATASETS, RawData


@DATASETS.register("digits")
def load_digits() -> RawData:
    """Load the digits as ``(N, 1, 8, 8)`` images with pixel values 0..16.

    Returns:
        The whole dataset; :func:`~hwnas.data.load_task` carves the validation split.
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    x = np.asarray(bunch.images, dtype=np.float32)[:, None, :, :]
    return RawData(x=x, y=np.asarray(bunch.target, dtype=np.int64), num_classes=10, pixel_max=16.0)
