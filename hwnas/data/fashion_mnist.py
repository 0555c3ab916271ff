"""``fashion_mnist``: Zalando's Fashion-MNIST (28x28 grey clothes, 10 classes) read from the
standard IDX files.

The files are looked up in ``[task] path``, by default where the Debian package
``dataset-fashion-mnist`` installs them (:data:`DEFAULT_PATH`). Only the 60,000 training images
are loaded; the official ``t10k`` test split is never used for validation (read it yourself with
:func:`load_idx_split` for a final test). Use ``[task] max_train_samples`` to train on a
stratified subset, since 45,000 images are a lot for a small CPU.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..exceptions import DataError
from .base import DATASETS, RawData

#: Where ``apt-get install dataset-fashion-mnist`` puts the files.
DEFAULT_PATH = "/usr/share/datasets/fashion-mnist"

# IDX type codes (http://yann.lecun.com/exdb/mnist/): all multi-byte values are big-endian.
_IDX_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_SPLIT_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                "t10k": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed, recognised by its content, not its name).

    Args:
        path: the file.

    Returns:
        The array in native byte order, with the shape stored in the file.

    Raises:
        DataError: the file is missing, not IDX, or truncated.

    Example:
        >>> read_idx("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz").shape
        (60000,)
    """
    path = Path(path)
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":  # gzip-compressed, whatever the file is called
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read IDX file '{path}': {exc}; re-download or reinstall it") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataError(f"'{path}' is not an IDX file (bad magic number {data[:4].hex()!r}); "
                        "point [task] path at the uncompressed or .gz IDX files")
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"IDX file '{path}' is truncated in its header; re-download it")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataError(f"IDX file '{path}' holds {len(data) - header} data bytes but its header "
                        f"promises shape {shape} ({expected} bytes); re-download it")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_idx_split(path: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read the images and labels of one split from a directory of IDX files.

    Args:
        path: directory holding ``{split}-images-idx3-ubyte[.gz]`` and
            ``{split}-labels-idx1-ubyte[.gz]``.
        split: ``"train"`` or ``"t10k"`` (the official test split).

    Returns:
        ``(images, labels)``: uint8 ``(N, 28, 28)`` and integer ``(N,)``.

    Raises:
        DataError: the files are missing or inconsistent.
    """
    if split not in _SPLIT_FILES:
        raise ValueError(f"split {split!r} must be one of {sorted(_SPLIT_FILES)}")
    root = Path(path).expanduser()
    if root.is_file():
        raise DataError(f"fashion_mnist: '{root}' is a file; set [task] path to the directory holding it "
                        f"('{root.parent}')")
    files = [_find(root, stem) for stem in _SPLIT_FILES[split]]
    others = [stem for other in _SPLIT_FILES if other != split for stem in _SPLIT_FILES[other] if _find(root, stem)]
    if not any(files) and others:
        raise DataError(f"fashion_mnist: '{root}' holds only {', '.join(others)}[.gz], not the {split} split "
                        f"({', '.join(_SPLIT_FILES[split])}[.gz]); copy those files there")
    if not any(files):
        where = "[task] path = the directory holding train-images-idx3-ubyte[.gz]"
        if root != Path(DEFAULT_PATH):  # a path the user gave: the Debian package would not put files there
            problem = "does not exist" if not root.exists() else "holds no IDX files"
            raise DataError(f"fashion_mnist: [task] path '{root}' {problem}; set {where}")
        raise DataError(f"fashion_mnist: no IDX files in '{root}'; install the Debian package "
                        f"dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or set {where}")
    missing = [stem for stem, f in zip(_SPLIT_FILES[split], files) if f is None]
    if missing:
        raise DataError(f"fashion_mnist: '{root}' lacks {', '.join(missing)}[.gz]; copy the complete "
                        "set of IDX files there")
    images, labels = read_idx(files[0]), read_idx(files[1])
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(f"fashion_mnist: '{files[0]}' has shape {images.shape} and '{files[1]}' "
                        f"{labels.shape}; expected (N, H, W) images and N labels")
    return images, labels


@DATASETS.register("fashion_mnist")
def load_fashion_mnist(path: str = DEFAULT_PATH) -> RawData:
    """Load the Fashion-MNIST training split as ``(N, 1, 28, 28)`` uint8 images.

    Args:
        path: directory with the IDX files (default :data:`DEFAULT_PATH`).

    Returns:
        The training split; validation is carved from it by :func:`~hwnas.data.load_task`.

    Raises:
        DataError: the files are missing or unreadable.
    """
    images, labels = load_idx_split(path, "train")
    labels = labels.astype(np.int64)
    if labels.min() < 0 or labels.max() > 9:
        raise DataError(f"fashion_mnist: labels in '{path}' range over [{labels.min()}, {labels.max()}]; "
                        "expected 0..9")
    return RawData(x=images[:, None], y=labels, num_classes=10, pixel_max=255.0)


def _find(root: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (root / name).is_file():
            return root / name
    return None
