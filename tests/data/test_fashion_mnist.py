"""Tests for the IDX reader and the ``fashion_mnist`` dataset (on tiny files written here)."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from hwnas.data import load_task
from hwnas.data.fashion_mnist import DEFAULT_PATH, load_idx_split, read_idx
from hwnas.exceptions import DataError

_CODES = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    """Write ``array`` as an IDX file (big-endian header and data)."""
    big = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    header = bytes([0, 0, _CODES[big.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + big.tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def fake_fashion_dir(root: Path, n: int = 60, compress: bool = True) -> Path:
    rng = np.random.default_rng(0)
    write_idx(root / "train-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), compress)
    write_idx(root / "train-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8), compress)
    return root


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, ">i4", ">f4"])
def test_read_idx_round_trip(tmp_path, compress, dtype):
    array = (np.arange(24).reshape(2, 3, 4) * 3).astype(dtype)
    path = write_idx(tmp_path / "a-idx3", array, compress)
    out = read_idx(path)
    assert out.shape == (2, 3, 4) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_read_idx_rejects_bad_magic(tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x01\x00")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(path)


def test_read_idx_rejects_truncated_data(tmp_path):
    path = write_idx(tmp_path / "a", np.zeros((4, 5), np.uint8))
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(DataError, match=r"promises shape \(4, 5\)"):
        read_idx(path)


def test_fashion_mnist_loads_from_a_path(tmp_path):
    fake_fashion_dir(tmp_path)
    task = load_task({"dataset": "fashion_mnist", "path": str(tmp_path), "val_fraction": 0.25})
    assert task.x_train.shape == (45, 1, 28, 28) and task.x_val.shape == (15, 1, 28, 28)
    assert task.num_classes == 10 and task.y_train.dtype == np.int64


def test_fashion_mnist_never_reads_the_test_split(tmp_path):
    fake_fashion_dir(tmp_path, compress=False)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"not idx")  # would fail if read
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"not idx")
    task = load_task({"dataset": "fashion_mnist", "path": str(tmp_path)})
    assert len(task.x_train) + len(task.x_val) == 60


def test_fashion_mnist_max_train_samples_is_a_stratified_subset(tmp_path):
    fake_fashion_dir(tmp_path, n=200)
    task = load_task({"dataset": "fashion_mnist", "path": str(tmp_path), "max_train_samples": 50})
    assert len(task.x_train) == 50
    assert np.bincount(task.y_train, minlength=10).tolist() == [5] * 10


def test_fashion_mnist_missing_path_says_it_does_not_exist_not_to_install_the_package(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as info:
        load_task({"dataset": "fashion_mnist", "path": str(missing)})
    message = str(info.value)
    assert f"[task] path '{missing}' does not exist; set [task] path = the directory holding" in message
    assert "apt-get" not in message
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"path '.*empty' holds no IDX files; set \[task\] path") as info:
        load_task({"dataset": "fashion_mnist", "path": str(tmp_path / "empty")})
    assert "apt-get" not in str(info.value)


def test_fashion_mnist_without_a_path_and_without_the_package_says_to_install_it(tmp_path, monkeypatch):
    import hwnas.data.fashion_mnist as fashion_mnist

    monkeypatch.setattr(fashion_mnist, "DEFAULT_PATH", str(tmp_path / "datasets"))  # as if not installed
    with pytest.raises(DataError) as info:
        load_idx_split(tmp_path / "datasets")
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message and "[task] path" in message


def test_fashion_mnist_incomplete_directory_names_the_missing_file(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(DataError, match="lacks train-labels-idx1-ubyte"):
        load_idx_split(tmp_path)


def test_fashion_mnist_length_mismatch(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(DataError, match="expected \\(N, H, W\\) images and N labels"):
        load_idx_split(tmp_path)


@pytest.mark.skipif(not (Path(DEFAULT_PATH) / "train-images-idx3-ubyte.gz").exists(),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_the_debian_package():
    task = load_task({"dataset": "fashion_mnist", "max_train_samples": 1000, "max_val_samples": 500})
    assert task.x_train.shape == (1000, 1, 28, 28) and task.x_val.shape == (500, 1, 28, 28)
    assert np.bincount(task.y_train, minlength=10).tolist() == [100] * 10
    images, labels = load_idx_split(DEFAULT_PATH, "t10k")
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)


def test_read_idx_recognises_gzip_without_the_suffix(tmp_path):
    path = write_idx(tmp_path / "a", np.arange(6, dtype=np.uint8).reshape(2, 3), compress=True)
    renamed = path.rename(tmp_path / "a-idx2-ubyte")
    np.testing.assert_array_equal(read_idx(renamed), np.arange(6).reshape(2, 3))


def test_read_idx_corrupt_gzip_is_a_data_error(tmp_path):
    path = write_idx(tmp_path / "a", np.arange(4000, dtype=">i4"), compress=True)
    data = path.read_bytes()
    path.write_bytes(data[:20] + bytes(200) + data[220:])
    with pytest.raises(DataError, match="cannot read IDX file"):
        read_idx(path)


def test_fashion_mnist_path_to_a_file_names_its_folder(tmp_path):
    fake_fashion_dir(tmp_path)
    with pytest.raises(DataError, match=rf"'{tmp_path}/train-images-idx3-ubyte.gz' is a file; set \[task\] path "
                                        rf"to the directory holding it \('{tmp_path}'\)"):
        load_task({"dataset": "fashion_mnist", "path": str(tmp_path / "train-images-idx3-ubyte.gz")})


def test_fashion_mnist_folder_with_only_the_test_split(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="holds only t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte.*not the train split"):
        load_task({"dataset": "fashion_mnist", "path": str(tmp_path)})
