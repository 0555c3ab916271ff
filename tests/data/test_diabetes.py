"""Tests for the ``diabetes`` tabular regression dataset."""

import numpy as np

from hwnas.data import load_task


def test_diabetes_is_tabular_regression():
    task = load_task({"dataset": "diabetes"})
    assert task.is_regression and task.num_classes == 0 and task.output_dim == 1
    assert task.input_shape == (10,)
    assert len(task.x_train) + len(task.x_val) == 442
    assert task.y_train.dtype == np.float32 and task.y_train.shape == (len(task.x_train),)


def test_diabetes_features_and_targets_are_standardised():
    task = load_task({"dataset": "diabetes"})
    np.testing.assert_allclose(task.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(task.x_train.std(axis=0), 1.0, atol=1e-4)
    assert abs(float(task.y_train.mean())) < 1e-5 and abs(float(task.y_train.std()) - 1) < 1e-4


def test_diabetes_targets_raw_without_standardize():
    task = load_task({"dataset": "diabetes", "standardize": False})
    assert task.y_train.min() >= 25 and task.y_train.max() <= 346  # disease progression units
