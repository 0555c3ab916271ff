"""Tests for ``load_task`` option validation and for ``Task`` itself."""

import re
import warnings

import numpy as np
import pytest

from hwnas.data import Task, load_task, standardize
from hwnas.data.base import resize_images
from hwnas.exceptions import ConfigError, DataError, RegistryError


def test_unknown_key_names_key_source_and_valid_keys():
    with pytest.raises(ConfigError) as info:
        load_task({"dataset": "digits", "val_frac": 0.2}, source="search.toml")
    message = str(info.value)
    assert message.startswith("search.toml: unknown key(s) 'val_frac' in [task]")
    assert message.endswith("; did you mean 'val_fraction'?")
    assert "val_fraction" in message


@pytest.mark.parametrize("key, value, fragment", [
    ("val_fraction", 1.5, "strictly between 0 and 1"),
    ("val_fraction", 0, "strictly between 0 and 1"),
    ("val_fraction", True, "strictly between 0 and 1"),
    ("seed", -1, "an integer >= 0"),
    ("seed", 1.5, "an integer >= 0"),
    ("max_train_samples", "all", "an integer >= 0 (0 = all)"),
    ("max_train_samples", 1, "0 (all) or at least 2"),
    ("max_val_samples", -5, "an integer >= 0 (0 = all)"),
    ("standardize", "yes", "true or false"),
    ("dataset", 3, "a dataset name"),
    ("path", "", "a non-empty string"),
])
def test_bad_values_name_key_value_and_range(key, value, fragment):
    with pytest.raises(ConfigError) as info:
        load_task({key: value}, source="cfg.toml")
    message = str(info.value)
    assert message.startswith(f"cfg.toml: [task] {key} = {value!r} is invalid")
    assert fragment in message


def test_unknown_dataset_suggests_close_names():
    with pytest.raises(RegistryError) as info:
        load_task({"dataset": "digit"}, source="cfg.toml")
    message = str(info.value)
    assert message.startswith("cfg.toml: [task] dataset: unknown dataset 'digit'")
    assert "did you mean 'digits'" in message and "fashion_mnist" in message


def test_path_for_a_built_in_dataset_is_refused():
    with pytest.raises(ConfigError, match="path = '/tmp/x' is not used by dataset 'digits'"):
        load_task({"dataset": "digits", "path": "/tmp/x"})


def test_max_train_and_val_samples_subset_the_splits():
    task = load_task({"dataset": "digits", "max_train_samples": 200, "max_val_samples": 100})
    assert len(task.x_train) == 200 and len(task.x_val) == 100
    assert np.bincount(task.y_train, minlength=10).min() >= 19  # stratified


def test_val_fraction_sets_the_validation_size():
    task = load_task({"dataset": "digits", "val_fraction": 0.1})
    assert len(task.x_val) == 180


def test_too_few_samples_to_split(tmp_path):
    path = tmp_path / "tiny.npz"
    np.savez(path, x=np.zeros((4, 2)), y=np.array([0, 0, 1, 1]))
    with pytest.raises(DataError, match="cannot split 4 samples with val_fraction=0.25"):
        load_task({"dataset": "npz", "path": str(path)})


def test_standardize_uses_per_channel_statistics_for_images():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(50, 3, 4, 4)) * np.array([1, 10, 100])[None, :, None, None] + 5
    (out,) = standardize(train)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-4)


def test_standardize_leaves_constant_features_finite():
    train = np.ones((5, 2))
    train[:, 1] = np.arange(5)
    out, other = standardize(train, train[:2])
    assert np.isfinite(out).all() and (out[:, 0] == 0).all() and other.dtype == np.float32


def test_standardize_uses_the_moments_it_is_given_instead_of_taking_them_again():
    train = np.arange(12.0).reshape(6, 2)
    mean, std = np.array([[1.0, 2.0]]), np.array([[2.0, 4.0]])
    out, other = standardize(train, train[:1], moments=(mean, std))
    np.testing.assert_allclose(out, (train - mean) / std)
    np.testing.assert_allclose(other, [[-0.5, -0.25]])
    np.testing.assert_allclose(standardize(train, moments=None)[0].mean(axis=0), 0, atol=1e-6)  # taken


def _task(**kw):
    x = np.zeros((4, 2), np.float32)
    args = dict(name="t", x_train=x, y_train=np.array([0, 1, 0, 1]), x_val=x, y_val=np.array([0, 1, 1, 0]),
                num_classes=2)
    args.update(kw)
    return Task(**args)


def test_task_properties():
    task = _task()
    assert task.input_shape == (2,) and task.output_dim == 2 and not task.is_regression
    reg = _task(y_train=np.zeros(4, np.float32), y_val=np.zeros(4, np.float32), num_classes=0)
    assert reg.is_regression and reg.output_dim == 1
    assert "x_train" not in repr(task)


@pytest.mark.parametrize("kw, fragment", [
    ({"y_train": np.array([0, 1, 0])}, "x_train has 4 rows and y_train 3"),
    ({"y_val": np.array([0, 1, 2, 0])}, "expected 0..1"),
    ({"x_val": np.zeros((4, 3), np.float32)}, "must match"),
    ({"x_train": np.zeros((4, 2))}, "expected float32"),
    ({"y_train": np.array([0.0, 1, 0, 1], np.float32)}, "classification needs int64"),
    ({"num_classes": -1}, "must be an int >= 0"),
])
def test_task_rejects_inconsistent_arrays(kw, fragment):
    with pytest.raises(DataError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        _task(**kw)


def test_resize_sets_the_input_resolution():
    task = load_task({"dataset": "digits", "resize": 12})
    assert task.input_shape == (1, 12, 12) and task.x_val.shape[1:] == (1, 12, 12)


@pytest.mark.parametrize("value", [3, -1, True, 2.5])
def test_bad_resize_is_named(value):
    with pytest.raises(ConfigError, match=r"\[task\] resize = .* must be 0 \(keep\) or an image side"):
        load_task({"dataset": "digits", "resize": value})


def test_resize_needs_images():
    with pytest.raises(ConfigError, match="resize = 12 needs image data"):
        load_task({"dataset": "diabetes", "resize": 12})


@pytest.mark.parametrize("seed", [2**32, 2**40])
def test_seed_beyond_32_bits_is_named(seed):
    with pytest.raises(ConfigError, match=rf"^cfg.toml: \[task\] seed = {seed} is invalid; it must be an integer "
                                          r">= 0 and <= 4294967295"):
        load_task({"dataset": "digits", "seed": seed}, source="cfg.toml")


def test_largest_seed_works_with_a_validation_subset():
    task = load_task({"dataset": "digits", "seed": 2**32 - 1, "max_val_samples": 50})
    assert len(task.x_val) == 50


def test_resize_refuses_to_stretch_non_square_images(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((20, 1, 8, 16)), y=np.arange(20) % 2)
    with pytest.raises(ConfigError, match=r"resize = 8 would stretch 'npz''s 8x16 images to a square"):
        load_task({"dataset": "npz", "path": str(path), "resize": 8})


def test_downsizing_is_antialiased():
    x = np.zeros((1, 1, 24, 24), np.float32)
    x[..., ::3] = 1.0  # a vertical line in every third column: mean 1/3
    out = resize_images(x, 8)
    np.testing.assert_allclose(out[..., 1:-1], 1 / 3, atol=0.01)  # not aliased to all 0 (or all 1)


def test_inputs_beyond_float32_range_are_refused_without_a_warning(tmp_path):
    path = tmp_path / "d.npz"
    x = np.ones((20, 2))
    x[0, 0] = 1e300
    np.savez(path, x=x, y=np.arange(20) % 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError) as info:
            load_task({"dataset": "npz", "path": str(path)}, source="my.toml")
    # named by its config and file, as the loader's own errors are
    assert str(info.value) == (f"my.toml: [task] dataset 'npz' (path {str(path)!r}): the inputs contain 1 NaN or "
                               "infinite value (or values beyond float32's range, about 3.4e38); clean or rescale "
                               "the data first")


def test_a_user_loader_that_raises_or_returns_something_else_is_named():
    from hwnas.data.base import DATASETS, load_task
    from hwnas.exceptions import DataError

    @DATASETS.register("broken-loader")
    def broken():
        raise RuntimeError("disk on fire")

    @DATASETS.register("tuple-loader")
    def wrong():
        return (1, 2)

    with pytest.raises(DataError, match=r"^\[task\] dataset 'broken-loader': its loader .*broken raised "
                                        r"RuntimeError: disk on fire$"):
        load_task({"dataset": "broken-loader"})
    with pytest.raises(DataError, match=r"its loader .*wrong returned a tuple, not hwnas.data.base.RawData"):
        load_task({"dataset": "tuple-loader"})


def test_a_loader_that_needs_an_argument_hwnas_does_not_pass_is_named():
    from hwnas.data.base import DATASETS, load_task
    from hwnas.exceptions import RegistryError

    @DATASETS.register("audit-root-loader")
    def needs_root(root, path=None, size=10):
        raise AssertionError("not called")

    # it was "raised TypeError: needs_root() missing 1 required positional argument: 'root'"
    with pytest.raises(RegistryError, match=r"^\[task\] dataset 'audit-root-loader': its loader .*needs_root needs "
                                            r"root, which hwnas does not pass \(a loader is called with no "
                                            r"arguments, or path = \[task\] path if it takes one\); give it a default$"):
        load_task({"dataset": "audit-root-loader", "path": "x.npz"})


def test_constant_regression_targets_are_refused_before_any_training(tmp_path):
    path = tmp_path / "d.npz"
    x = np.random.default_rng(0).normal(size=(40, 3))
    np.savez(path, x=x, y=np.full(40, 3.0))
    with pytest.raises(DataError, match=r"cfg.toml: \[task\] dataset 'npz': the 10 validation targets all equal 3, "
                                        r"so R² \(the error\) is undefined; every target in the data has that value"):
        load_task({"dataset": "npz", "path": str(path)}, source="cfg.toml")


def test_a_constant_validation_split_of_varied_regression_targets_is_refused(tmp_path):
    path = tmp_path / "d.npz"
    x = np.random.default_rng(0).normal(size=(40, 3))
    np.savez(path, x_train=x, y_train=np.arange(40.0), x_val=x[:5], y_val=np.full(5, 1.5))
    with pytest.raises(DataError, match="the 5 validation targets all equal 1.5.*save a y_val whose values vary"):
        load_task({"dataset": "npz", "path": str(path)})


def test_a_carved_validation_split_of_one_target_asks_for_more_data_not_another_seed(tmp_path):
    # it read 'the 1 validation targets all equal ...; use ... another [task] seed', which cannot help
    path = tmp_path / "d.npz"
    np.savez(path, x=np.random.default_rng(0).normal(size=(3, 2)), y=np.array([1.0, 2.0, 4.0]))
    with pytest.raises(DataError) as info:
        load_task({"dataset": "npz", "path": str(path)}, source="cfg.toml")
    assert str(info.value).startswith("cfg.toml: [task] dataset 'npz': the validation split holds a single target (")
    assert str(info.value).endswith("), so R² (the error) is undefined; use more data or a larger [task] val_fraction, "
                                    "or your own x_val/y_val")


def test_a_carved_constant_validation_split_names_seed_and_val_fraction(tmp_path):
    path = tmp_path / "d.npz"
    x = np.random.default_rng(0).normal(size=(40, 3))
    np.savez(path, x=x, y=np.r_[np.full(39, 2.0), 5.0])
    with pytest.raises(DataError, match="all equal 2, .*another \\[task\\] seed or val_fraction"):
        load_task({"dataset": "npz", "path": str(path), "seed": 0})  # 5.0 lands in training


def test_a_loader_whose_labels_are_a_single_class_is_refused():
    from hwnas.data.base import DATASETS, RawData

    @DATASETS.register("one-class-loader")
    def one_class():  # num_classes 10, but every label 3: each network scored a trivial 100 %
        return RawData(x=np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32),
                       y=np.full(40, 3, dtype=np.int64), num_classes=10)

    with pytest.raises(DataError, match=r"^cfg.toml: \[task\] dataset 'one-class-loader': every label is class 3, "
                                        r"but a classification task needs at least 2 classes .*add samples of "
                                        r"other classes, or store float targets for a regression$"):
        load_task({"dataset": "one-class-loader"}, source="cfg.toml")


def test_a_validation_split_of_a_single_class_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "d.npz"
    x = np.random.default_rng(0).normal(size=(40, 3))
    np.savez(path, x_train=x, y_train=np.arange(40) % 2, x_val=x[:5], y_val=np.ones(5, dtype=np.int64))
    named = re.escape(repr(str(path)))
    with pytest.raises(DataError, match=rf"\[task\] dataset 'npz' \(path {named}\): the 5 validation labels "
                                        r"are all class 1, but a classification task needs at least 2 classes in "
                                        r"each split; save a y_val with other classes too"):
        load_task({"dataset": "npz", "path": str(path)})


def test_preprocessing_maps_the_data_s_own_values_to_the_task_s(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(5.0, 3.0, size=(40, 3)), rng.normal(100.0, 20.0, size=40)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=x, y_train=y, x_val=x[:8] * 2, y_val=y[:8] + 7)
    task = load_task({"dataset": "npz", "path": str(path)})
    pre = task.preprocessing
    assert pre["pixel_max"] is None and pre["resize"] == 0 and pre["x_stats_shape"] == [3]
    np.testing.assert_allclose((x[:8] * 2 - np.array(pre["x_mean"])) / np.array(pre["x_std"]), task.x_val, rtol=1e-5)
    np.testing.assert_allclose(task.y_val * pre["y_std"] + pre["y_mean"], y[:8] + 7, rtol=1e-5)
    digits = load_task({"dataset": "digits"}).preprocessing
    assert digits["pixel_max"] == 16 and len(digits["x_mean"]) == 1 and "y_mean" not in digits


def test_a_validation_split_too_small_for_the_classes_names_the_file_and_key():
    with pytest.raises(DataError, match=r"^run.toml: \[task\] dataset 'digits': cannot split 1797 samples with "
                                        r"val_fraction=0.001 .*; use more data or another \[task\] val_fraction$"):
        load_task({"dataset": "digits", "val_fraction": 0.001}, source="run.toml")
