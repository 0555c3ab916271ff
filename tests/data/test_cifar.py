"""Tests for the ``cifar10`` dataset and its restricted unpickler (on fake batches written here)."""

import os
import pickle

import numpy as np
import pytest

from hwnas.data import load_task
from hwnas.data.cifar import safe_unpickle
from hwnas.exceptions import ConfigError, DataError

_PER_BATCH = 10


def _batch(index: int) -> dict:
    rng = np.random.default_rng(index)
    return {b"batch_label": f"training batch {index} of 5".encode(),
            b"labels": list(range(_PER_BATCH)),
            b"data": rng.integers(0, 256, (_PER_BATCH, 3072), dtype=np.uint8),
            b"filenames": [f"img{i}.png".encode() for i in range(_PER_BATCH)]}


def fake_cifar_dir(root, protocol: int = 2):
    """Write the five training batches and a test batch as the CIFAR python version does."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        (root / f"data_batch_{i}").write_bytes(pickle.dumps(_batch(i), protocol=protocol))
    (root / "test_batch").write_bytes(b"never read")  # the official test split is not used
    return root


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar10_loads_training_batches(tmp_path, protocol):
    root = fake_cifar_dir(tmp_path / "cifar-10-batches-py", protocol)
    task = load_task({"dataset": "cifar10", "path": str(root), "val_fraction": 0.3})
    assert task.input_shape == (3, 32, 32) and task.num_classes == 10
    assert len(task.x_train) + len(task.x_val) == 5 * _PER_BATCH
    assert len(task.x_val) == 15


def test_cifar10_accepts_the_parent_directory(tmp_path):
    fake_cifar_dir(tmp_path / "cifar-10-batches-py")
    task = load_task({"dataset": "cifar10", "path": str(tmp_path)})
    assert task.input_shape == (3, 32, 32)


def test_cifar10_pixels_keep_their_channel_layout(tmp_path):
    root = fake_cifar_dir(tmp_path / "c")
    task = load_task({"dataset": "cifar10", "path": str(root), "standardize": False, "val_fraction": 0.2})
    raw = np.concatenate([_batch(i)[b"data"] for i in range(1, 6)]).reshape(-1, 3, 32, 32) / 255.0
    # every training image is one of the raw images, red plane first
    first = task.x_train[0]
    assert any(np.allclose(first, image) for image in raw)


def test_cifar10_without_a_path_says_which_key_to_add():
    with pytest.raises(ConfigError, match=r"\[task\] dataset = 'cifar10' needs path = '<cifar-10-batches-py folder>'"):
        load_task({"dataset": "cifar10"})


def test_cifar10_missing_batches_are_named(tmp_path):
    root = fake_cifar_dir(tmp_path / "c")
    (root / "data_batch_4").unlink()
    with pytest.raises(DataError, match="lacks data_batch_4; set \\[task\\] path"):
        load_task({"dataset": "cifar10", "path": str(root)})


class _Exploit:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_unpickler_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil"
    path.write_bytes(pickle.dumps({b"data": _Exploit(str(marker))}, protocol=2))
    with pytest.raises(DataError, match="refused global"):
        safe_unpickle(path)
    assert not marker.exists()


def test_cifar10_with_a_malicious_batch_fails_cleanly(tmp_path):
    root = fake_cifar_dir(tmp_path / "c")
    (root / "data_batch_2").write_bytes(pickle.dumps(_Exploit(str(tmp_path / "x")), protocol=2))
    with pytest.raises(DataError, match="data_batch_2"):
        load_task({"dataset": "cifar10", "path": str(root)})
    assert not (tmp_path / "x").exists()


def test_unpickler_refuses_object_arrays(tmp_path):
    path = tmp_path / "obj"
    path.write_bytes(pickle.dumps({b"data": np.array([1, "a"], dtype=object)}, protocol=2))
    with pytest.raises(DataError, match="object array"):
        safe_unpickle(path)


def test_unpickler_reads_plain_data(tmp_path):
    path = tmp_path / "ok"
    payload = {b"k": [1, 2.5, "s", b"b", (3,)], "a": np.arange(6, dtype=np.int16).reshape(2, 3)}
    path.write_bytes(pickle.dumps(payload, protocol=2))
    out = safe_unpickle(path)
    assert out[b"k"] == [1, 2.5, "s", b"b", (3,)]
    np.testing.assert_array_equal(out["a"], payload["a"])


def test_cifar10_malformed_batch(tmp_path):
    root = fake_cifar_dir(tmp_path / "c")
    (root / "data_batch_1").write_bytes(pickle.dumps({b"data": np.zeros((2, 5), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(DataError, match="expected uint8 \\(N, 3072\\)"):
        load_task({"dataset": "cifar10", "path": str(root)})
