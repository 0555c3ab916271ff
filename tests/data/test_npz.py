"""Tests for the ``npz`` dataset (a user's own arrays)."""

import numpy as np
import pytest

from hwnas.data import load_task
from hwnas.exceptions import ConfigError, DataError


def _save(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def _labels(n, classes=4):
    return (np.arange(n) % classes).astype(np.int64)


def test_npz_classification_with_carved_validation(tmp_path):
    rng = np.random.default_rng(0)
    path = _save(tmp_path / "d.npz", x_train=rng.normal(size=(40, 5)), y_train=_labels(40))
    task = load_task({"dataset": "npz", "path": path})
    assert task.num_classes == 4 and task.input_shape == (5,)
    assert len(task.x_train) == 30 and len(task.x_val) == 10
    assert task.x_train.dtype == np.float32


def test_npz_own_validation_split_is_used_as_is(tmp_path):
    rng = np.random.default_rng(0)
    path = _save(tmp_path / "d.npz", x_train=rng.normal(size=(40, 3, 4, 4)), y_train=_labels(40),
                 x_val=rng.normal(size=(7, 3, 4, 4)), y_val=_labels(7))
    task = load_task({"dataset": "npz", "path": path})
    assert len(task.x_train) == 40 and len(task.x_val) == 7 and task.input_shape == (3, 4, 4)
    np.testing.assert_array_equal(task.y_val, _labels(7))


def test_npz_val_fraction_with_own_validation_split_is_an_error(tmp_path):
    path = _save(tmp_path / "d.npz", x_train=np.zeros((8, 2)), y_train=_labels(8),
                 x_val=np.zeros((4, 2)), y_val=_labels(4))
    with pytest.raises(ConfigError, match="val_fraction = 0.3 has no effect"):
        load_task({"dataset": "npz", "path": path, "val_fraction": 0.3})


def test_npz_float_targets_mean_regression(tmp_path):
    rng = np.random.default_rng(0)
    path = _save(tmp_path / "d.npz", x=rng.normal(size=(50, 3)), y=rng.normal(size=(50, 1)) * 100 + 7)
    task = load_task({"dataset": "npz", "path": path})
    assert task.is_regression and task.y_train.shape == (len(task.x_train),)
    assert abs(float(task.y_train.mean())) < 1e-5


def test_npz_uint8_images_are_scaled_to_unit_range(tmp_path):
    x = np.full((20, 1, 2, 2), 255, np.uint8)
    x[::2] = 0
    path = _save(tmp_path / "d.npz", x=x, y=_labels(20, 2))
    task = load_task({"dataset": "npz", "path": path, "standardize": False})
    assert set(np.unique(task.x_train).tolist()) == {0.0, 1.0}


def test_npz_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"npz: file '.*nope.npz' does not exist; set \[task\] path"):
        load_task({"dataset": "npz", "path": str(tmp_path / "nope.npz")})


def test_npz_without_a_path_says_which_key_to_add():
    with pytest.raises(ConfigError, match=r"^run.toml: \[task\] dataset = 'npz' needs path = '<file.npz>' \(the data "
                                          r"to read\); add it to \[task\]$"):
        load_task({"dataset": "npz"}, source="run.toml")


def test_npz_missing_keys_are_named(tmp_path):
    path = _save(tmp_path / "d.npz", features=np.zeros((4, 2)))
    with pytest.raises(DataError, match="lacks array\\(s\\) x, y \\(it has features\\)"):
        load_task({"dataset": "npz", "path": path})


def test_npz_x_val_without_y_val(tmp_path):
    path = _save(tmp_path / "d.npz", x_train=np.zeros((4, 2)), y_train=_labels(4), x_val=np.zeros((2, 2)))
    with pytest.raises(DataError, match="lacks array\\(s\\) y_val"):
        load_task({"dataset": "npz", "path": path})


def test_npz_length_mismatch(tmp_path):
    path = _save(tmp_path / "d.npz", x=np.zeros((10, 2)), y=_labels(9))
    with pytest.raises(DataError, match=r"x has shape \(10, 2\) and y \(9,\)"):
        load_task({"dataset": "npz", "path": path})


def test_npz_object_arrays_are_refused(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.array([{"a": 1}] * 4, dtype=object), y=_labels(4))
    with pytest.raises(DataError, match=r"x is an object array, which hwnas does not unpickle; save x as a numeric "
                                        r"array, e.g. np.asarray\(x, dtype=np.float32\)"):
        load_task({"dataset": "npz", "path": str(path)})


def test_npz_an_object_array_it_does_not_use_is_ignored(tmp_path):
    # e.g. pandas column names saved beside the data (an object array)
    path = tmp_path / "d.npz"
    x = np.random.default_rng(0).normal(size=(40, 3))
    np.savez(path, x=x, y=_labels(40), columns=np.array(["a", "b", "c"], dtype=object))
    assert load_task({"dataset": "npz", "path": str(path)}).input_shape == (3,)


@pytest.mark.parametrize("content", [b"hello", b"a,b\n1,2\n", b""])
def test_npz_not_a_zip_file(tmp_path, content):
    path = tmp_path / "d.npz"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_task({"dataset": "npz", "path": str(path)})
    message = str(info.value)
    assert message == (f"npz: cannot read '{path}': it is not a NumPy .npz file (a zip archive of arrays); "
                       "convert the data and save it with numpy.savez(file, x=..., y=...)")
    assert "pickle" not in message  # not the object arrays np.load blames


def test_npz_negative_class_ids(tmp_path):
    path = _save(tmp_path / "d.npz", x=np.zeros((4, 2)), y=np.array([0, 1, -1, 1]))
    with pytest.raises(DataError, match="negative class id -1"):
        load_task({"dataset": "npz", "path": path})


@pytest.mark.parametrize("y, fragment", [
    (np.array([1, 2, 3, 1, 2, 3]), r"3 class ids from 1 to 3 \(none labelled 0\); class ids must be 0..2"),
    (np.array([0, 5, 10, 0, 5, 10]), r"3 class ids from 0 to 10 \(none labelled 1, 2, 3, 4, 6, \.\.\.\)"),
    (np.array([0, 10**9] * 3), r"2 class ids from 0 to 1000000000 \(none labelled 1, 2, 3, 4, 5, \.\.\.\)"),
    (np.array([1] * 6), "has a single class"),
    (np.array([0, 1, 2] * 2, np.uint64) + np.uint64(2**63), r"none labelled 0, 1, 2"),
])
def test_npz_class_ids_must_be_0_to_c_minus_1_without_gaps(tmp_path, y, fragment):
    path = _save(tmp_path / "d.npz", x=np.zeros((6, 2)), y=y)
    with pytest.raises(DataError, match=fragment):
        load_task({"dataset": "npz", "path": path})


def test_npz_a_class_only_in_the_validation_split_counts(tmp_path):
    path = _save(tmp_path / "d.npz", x_train=np.zeros((8, 2)), y_train=_labels(8, 2),
                 x_val=np.zeros((3, 2)), y_val=np.array([0, 1, 2]))
    assert load_task({"dataset": "npz", "path": path}).num_classes == 3


def test_npz_channels_last_images_are_refused(tmp_path):
    path = _save(tmp_path / "d.npz", x=np.zeros((8, 8, 8, 3), np.uint8), y=_labels(8, 2))
    with pytest.raises(DataError, match=r"x has shape \(8, 8, 8, 3\), which looks channels-last .* "
                                        r"save x.transpose\(0, 3, 1, 2\)"):
        load_task({"dataset": "npz", "path": path})


@pytest.mark.parametrize("shape", [(8, 16, 16, 8), (8, 6, 6, 2)])
def test_npz_square_channels_last_images_with_other_channel_counts_are_refused(tmp_path, shape):
    path = _save(tmp_path / "d.npz", x=np.zeros(shape, np.float32), y=_labels(8, 2))
    with pytest.raises(DataError, match="looks channels-last"):
        load_task({"dataset": "npz", "path": path})


def test_npz_channels_first_images_with_more_channels_than_rows_are_taken(tmp_path):
    path = _save(tmp_path / "d.npz", x=np.zeros((8, 16, 8, 8), np.float32), y=_labels(8, 2))
    assert load_task({"dataset": "npz", "path": path}).input_shape == (16, 8, 8)


def test_npz_uint8_and_float_splits_are_refused(tmp_path):
    path = _save(tmp_path / "d.npz", x_train=np.zeros((8, 1, 4, 4), np.uint8), y_train=_labels(8, 2),
                 x_val=np.zeros((4, 1, 4, 4)), y_val=_labels(4, 2))
    with pytest.raises(DataError, match="x_train has dtype uint8 but x_val float64"):
        load_task({"dataset": "npz", "path": path})


def test_npz_both_key_pairs_are_refused(tmp_path):
    path = _save(tmp_path / "d.npz", x_train=np.zeros((8, 2)), y_train=_labels(8, 2),
                 x=np.zeros((8, 3)), y=_labels(8, 2))
    with pytest.raises(DataError, match="has both x_train/y_train and x/y arrays"):
        load_task({"dataset": "npz", "path": path})


def test_npz_path_is_a_directory(tmp_path):
    with pytest.raises(DataError, match=r"npz: '.*' is a directory; set \[task\] path to a .npz file"):
        load_task({"dataset": "npz", "path": str(tmp_path)})


def test_npz_a_single_npy_array_is_refused(tmp_path):
    path = tmp_path / "d.npy"
    np.save(path, np.zeros((4, 2)))
    with pytest.raises(DataError, match="holds a single ndarray, not named arrays"):
        load_task({"dataset": "npz", "path": str(path)})


def test_npz_a_class_with_one_sample_is_named_when_a_split_is_carved(tmp_path):
    y = np.concatenate([_labels(20, 2), [2]])
    path = _save(tmp_path / "d.npz", x=np.zeros((21, 3)), y=y)
    with pytest.raises(DataError) as info:  # named by its config, as the other split errors are
        load_task({"dataset": "npz", "path": path}, source="my.toml")
    assert str(info.value) == ("my.toml: [task] dataset 'npz': class 2 has a single sample, which no validation split "
                               "can stratify; add samples of it, drop it, or supply your own split (x_val, y_val); if "
                               "the labels are quantities (ages, counts), store float targets for a regression")


def test_npz_integer_quantities_with_lone_values_are_told_how_to_regress(tmp_path):
    # ages saved as integers: many values occur once, and a regression is the likelier intent
    y = np.r_[_labels(20, 2), np.arange(2, 9)]
    path = _save(tmp_path / "d.npz", x=np.zeros((27, 3)), y=y)
    with pytest.raises(DataError) as info:
        load_task({"dataset": "npz", "path": path})
    assert str(info.value).endswith("classes 2, 3, 4, 5, 6, ... have a single sample, which no validation split can "
                                    "stratify; add samples of them, drop them, or supply your own split (x_val, "
                                    "y_val); if the labels are quantities (ages, counts), store float targets for a "
                                    "regression")


@pytest.mark.parametrize("key", ["x", "x_val"])
def test_npz_nan_inputs_name_the_file_and_array(tmp_path, key):
    x = np.random.default_rng(0).normal(size=(20, 3))
    bad = x.copy()
    bad[2, 1], bad[5, 0] = np.nan, np.inf
    arrays = {"x": bad, "y": _labels(20)} if key == "x" else {
        "x_train": x, "y_train": _labels(20), "x_val": bad, "y_val": _labels(20)}
    path = _save(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match=f"npz: '{path}' {key} contains 2 NaN or infinite values; clean them first"):
        load_task({"dataset": "npz", "path": path})


def test_npz_float_targets_that_look_like_class_ids_are_noted(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 3))
    path = _save(tmp_path / "d.npz", x=x, y=_labels(40, 3).astype(np.float64))
    task = load_task({"dataset": "npz", "path": path})
    assert task.is_regression
    assert task.notes == (f"npz: '{path}' y is floating-point (float64), so this is a regression task (error from R²); "
                          "its values are 3 whole numbers from 0 to 2: if they are class ids, save y.astype(int) to "
                          "classify",)
    real = _save(tmp_path / "r.npz", x=x, y=np.linspace(0.0, 1.0, 40))
    assert load_task({"dataset": "npz", "path": real}).notes == ()  # real-valued targets: nothing to say


def test_npz_arrays_it_does_not_read_are_noted_with_how_to_use_a_validation_split(tmp_path):
    # x_valid/y_valid were dropped without a word, and the error came from a split carved from x_train
    x = np.random.default_rng(0).normal(size=(40, 3))
    path = _save(tmp_path / "d.npz", x_train=x, y_train=_labels(40), x_valid=x[:8], y_valid=_labels(8))
    task = load_task({"dataset": "npz", "path": path})
    assert len(task.x_train) == 30 and len(task.x_val) == 10
    assert task.notes == (f"npz: '{path}' also holds x_valid, y_valid, which hwnas does not read (it reads x_train, "
                          "y_train); the validation split is carved from x_train with [task] val_fraction: to use "
                          "x_valid, y_valid instead, save them as x_val, y_val",)
    path = _save(tmp_path / "t.npz", x=x, y=_labels(40), x_val=x[:8], y_val=_labels(8), names=np.arange(3))
    assert load_task({"dataset": "npz", "path": path}).notes == (
        f"npz: '{path}' also holds names, which hwnas does not read (it reads x, y, x_val, y_val)",)


@pytest.mark.parametrize("y", [np.arange(20, 60), np.r_[np.arange(39), -1]])
def test_npz_integer_targets_that_are_not_class_ids_name_the_regression_fix(tmp_path, y):
    # ages or prices saved as integers: the user may want a regression, not remapped class ids
    path = _save(tmp_path / "d.npz", x_train=np.zeros((40, 2)), y_train=y)
    with pytest.raises(DataError, match=r"class ids must be 0\.\.C-1|class ids must be 0\.\.39") as info:
        load_task({"dataset": "npz", "path": path})
    assert str(info.value).endswith("(integer targets mean classification; for a regression, save "
                                    "y_train.astype(float))")


def test_npz_samples_without_features_are_refused_at_load(tmp_path):
    path = _save(tmp_path / "d.npz", x=np.zeros((20, 0)), y=_labels(20))
    with pytest.raises(DataError, match=r"x has shape \(20, 0\), so its samples hold no values; save at least one "
                                        r"feature \(or pixel\) per sample"):
        load_task({"dataset": "npz", "path": path})
