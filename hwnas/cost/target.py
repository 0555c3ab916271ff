"""Targets: which runtime, execution provider, threads, batch and dtype a cost is measured on.

A target is a small TOML file in ``targets/`` (or anywhere on disk) loaded into a frozen
:class:`Target`. Every measured number is stored together with :meth:`Target.describe`, so a
latency can always be traced back to the settings that produced it.

Example:
    >>> target = load_target("cpu-ort-1t")
    >>> target.execution_provider, target.intra_op_threads
    ('CPUExecutionProvider', 1)
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import TargetError

RUNTIMES = ("onnxruntime",)
GRAPH_OPTIMIZATIONS = ("all", "extended", "basic", "disabled")
DTYPES = ("float32", "float16")
# float16 inference needs kernels the CPU provider mostly lacks; allow it only on GPU providers.
FLOAT16_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")
# The TorchScript exporter used by export_onnx supports opsets up to 20 in torch 2.13.
MIN_OPSET, MAX_OPSET = 9, 20
#: Upper bounds that catch a typo's extra zeros before a timing call that would never end (or a
#: batch that exhausts memory): far above any setting that makes sense.
MAX_RUNS, MAX_PASSES, MAX_BATCH = 10_000, 1_000, 4_096
# A target's name is a folder of latency_tables/: no separators, no leading dot, no blanks.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def targets_dir() -> Path:
    """The repository's ``targets/`` folder, where bare target names are looked up."""
    import hwnas

    return Path(hwnas.__file__).resolve().parent.parent / "targets"


@dataclass(frozen=True, kw_only=True)
class Target:
    """A device + runtime description that latency is measured on.

    Values are validated at construction; a bad one raises :class:`TargetError` naming the key,
    the value, the file it came from and the valid range.

    Attributes:
        name: short identifier, e.g. ``"cpu-ort-1t"`` (defaults to the file stem); letters,
            digits, ``.``, ``_``, ``+`` and ``-``, as it names a folder of ``latency_tables/``.
        runtime: inference runtime; only ``"onnxruntime"`` for now.
        execution_provider: ONNX Runtime provider, e.g. ``"CPUExecutionProvider"``.
        intra_op_threads: threads used inside one operator (>= 1).
        inter_op_threads: threads used across operators (>= 1).
        batch_size: batch the model is exported and timed with (>= 1).
        dtype: ``"float32"``, or ``"float16"`` on CUDA/TensorRT providers only.
        warmup_runs: untimed runs per model before timing (>= 0).
        passes: timed passes; latency is the minimum of per-pass medians (>= 2).
        runs_per_pass: timed runs of each model in one pass (>= 1).
        graph_optimization: ONNX Runtime graph optimisation level:
            ``"all"``, ``"extended"``, ``"basic"`` or ``"disabled"``.
        opset: ONNX opset used for export.
        description: free text saying what the target stands for and how stable it is.
        source: the TOML file the target was loaded from (empty when built in code).

    Raises:
        TargetError: if a value has the wrong type or is out of range.
    """

    name: str = "custom"
    runtime: str = "onnxruntime"
    execution_provider: str
    intra_op_threads: int
    inter_op_threads: int = 1
    batch_size: int = 1
    dtype: str = "float32"
    warmup_runs: int = 10
    passes: int = 20
    runs_per_pass: int = 10
    graph_optimization: str = "all"
    opset: int = 17
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        plain = isinstance(self.name, str) and NAME_PATTERN.fullmatch(self.name)
        where = f"target {self.name if plain else repr(self.name)}" + (f" ({self.source})" if self.source else "")
        _check_str(where, "name", self.name)
        if not NAME_PATTERN.fullmatch(self.name):
            raise TargetError(
                f"{where}: name = {self.name!r} is not valid: it names the target's folder in "
                "latency_tables/; use letters, digits, '.', '_', '+' and '-' only, starting with a "
                "letter or digit, e.g. 'pi4-ort-1t'"
            )
        _check_choice(where, "runtime", self.runtime, RUNTIMES)
        _check_str(where, "execution_provider", self.execution_provider)
        if not self.execution_provider.endswith("ExecutionProvider"):
            raise TargetError(
                f"{where}: execution_provider = {self.execution_provider!r} is not an ONNX Runtime "
                "provider name; use e.g. 'CPUExecutionProvider' or 'CUDAExecutionProvider'"
            )
        _check_int(where, "intra_op_threads", self.intra_op_threads, 1)
        _check_int(where, "inter_op_threads", self.inter_op_threads, 1)
        _check_int(where, "batch_size", self.batch_size, 1, MAX_BATCH)
        _check_choice(where, "dtype", self.dtype, DTYPES)
        if self.dtype == "float16" and self.execution_provider not in FLOAT16_PROVIDERS:
            raise TargetError(
                f"{where}: dtype = 'float16' is only supported with {', '.join(FLOAT16_PROVIDERS)}, "
                f"not {self.execution_provider}; use dtype = 'float32'"
            )
        _check_int(where, "warmup_runs", self.warmup_runs, 0, MAX_RUNS)
        _check_int(where, "passes", self.passes, 2, MAX_PASSES)
        _check_int(where, "runs_per_pass", self.runs_per_pass, 1, MAX_RUNS)
        _check_choice(where, "graph_optimization", self.graph_optimization, GRAPH_OPTIMIZATIONS)
        _check_int(where, "opset", self.opset, MIN_OPSET, MAX_OPSET)
        _check_str(where, "description", self.description, allow_empty=True)

    def describe(self) -> dict[str, Any]:
        """All fields plus the installed runtime version, stored with every measured number.

        Returns:
            A flat dict of JSON-serialisable values; ``runtime_version`` is ``None`` when
            onnxruntime is not installed.
        """
        info = dataclasses.asdict(self)
        try:
            import onnxruntime

            info["runtime_version"] = onnxruntime.__version__
        except ImportError:
            info["runtime_version"] = None
        return info


VALID_KEYS = tuple(f.name for f in dataclasses.fields(Target) if f.name != "source")
REQUIRED_KEYS = tuple(
    f.name for f in dataclasses.fields(Target) if f.default is dataclasses.MISSING
)


def load_target(path_or_name: str | Path) -> Target:
    """Load a target from a TOML file or by bare name from the repository's ``targets/``.

    Args:
        path_or_name: a file path (``"my/targets/pi4.toml"``) or a bare name
            (``"cpu-ort-1t"`` -> ``<repo>/targets/cpu-ort-1t.toml``).

    Returns:
        The validated :class:`Target`; ``name`` defaults to the file stem.

    Raises:
        TargetError: if the file is missing or malformed, has an unknown or missing key, or a
            value of the wrong type or out of range. The message names the file and the key.

    Example:
        >>> load_target("targets/cpu-ort-1t.toml").batch_size
        1
    """
    path = _resolve(path_or_name)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"target file {path} is not valid TOML: {exc}; fix the syntax there") from None
    except OSError as exc:
        raise TargetError(f"target file {path} cannot be read: {exc.strerror}") from None
    unknown = sorted(set(data) - set(VALID_KEYS))
    if unknown:
        from ..registry import did_you_mean

        raise TargetError(
            f"target file {path}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"valid keys are: {', '.join(VALID_KEYS)}{did_you_mean(unknown, VALID_KEYS)}"
        )
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        # all at once: a short file would otherwise be refused once per key
        raise TargetError(f"target file {path}: required key{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(map(repr, missing))} {'are' if len(missing) > 1 else 'is'} missing; "
                          f"add {'them' if len(missing) > 1 else 'it'} (targets/cpu-ort-1t.toml has every key)")
    data.setdefault("name", path.stem)
    return Target(**data, source=str(path))


def _resolve(path_or_name: str | Path) -> Path:
    text = str(path_or_name)
    is_path = isinstance(path_or_name, Path) or text.endswith(".toml")
    if is_path or "/" in text or "\\" in text:
        path = Path(text).expanduser()
        if path.is_dir():  # it exists: "does not exist" would send the user looking for a typo
            raise TargetError(f"target {path} is a folder; give a target .toml file, e.g. "
                              f"{path / 'my-target.toml'} copied from targets/cpu-ort-1t.toml")
        if not path.is_file():
            bundled = targets_dir() / path.name
            hint = (f", or name the bundled target {path.stem!r} without a path (target = \"{path.stem}\")"
                    if bundled.is_file() else "")
            raise TargetError(f"target file {path} does not exist; check the path{hint}")
        return path
    path = targets_dir() / f"{text}.toml"
    if not path.is_file():
        from ..registry import did_you_mean

        known = sorted(p.stem for p in targets_dir().glob("*.toml"))
        raise TargetError(
            f"unknown target {text!r}: {path} does not exist; "
            f"choose one of: {', '.join(known) or '(none)'} or pass a path to a .toml file{did_you_mean([text], known)}"
        )
    return path


def _check_str(where: str, key: str, value: Any, allow_empty: bool = False) -> None:
    if not isinstance(value, str) or (not allow_empty and not value):
        wanted = "a string" if allow_empty else "a non-empty string"
        raise TargetError(f"{where}: {key} = {value!r} is not valid; use {wanted}")


def _check_choice(where: str, key: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise TargetError(f"{where}: {key} = {value!r} is not valid; use one of: {', '.join(choices)}")


def _check_int(where: str, key: str, value: Any, low: int, high: int | None = None) -> None:
    # bool is an int subclass; `passes = true` is a typo, not 1.
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        valid = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        kind = "out of range" if ok else f"of type {type(value).__name__}"
        raise TargetError(f"{where}: {key} = {value!r} is {kind}; use {valid}")
