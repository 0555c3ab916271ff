"""``npz``: a user's own arrays in a NumPy ``.npz`` file.

The file holds ``x_train`` and ``y_train`` (optionally ``x_val`` and ``y_val``, then used as the
validation split), or ``x`` and ``y``. Integer targets mean classification with classes
``0..C-1``, each of them present; floating-point targets mean regression. ``uint8`` inputs are taken as pixels and
scaled to [0, 1]; images must be laid out ``(N, C, H, W)``. The file is read with
``allow_pickle=False``: it is data, never code.
"""

from __future__ import annotations

import itertools
import zipfile
from pathlib import Path

import numpy as np

from ..exceptions import DataError
from .base import DATASETS, RawData


@DATASETS.register("npz")
def load_npz(path: str) -> RawData:
    """Load arrays from a ``.npz`` file.

    Args:
        path: the ``.npz`` file (``[task] path``).

    Returns:
        The arrays; a validation split is carved from them unless the file has ``x_val``.

    Raises:
        DataError: the file is missing or unreadable, lacks keys, or arrays disagree.

    Example (config)::

        [task]
        dataset = "npz"
        path = "my_data.npz"   # x_train (N, 3, 32, 32) uint8, y_train (N,) int
    """
    file = Path(path).expanduser()
    if file.is_dir():
        raise DataError(f"npz: '{file}' is a directory; set [task] path to a .npz file "
                        "with x_train/y_train (or x/y) arrays")
    if not file.is_file():
        raise DataError(f"npz: file '{file}' does not exist; set [task] path to a .npz file "
                        "with x_train/y_train (or x/y) arrays")
    try:
        with open(file, "rb") as handle:
            head = handle.read(6)
    except OSError as exc:
        raise DataError(f"npz: cannot read '{file}' ({exc.strerror or exc}); make it readable") from None
    if not head.startswith((b"PK", b"\x93NUMPY")):  # neither a zip archive (.npz) nor a .npy array
        # np.load would try it as a pickle and, refused one, blame "pickled (object) data"
        raise DataError(f"npz: cannot read '{file}': it is not a NumPy .npz file (a zip archive of arrays); "
                        "convert the data and save it with numpy.savez(file, x=..., y=...)")
    try:
        loaded = np.load(file, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded as npz:
                arrays, pickled = {}, set()
                for key in npz.files:
                    try:
                        arrays[key] = npz[key]
                    except ValueError as exc:  # an object array (e.g. feature names): refused only if used
                        if "allow_pickle" not in str(exc):
                            raise
                        arrays[key] = None
                        pickled.add(key)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"npz: cannot read '{file}' ({exc}); save it with numpy.savez and numeric "
                        "arrays only (no object arrays)") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):  # a single .npy array, not a .npz archive
        raise DataError(f"npz: cannot read '{file}' (it holds a single {type(loaded).__name__}, not named "
                        "arrays); save it with numpy.savez(file, x=..., y=...)")

    if "x_train" in arrays or "y_train" in arrays:
        x_key, y_key = "x_train", "y_train"
        if "x" in arrays and "y" in arrays:
            raise DataError(f"npz: '{file}' has both x_train/y_train and x/y arrays (it has "
                            f"{', '.join(sorted(arrays))}); save only one pair, so it is clear which is used")
    else:
        x_key, y_key = "x", "y"
    missing = [k for k in (x_key, y_key) if k not in arrays]
    if ("x_val" in arrays) != ("y_val" in arrays):
        missing.append("y_val" if "x_val" in arrays else "x_val")
    if missing:
        raise DataError(f"npz: '{file}' lacks array(s) {', '.join(missing)} (it has "
                        f"{', '.join(sorted(arrays)) or 'none'}); save x_train, y_train "
                        "[, x_val, y_val] or x, y")
    used = [k for k in (x_key, y_key, "x_val", "y_val") if k in pickled]
    if used:
        raise DataError(f"npz: '{file}' {', '.join(used)} {'is an object array' if len(used) == 1 else 'are object arrays'}, "
                        f"which hwnas does not unpickle; save {used[0]} as a numeric array, e.g. "
                        f"np.asarray({used[0]}, dtype=np.float32)")
    x, y = arrays[x_key], _targets(arrays[y_key], y_key, file)
    pairs = [(x_key, x, y_key, y)]
    x_val = y_val = None
    if "x_val" in arrays:
        x_val, y_val = arrays["x_val"], _targets(arrays["y_val"], "y_val", file)
        pairs.append(("x_val", x_val, "y_val", y_val))
        if x_val.shape[1:] != x.shape[1:]:
            raise DataError(f"npz: '{file}' x_val samples have shape {x_val.shape[1:]} but {x_key} "
                            f"samples {x.shape[1:]}; they must match")
        if (y_val.dtype.kind == "f") != (y.dtype.kind == "f"):
            raise DataError(f"npz: '{file}' {y_key} has dtype {y.dtype} but y_val {y_val.dtype}; both "
                            "must be integer (classification) or both float (regression)")
        if (x_val.dtype == np.uint8) != (x.dtype == np.uint8):
            raise DataError(f"npz: '{file}' {x_key} has dtype {x.dtype} but x_val {x_val.dtype}; uint8 "
                            "arrays are pixels scaled by 1/255, so save both with the same dtype")
    for xk, xa, yk, ya in pairs:
        if xa.ndim < 2 or len(xa) != len(ya) or len(xa) == 0:
            raise DataError(f"npz: '{file}' {xk} has shape {xa.shape} and {yk} {ya.shape}; "
                            f"{xk} must be (N, features...) with the same non-zero N as {yk}")
        if 0 in xa.shape[1:]:  # the network would have no input: refused here, not by a cost model
            raise DataError(f"npz: '{file}' {xk} has shape {xa.shape}, so its samples hold no values; save at "
                            "least one feature (or pixel) per sample")
        if xa.dtype.kind not in "biuf":
            raise DataError(f"npz: '{file}' {xk} has dtype {xa.dtype}; it must be numeric")
        if xa.dtype.kind == "f" and not np.isfinite(xa).all():
            bad = int(np.count_nonzero(~np.isfinite(xa)))
            raise DataError(f"npz: '{file}' {xk} contains {bad} NaN or infinite value{'s' if bad > 1 else ''}; "
                            "clean them first (drop or impute those samples)")
        # channels-last: the usual 1, 3 or 4 channels last, or square images with fewer channels
        # (N, 16, 16, 8) than rows, which read as (C, H, W) would be 16 channels of 16 x 8 pixels
        if xa.ndim == 4 and ((xa.shape[3] in (1, 3, 4) and xa.shape[1] not in (1, 3, 4))
                             or xa.shape[1] == xa.shape[2] > xa.shape[3]):
            raise DataError(f"npz: '{file}' {xk} has shape {xa.shape}, which looks channels-last "
                            f"(N, H, W, C); images must be (N, C, H, W): save {xk}.transpose(0, 3, 1, 2)")

    notes: tuple[str, ...] = ()
    if y.dtype.kind == "f":
        num_classes = 0
        values = np.unique(y if y_val is None else np.concatenate([y, y_val]))
        if len(values) <= _FEW_VALUES and np.array_equal(values, np.round(values)):  # labels saved as floats?
            notes = (f"npz: '{file}' {y_key} is floating-point ({y.dtype}), so this is a regression task (error from R²); "
                     f"its values are {len(values)} whole numbers from {values[0]:g} to {values[-1]:g}: if they are "
                     f"class ids, save {y_key}.astype(int) to classify",)
    else:
        labels = y if y_val is None else np.concatenate([y, y_val])
        if labels.min() < 0:
            raise DataError(f"npz: '{file}' has negative class id {labels.min()}; class ids must be 0..C-1"
                            f"{_OR_REGRESSION.format(y_key)}")
        classes = np.unique(labels)
        if len(classes) < 2:
            raise DataError(f"npz: '{file}' has a single class; classification needs at least two "
                            "(store float targets for regression)")
        if classes[-1] != len(classes) - 1:
            present = set(classes.tolist())
            missing = list(itertools.islice((c for c in range(int(classes[-1]) + 1) if c not in present), 6))
            raise DataError(f"npz: '{file}' has {len(classes)} class ids from {classes[0]} to {classes[-1]} "
                            f"(none labelled {', '.join(map(str, missing[:5]))}{', ...' if len(missing) > 5 else ''}); "
                            f"class ids must be 0..{len(classes) - 1}: save np.unique(y, return_inverse=True)[1]"
                            f"{_OR_REGRESSION.format(y_key)}")
        num_classes = len(classes)
        y = y.astype(np.int64)
        y_val = None if y_val is None else y_val.astype(np.int64)
    unread = sorted(set(arrays) - {x_key, y_key, "x_val", "y_val"})
    if unread:  # e.g. x_valid/y_valid: the user's validation split, else silently replaced by a carved one
        valid = [k for k in unread if "val" in k.lower()]
        notes += (f"npz: '{file}' also holds {', '.join(unread)}, which hwnas does not read (it reads "
                  f"{x_key}, {y_key}" + (", x_val, y_val" if x_val is not None else "") + ")"
                  + (f"; the validation split is carved from {x_key} with [task] val_fraction: to use "
                     f"{', '.join(valid)} instead, save {'them' if len(valid) > 1 else 'it'} as x_val, y_val"
                     if valid and x_val is None else ""),)
    pixel_max = 255.0 if x.dtype == np.uint8 else None
    return RawData(x=x, y=y, num_classes=num_classes, x_val=x_val, y_val=y_val, pixel_max=pixel_max, notes=notes)


#: the other reading of integer targets that are not class ids
_OR_REGRESSION = " (integer targets mean classification; for a regression, save {0}.astype(float))"

#: float targets with at most this many distinct whole values are noted as possible class ids
_FEW_VALUES = 20

load_npz.path_example = "<file.npz>"  # shown when [task] has no path


def _targets(y: np.ndarray, key: str, file: Path) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.dtype.kind not in "iuf":
        raise DataError(f"npz: '{file}' {key} has shape {y.shape} and dtype {y.dtype}; it must be (N,) "
                        "integer class ids or (N,) float regression targets")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise DataError(f"npz: '{file}' {key} contains NaN or infinite values; clean them first")
    return y
