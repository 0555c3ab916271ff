"""The task a search optimises for: a dataset split into training and validation arrays.

Datasets register a *loader* in :data:`DATASETS`; :func:`load_task` reads the ``[task]`` table
of a config, calls the loader, carves the validation split, subsets and standardises, and
returns a frozen :class:`Task`.

A loader is a function returning :class:`RawData`. It accepts ``path`` as a keyword argument
only if the dataset is read from disk; :func:`load_task` refuses a ``path`` for the others.

Example:
    >>> task = load_task({"dataset": "digits", "val_fraction": 0.25, "seed": 0})
    >>> task.input_shape, task.num_classes, len(task.x_val)
    ((1, 8, 8), 10, 450)
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from ..exceptions import ConfigError, DataError, HwnasError, RegistryError
from ..registry import Registry, did_you_mean
from ..wording import counted


@dataclass(frozen=True, eq=False)
class Task:
    """Training and validation arrays of one dataset, ready for a network.

    Attributes:
        name: dataset name, e.g. ``"digits"``.
        x_train: float32 inputs, shape ``(N, *input_shape)``; images are ``(N, C, H, W)``.
        y_train: int64 class ids (classification) or float32 targets of shape ``(N,)``
            (regression).
        x_val: validation inputs, same layout as ``x_train``.
        y_val: validation targets, same layout as ``y_train``.
        num_classes: number of classes; 0 means regression.
        preprocessing: what turned the dataset's own values into these arrays (JSON-ready), so
            an exported network can be fed raw data: ``pixel_max`` (inputs divided by it first,
            or None), ``resize`` (image side, 0 = kept) and, when resized, ``resize_method``
            (the interpolation), ``x_mean`` / ``x_std`` (then ``(x - x_mean) / x_std``, per
            channel for images and per feature otherwise, shaped ``x_stats_shape``) and for
            regression ``y_mean`` / ``y_std`` (targets standardised the same way, so a prediction
            is ``output * y_std + y_mean``); the statistics are None when ``standardize = false``.
            None for a task built by hand.
        notes: one-line remarks of the loader for the search to print (e.g. float targets that
            look like class ids).

    Raises:
        DataError: if the arrays disagree in length, shape or dtype, or labels are out of range.
    """

    name: str
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_val: np.ndarray = field(repr=False)
    y_val: np.ndarray = field(repr=False)
    num_classes: int
    preprocessing: dict[str, Any] | None = field(default=None, repr=False)
    notes: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.num_classes, int) or isinstance(self.num_classes, bool) or self.num_classes < 0:
            raise DataError(f"{self.name}: num_classes={self.num_classes!r} must be an int >= 0 (0 = regression)")
        for split, x, y in (("train", self.x_train, self.y_train), ("val", self.x_val, self.y_val)):
            if x.dtype != np.float32:
                raise DataError(f"{self.name}: x_{split} has dtype {x.dtype}; expected float32")
            if len(x) != len(y) or len(x) == 0:
                raise DataError(f"{self.name}: x_{split} has {len(x)} rows and y_{split} {len(y)}; "
                                "they must be equal and non-zero")
            if x.shape[1:] != self.x_train.shape[1:]:
                raise DataError(f"{self.name}: x_{split} samples have shape {x.shape[1:]}, "
                                f"x_train samples {self.x_train.shape[1:]}; they must match")
            if y.ndim != 1:
                raise DataError(f"{self.name}: y_{split} has shape {y.shape}; expected (N,)")
            if self.num_classes:
                if y.dtype != np.int64:
                    raise DataError(f"{self.name}: y_{split} has dtype {y.dtype}; classification needs int64")
                if y.min() < 0 or y.max() >= self.num_classes:
                    raise DataError(f"{self.name}: y_{split} has labels in [{y.min()}, {y.max()}]; "
                                    f"expected 0..{self.num_classes - 1}")
            elif y.dtype != np.float32:
                raise DataError(f"{self.name}: y_{split} has dtype {y.dtype}; regression needs float32")

    def digest(self) -> str:
        """A hash of the four arrays as the networks see them (shapes, dtypes and values): a resumed
        run compares it, so that its errors never mix two versions of the data."""
        import hashlib

        h = hashlib.blake2b(digest_size=16)
        for arr in (self.x_train, self.y_train, self.x_val, self.y_val):
            h.update(f"{arr.dtype.str}{arr.shape}".encode())
            h.update(np.ascontiguousarray(arr).data)
        return h.hexdigest()

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input sample, e.g. ``(1, 8, 8)``."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def is_regression(self) -> bool:
        """True when the targets are real numbers (``num_classes == 0``)."""
        return self.num_classes == 0

    @property
    def output_dim(self) -> int:
        """Width of the network's output layer: ``num_classes``, or 1 for regression."""
        return self.num_classes or 1


@dataclass(frozen=True, eq=False)
class RawData:
    """What a dataset loader returns, before splitting and standardisation.

    Attributes:
        x: the training pool (validation is carved from it unless ``x_val`` is given). Images
            are ``(N, C, H, W)``.
        y: integer class ids (classification) or real targets (regression), shape ``(N,)``.
        num_classes: number of classes; 0 means regression.
        x_val: a validation split that comes with the data, or None. Never an official *test*
            split: loaders drop those.
        y_val: targets of ``x_val``, or None.
        pixel_max: the value of a white pixel (255 for ``uint8`` images, 16 for digits) used to
            scale images to [0, 1]; None for data that is not pixels.
        notes: one-line remarks for the search to print (the data loads, but may not mean what
            the user thinks).
    """

    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    num_classes: int
    x_val: np.ndarray | None = field(default=None, repr=False)
    y_val: np.ndarray | None = field(default=None, repr=False)
    pixel_max: float | None = None
    notes: tuple[str, ...] = ()


Loader = Callable[..., RawData]

#: Dataset name -> loader function returning :class:`RawData`.
DATASETS: Registry[Loader] = Registry("dataset")

#: Seeds must be below this (they seed NumPy's and scikit-learn's 32-bit generators).
_SEED_LIMIT = 2**32

#: ``[task]`` keys and their defaults.
TASK_DEFAULTS: dict[str, Any] = {
    "dataset": "digits",
    "val_fraction": 0.25,
    "max_train_samples": 0,
    "max_val_samples": 0,
    "seed": 0,
    "path": None,
    "standardize": True,
    "resize": 0,
}


def load_task(options: Mapping[str, Any] | None = None, *, source: str = "config") -> Task:
    """Load the dataset described by a config's ``[task]`` table.

    The validation split is carved from the training data (stratified for classification)
    with ``seed``, unless the dataset brings its own validation split; official test splits
    are never used. Inputs are standardised with training statistics: images per channel after
    scaling pixels to [0, 1], other inputs per feature; regression targets too, so the error is
    scale-free.

    Args:
        options: the ``[task]`` table. Keys (all optional): ``dataset`` (default ``"digits"``),
            ``val_fraction`` (0.25, in (0, 1)), ``max_train_samples`` (0 = all; a stratified,
            seeded subset otherwise), ``max_val_samples`` (0 = all), ``seed`` (0), ``path``
            (datasets read from disk), ``standardize`` (true), ``resize`` (0 = keep; else
            square image side in pixels, bilinear; sets the input resolution the spaces see).
        source: where the table came from (a file name), used in error messages.

    Returns:
        The task with read-only arrays.

    Raises:
        ConfigError: an unknown key, a bad value, or an unknown dataset name.
        DataError: the dataset cannot be read or is too small to split.

    Example:
        >>> load_task({"dataset": "diabetes"}).is_regression
        True
    """
    opts = _validate(dict(options or {}), source)
    name = opts["dataset"]
    try:
        loader = DATASETS.get(name)
    except RegistryError as exc:
        raise RegistryError(f"{source}: [task] dataset: {exc}") from None
    if opts["path"] is not None:
        if "path" not in inspect.signature(loader).parameters:
            raise ConfigError(f"{source}: [task] path = {opts['path']!r} is not used by dataset {name!r} "
                              "(it is built in); remove the path key")
        raw = _call_loader(loader, name, path=opts["path"])
    else:
        needs = inspect.signature(loader).parameters.get("path")
        if needs is not None and needs.default is inspect.Parameter.empty:
            example = getattr(loader, "path_example", "<file or folder>")
            raise ConfigError(f"{source}: [task] dataset = {name!r} needs path = {example!r} (the data to read); "
                              f"add it to [task]")
        raw = _call_loader(loader, name)

    seed = opts["seed"]
    regression = raw.num_classes == 0
    if raw.x_val is None:
        train_idx, val_idx = _split(raw.y, opts["val_fraction"], seed, regression, name, source)
        x_tr, y_tr, x_va, y_va = raw.x, raw.y, raw.x, raw.y
    else:
        if "val_fraction" in (options or {}):
            raise ConfigError(f"{source}: [task] val_fraction = {opts['val_fraction']!r} has no effect: dataset "
                              f"{name!r} brings its own validation split; remove val_fraction")
        x_tr, y_tr, x_va, y_va = raw.x, raw.y, raw.x_val, raw.y_val
        train_idx, val_idx = np.arange(len(raw.y)), np.arange(len(raw.y_val))
    train_idx = _subset(train_idx, y_tr, opts["max_train_samples"], seed, regression)
    val_idx = _subset(val_idx, y_va, opts["max_val_samples"], (seed + 1) % _SEED_LIMIT, regression)

    where = f"{source}: [task] dataset {name!r}" + (f" (path {str(opts['path'])!r})" if opts["path"] else "")
    x_train, x_val = _as_float(x_tr[train_idx], raw.pixel_max, where), _as_float(x_va[val_idx], raw.pixel_max, where)
    if opts["resize"]:
        if x_train.ndim != 4:
            raise ConfigError(f"{source}: [task] resize = {opts['resize']} needs image data, but {name!r} has "
                              f"samples of shape {x_train.shape[1:]}; remove resize")
        if x_train.shape[2] != x_train.shape[3]:
            raise ConfigError(f"{source}: [task] resize = {opts['resize']} would stretch {name!r}'s "
                              f"{x_train.shape[2]}x{x_train.shape[3]} images to a square; resize needs square "
                              "images: crop or pad them first, or remove resize")
        x_train, x_val = resize_images(x_train, opts["resize"]), resize_images(x_val, opts["resize"])
    y_train, y_val = y_tr[train_idx], y_va[val_idx]
    if regression:
        y_train, y_val = y_train.astype(np.float32).reshape(-1), y_val.astype(np.float32).reshape(-1)
        if y_val.min() == y_val.max():  # R² divides by the validation targets' variance: every candidate would fail
            everywhere = np.ptp(raw.y) == 0 and (raw.y_val is None or np.ptp(raw.y_val) == 0)
            one = len(y_val) == 1  # a split too small to vary: more samples are the fix, not another seed
            raise DataError(f"{source}: [task] dataset {name!r}: "
                            + (f"the validation split holds a single target ({float(y_val[0]):g})" if one else
                               f"the {len(y_val)} validation targets all equal {float(y_val[0]):g}")
                            + ", so R² (the error) is undefined; "
                            + ("every target in the data has that value: regression needs targets that vary"
                               if everywhere else "save a y_val whose values vary" if raw.y_val is not None else
                               "use more data or a larger [task] val_fraction, or your own x_val/y_val" if one else
                               "use more varied data, another [task] seed or val_fraction, or your own x_val/y_val"))
    else:
        y_train, y_val = y_train.astype(np.int64), y_val.astype(np.int64)
        _check_classes(y_train, y_val, raw, repr(name) + (f" (path {str(opts['path'])!r})" if opts["path"] else ""),
                       source)
    preprocessing: dict[str, Any] = {"pixel_max": None if raw.pixel_max is None else float(raw.pixel_max),
                                     "resize": opts["resize"]}
    if opts["resize"]:  # another interpolation feeds the network other pixels (nearest cost digits 14 points)
        preprocessing["resize_method"] = RESIZE_METHOD
    if opts["standardize"]:
        mean, std = _moments(x_train)
        preprocessing.update(x_mean=mean.reshape(-1).tolist(), x_std=std.reshape(-1).tolist(),
                             x_stats_shape=[int(d) for d in mean.shape[1:]])
        x_train, x_val = standardize(x_train, x_val, moments=(mean, std))
        if regression:
            mean, std = _moments(y_train)
            preprocessing.update(y_mean=float(mean.item()), y_std=float(std.item()))
            y_train, y_val = standardize(y_train, y_val, moments=(mean, std))
    for arr in (x_train, y_train, x_val, y_val):
        arr.flags.writeable = False
    return Task(name, x_train, y_train, x_val, y_val, int(raw.num_classes), preprocessing, tuple(raw.notes))


def _check_classes(y_train: np.ndarray, y_val: np.ndarray, raw: RawData, dataset: str, source: str) -> None:
    """Refuse a classification whose labels (all of them, the training or the validation ones) are
    a single class: every network would score a trivial 100 % (or learn nothing to score with).

    Raises:
        DataError: naming the dataset (and its file), the class and the fix.
    """
    everywhere = np.unique(raw.y if raw.y_val is None else np.concatenate([raw.y, raw.y_val]))
    if len(everywhere) < 2:
        raise DataError(f"{source}: [task] dataset {dataset}: every label is class {everywhere[0]}, but a "
                        f"classification task needs at least 2 classes (a network would score a trivial 100 %); "
                        f"add samples of other classes, or store float targets for a regression")
    for split, y in (("validation", y_val), ("training", y_train)):
        if len(np.unique(y)) < 2:
            raise DataError(f"{source}: [task] dataset {dataset}: the {counted(y, split + ' label')} "
                            f"{'is' if len(y) == 1 else 'are all'} class {y[0]}, but a classification task needs "
                            f"at least 2 classes in each split; "
                            + (f"save {'a y_val' if split == 'validation' else 'training labels'} with other "
                               f"classes too" if raw.y_val is not None else
                               "use more varied data, another [task] seed, val_fraction or "
                               "max_train_samples/max_val_samples"))


def _call_loader(loader: Loader, name: str, **kwargs: Any) -> RawData:
    """A loader's data; a user's loader that raises, or returns something else, is named in one line."""
    params = inspect.signature(loader).parameters.values()
    needed = [p.name for p in params if p.default is p.empty and p.name not in kwargs
              and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if needed:  # hwnas passes a loader nothing but path: its own TypeError would not say so
        raise RegistryError(f"[task] dataset {name!r}: its loader {loader.__module__}.{loader.__qualname__} needs "
                            f"{', '.join(needed)}, which hwnas does not pass (a loader is called with no arguments, "
                            f"or path = [task] path if it takes one); give {'it' if len(needed) == 1 else 'them'} a "
                            f"default")
    try:
        raw = loader(**kwargs)
    except HwnasError:
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin loader's own failure, told as a data error
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise DataError(f"[task] dataset {name!r}: its loader {loader.__module__}.{loader.__qualname__} raised "
                        f"{type(exc).__name__}: {detail}") from None
    if not isinstance(raw, RawData):
        raise DataError(f"[task] dataset {name!r}: its loader {loader.__module__}.{loader.__qualname__} returned a "
                        f"{type(raw).__name__}, not hwnas.data.base.RawData; return RawData(x, y, ...)")
    return raw


#: How :func:`resize_images` interpolates, as recorded in :attr:`Task.preprocessing` (``resize_method``).
RESIZE_METHOD = "bilinear, align_corners=False (half-pixel centres), antialiased when shrinking"


def resize_images(x: np.ndarray, side: int) -> np.ndarray:
    """Bilinearly resize ``(N, C, H, W)`` images to ``(N, C, side, side)`` (float32).

    Downsampling is antialiased (each output pixel averages the input pixels it covers), so fine
    detail is blurred rather than aliased into moire or dropped.
    """
    import torch
    import torch.nn.functional as F

    out = F.interpolate(torch.from_numpy(np.ascontiguousarray(x)), size=(side, side), mode="bilinear",
                        align_corners=False, antialias=side < max(x.shape[2:]))
    return out.numpy().astype(np.float32)


def standardize(train: np.ndarray, *others: np.ndarray,
                moments: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, ...]:
    """Shift and scale arrays with the mean and standard deviation of ``train``.

    Statistics are per channel for images ``(N, C, H, W)`` and per feature otherwise; constant
    channels are only shifted.

    Args:
        train: the array the statistics come from.
        *others: arrays transformed with the same statistics (e.g. the validation split).
        moments: ``train``'s ``(mean, std)`` as :func:`_moments` gives them, when the caller
            already took them (to record them); computed from ``train`` when None.

    Returns:
        ``(train, *others)`` standardised, as float32.
    """
    mean, std = _moments(train) if moments is None else moments
    return tuple(((a - mean) / std).astype(np.float32) for a in (train, *others))


def _moments(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`standardize`'s mean and standard deviation (1 for a constant channel), float64, keepdims."""
    axes = (0, 2, 3) if train.ndim == 4 else (0,)
    mean = train.mean(axis=axes, keepdims=True, dtype=np.float64)
    std = train.std(axis=axes, keepdims=True, dtype=np.float64)
    std[std < 1e-12] = 1.0
    return mean, std


def _as_float(x: np.ndarray, pixel_max: float | None, where: str) -> np.ndarray:
    with np.errstate(over="ignore"):  # values beyond float32's range become inf, refused below
        x = x.astype(np.float32)
    if pixel_max is not None:
        x /= np.float32(pixel_max)
    if not np.isfinite(x).all():
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise DataError(f"{where}: the inputs contain {bad} NaN or infinite value{'s' if bad > 1 else ''} (or "
                        "values beyond float32's range, about 3.4e38); clean or rescale the data first")
    return x


def _split(y: np.ndarray, val_fraction: float, seed: int, regression: bool, name: str, source: str = "config"):
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    if not regression:  # a stratified split puts each class on both sides: one sample never can
        classes, counts = np.unique(y, return_counts=True)
        lone = classes[counts < 2]
        if len(lone):
            shown = ", ".join(map(str, lone[:5].tolist())) + (", ..." if len(lone) > 5 else "")
            raise DataError(f"{source}: [task] dataset {name!r}: class{'es' if len(lone) > 1 else ''} {shown} "
                            f"{'have' if len(lone) > 1 else 'has'} a single sample, which no validation split "
                            f"can stratify; add samples of {'them' if len(lone) > 1 else 'it'}, drop "
                            f"{'them' if len(lone) > 1 else 'it'}, or supply your own split (x_val, y_val); if the "
                            f"labels are quantities (ages, counts), store float targets for a regression")
    try:
        return train_test_split(idx, test_size=val_fraction, random_state=seed,
                                stratify=None if regression else y)
    except ValueError as exc:
        raise DataError(f"{source}: [task] dataset {name!r}: cannot split {len(y)} samples with val_fraction="
                        f"{val_fraction} ({exc}); use more data or another [task] val_fraction") from None


def _subset(idx: np.ndarray, y: np.ndarray, limit: int, seed: int, regression: bool) -> np.ndarray:
    """A seeded (stratified for classification) subset of ``idx`` with ``limit`` elements."""
    if limit == 0 or limit >= len(idx):
        return np.sort(idx)
    from sklearn.model_selection import train_test_split

    labels = None if regression else y[idx]
    if labels is not None and limit < len(np.unique(labels)):
        labels = None  # too few samples to hold every class; a plain random subset then
    try:
        keep, _ = train_test_split(idx, train_size=limit, random_state=seed, stratify=labels)
    except ValueError:  # a class with a single member cannot be stratified
        keep, _ = train_test_split(idx, train_size=limit, random_state=seed)
    return np.sort(keep)


def _validate(opts: dict[str, Any], source: str) -> dict[str, Any]:
    unknown = sorted(set(opts) - set(TASK_DEFAULTS))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(map(repr, unknown))} in [task]; "
                          f"valid keys: {', '.join(TASK_DEFAULTS)}{did_you_mean(unknown, TASK_DEFAULTS)}")
    out = {**TASK_DEFAULTS, **opts}

    def bad(key: str, must: str) -> ConfigError:
        return ConfigError(f"{source}: [task] {key} = {out[key]!r} is invalid; it must be {must}")

    if not isinstance(out["dataset"], str):
        raise bad("dataset", "a dataset name such as 'digits'")
    frac = out["val_fraction"]
    if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not (0 < frac < 1) or not math.isfinite(frac):
        raise bad("val_fraction", "a number strictly between 0 and 1, e.g. 0.25")
    for key in ("max_train_samples", "max_val_samples", "seed"):
        value = out[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad(key, "an integer >= 0" + (" (0 = all)" if key.startswith("max") else ""))
    if out["seed"] >= _SEED_LIMIT:
        raise bad("seed", f"an integer >= 0 and <= {_SEED_LIMIT - 1}, e.g. 0")
    for key in ("max_train_samples", "max_val_samples"):
        if out[key] == 1:
            raise bad(key, "0 (all) or at least 2")
    if out["path"] is not None and (not isinstance(out["path"], str) or not out["path"].strip()):
        raise bad("path", "a non-empty string naming a file or directory")
    resize = out["resize"]
    if isinstance(resize, bool) or not isinstance(resize, int) or not (resize == 0 or 4 <= resize <= 1024):
        raise bad("resize", "0 (keep) or an image side in pixels between 4 and 1024")
    if not isinstance(out["standardize"], bool):
        raise bad("standardize", "true or false")
    return out
