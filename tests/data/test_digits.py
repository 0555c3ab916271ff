"""Tests for the ``digits`` dataset and the split/standardisation done by ``load_task``."""

import random

import numpy as np

from hwnas.data import DATASETS, load_task


def test_digits_is_registered_and_is_the_default():
    assert "digits" in DATASETS.names()
    assert load_task({}).name == "digits"


def test_digits_shapes_dtypes_and_split_sizes():
    task = load_task({"dataset": "digits"})
    assert task.x_train.shape == (1347, 1, 8, 8) and task.x_val.shape == (450, 1, 8, 8)
    assert task.x_train.dtype == np.float32 and task.y_train.dtype == np.int64
    assert task.input_shape == (1, 8, 8)
    assert task.num_classes == 10 and task.output_dim == 10 and not task.is_regression


def test_digits_validation_split_is_stratified():
    task = load_task({"dataset": "digits"})
    val_counts = np.bincount(task.y_val, minlength=10)
    all_counts = val_counts + np.bincount(task.y_train, minlength=10)
    assert np.all(np.abs(val_counts - all_counts * 0.25) <= 1)


def test_digits_standardised_with_training_statistics():
    task = load_task({"dataset": "digits"})
    assert abs(float(task.x_train.mean())) < 1e-5
    assert abs(float(task.x_train.std()) - 1.0) < 1e-4
    assert abs(float(task.x_val.mean())) < 0.1  # validation uses the training statistics


def test_digits_unstandardised_pixels_are_in_unit_range():
    task = load_task({"dataset": "digits", "standardize": False})
    assert task.x_train.min() == 0.0 and task.x_train.max() == 1.0


def test_split_is_deterministic_per_seed_and_changes_with_the_seed():
    a, b = load_task({"seed": 3}), load_task({"seed": 3})
    c = load_task({"seed": 4})
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.y_val, c.y_val)


def test_arrays_are_read_only():
    task = load_task({})
    assert not task.x_train.flags.writeable and not task.y_val.flags.writeable


def test_loading_leaves_the_global_rngs_alone():
    np.random.seed(123)
    random.seed(123)
    np_state, py_state = np.random.get_state(), random.getstate()
    load_task({"seed": 7, "max_train_samples": 100})
    assert random.getstate() == py_state
    after = np.random.get_state()
    assert after[1].tolist() == np_state[1].tolist() and after[2] == np_state[2]
