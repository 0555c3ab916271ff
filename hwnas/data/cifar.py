"""``cifar10``: CIFAR-10 from the "python version" batch files (``data_batch_1`` .. ``_5``).

``[task] path`` names the ``cifar-10-batches-py`` directory (or its parent). Only the five
training batches are loaded (50,000 images); ``test_batch``, the official test split, is never
used for validation.

The batches are Python pickles. Files we read are data, never code, so they are unpickled with
:class:`SafeUnpickler`, which allows only the few globals that a dict of bytes, lists and
NumPy arrays needs (NumPy's array and dtype reconstruction and ``_codecs.encode`` for bytes
written by Python 3) and refuses every other global, so a crafted file cannot run code. Object
arrays are refused too.
"""

from __future__ import annotations

import codecs
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import DataError
from .base import DATASETS, RawData

_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    # Python 3 pickles bytes (protocol < 3) as _codecs.encode(str, "latin1"); allow only that.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refused _codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1")


def _numpy_globals() -> dict[tuple[str, str], Any]:
    reconstruct = np.zeros(1).__reduce__()[0]  # numpy's _reconstruct, whichever module holds it
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]  # numpy's _frombuffer (pickle protocol 5)
    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                           ("_codecs", "encode"): _latin1_encode}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return allowed


class SafeUnpickler(pickle.Unpickler):
    """An unpickler for data files: only NumPy arrays, dicts, lists, strings, bytes and numbers.

    Every global outside a short allow-list (NumPy array/dtype reconstruction, latin-1 bytes)
    raises :class:`pickle.UnpicklingError`, so loading never imports or calls anything else.
    """

    _ALLOWED = _numpy_globals()

    def find_class(self, module: str, name: str) -> Any:
        """Resolve an allow-listed global; refuse everything else."""
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}: data files may hold only "
                                         "arrays, dicts, lists, strings, bytes and numbers") from None


def safe_unpickle(path: str | Path) -> Any:
    """Unpickle a data file with :class:`SafeUnpickler` (Python 2 pickles included).

    Args:
        path: the pickle file.

    Returns:
        The unpickled object (byte strings of Python 2 pickles stay ``bytes``).

    Raises:
        DataError: the file cannot be read, is not a pickle, refers to a refused global or
            holds an object array.
    """
    try:
        data = Path(path).read_bytes()
        obj = SafeUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as exc:
        raise DataError(f"cannot read pickle '{path}' safely ({type(exc).__name__}: {exc}); use the "
                        "original CIFAR python batches or convert the data to .npz") from None
    _refuse_objects(obj, path)
    return obj


@DATASETS.register("cifar10")
def load_cifar10(path: str) -> RawData:
    """Load the CIFAR-10 training batches as ``(50000, 3, 32, 32)`` uint8 images.

    Args:
        path: the ``cifar-10-batches-py`` directory, or a directory containing it.

    Returns:
        The training images and labels; validation is carved from them.

    Raises:
        DataError: batches are missing, unreadable or malformed.
    """
    root = Path(path).expanduser()
    if (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    missing = [b for b in _TRAIN_BATCHES if not (root / b).is_file()]
    if missing:
        raise DataError(f"cifar10: '{root}' lacks {', '.join(missing)}; set [task] path to the "
                        "extracted cifar-10-batches-py directory of cifar-10-python.tar.gz")
    xs, ys = [], []
    for name in _TRAIN_BATCHES:
        batch = safe_unpickle(root / name)
        if not isinstance(batch, dict):
            raise DataError(f"cifar10: '{root / name}' holds a {type(batch).__name__}, not a batch dict")
        batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
        if "data" not in batch or "labels" not in batch:
            raise DataError(f"cifar10: '{root / name}' has keys {sorted(map(str, batch))}; expected "
                            "'data' and 'labels'")
        data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"])
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
            raise DataError(f"cifar10: '{root / name}' has data {data.dtype}{data.shape} and "
                            f"{len(labels)} labels; expected uint8 (N, 3072) and N labels")
        xs.append(data.reshape(-1, 3, 32, 32))
        ys.append(labels.astype(np.int64))
    y = np.concatenate(ys)
    if y.min() < 0 or y.max() > 9:
        raise DataError(f"cifar10: labels in '{root}' range over [{y.min()}, {y.max()}]; expected 0..9")
    return RawData(x=np.concatenate(xs), y=y, num_classes=10, pixel_max=255.0)


load_cifar10.path_example = "<cifar-10-batches-py folder>"  # shown when [task] has no path


def _refuse_objects(obj: Any, path: str | Path) -> None:
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, np.ndarray) and item.dtype.hasobject:
            raise DataError(f"cannot read pickle '{path}': it holds an object array; data files may hold "
                            "numeric arrays only")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
