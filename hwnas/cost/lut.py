"""Latency lookup tables: per-layer latencies measured on a target, and the ``lut`` cost model.

A table holds one measured latency per *layer signature* (see
:class:`~hwnas.space.base.LayerSignature`: op, channels, kernel, expand, stride, input size, ...)
for every layer a space can produce at one input size, plus a calibration that turns the sum of
standalone layer times into whole-network latency. Layers timed alone pay per-call overhead,
layout conversions and unfused boundaries that vanish inside a network (on the development
machine the raw sum overestimated whole networks by 35-80 %), so the calibration is a linear
model ``latency_ms = a * sum_ms + b * n_layers + c`` fitted on whole networks measured in the
same interleaved session as the layers (:mod:`hwnas.profile`). ``hwnas profile`` fits a scale
on the sum, extra scales for layer groups whose share varies (e.g. ``ir-se``: squeeze-excite
blocks lose differently when timed alone), a per-layer boundary cost and a constant:
``latency_ms = a * sum_ms + a_se * sum_ms:ir-se + b * n_layers + c``.

File: ``latency_tables/<target>/<device>/<space>-<C>x<H>x<W>.json``, one folder per processor
or GPU (:mod:`hwnas.cost.device`)::

    {"format": "hwnas-latency-table", "format_version": 1,
     "meta": {"target": "cpu-ort-1t", "runtime": "onnxruntime", "runtime_version": "1.32.0",
              "execution_provider": "CPUExecutionProvider", "intra_op_threads": 1,
              "inter_op_threads": 1, "batch_size": 1, "dtype": "float32",
              "graph_optimization": "all", "opset": 17, "device": {"cpu": "...", "gpu": null},
              "date": "2025-...", "estimator": {...}, "space": {"name": "mbv3",
              "input_shape": [1, 12, 12], ...}, "remote": false},
     "entries": {"ir:cin=8,cout=8,k=3,e=3,s=1,se=0,act=relu,in=8x12x12":
                 {"latency_ms": 0.0123, "spread_pct": 4.1, "weights": 312, "activations": 2880,
                  "residual_weight": 0.01}, ...},
     "calibration": {"model": "linear",
                     "features": ["sum_ms", "sum_ms:ir-se", "n_layers", "memory_m_over:0.2", "const",
                                  "residual_ms"],
                     "coef": [0.99, 0.03, -0.0054, 0.08, 0.002, 1.0], "activation_share": 0.5, ...},
     "fidelity": {...}, "device_report": {...}}

Features: ``sum_ms`` (all layers), ``sum_ms:<group>``, ``n_layers``, ``n:<group>``, ``const``,
``weights_m``, ``activations_m``, ``memory_m_over:<C>`` (see :func:`feature_value`) and
``residual_ms`` (see :class:`ResidualRidge`).

A table for a device hwnas cannot run (a phone, an FPGA) is just such a file with
``"remote": true``: its runtime version and device are not compared with this machine's and the
final front is not re-measured. Put it in any folder ``latency_tables/<target>/<device>/`` (the
default lookup, :func:`find_table`, uses it when this machine has no table of its own and it is
the only remote one that fits) or name it with ``[cost.lut] path``. Without a ``calibration``
the prediction is the plain sum.

Example:
    >>> target = load_target("cpu-ort-1t")
    >>> table = LatencyTable.load(find_table(target, space))  # this machine's table
    >>> table.check(target, space)
    >>> table.predict(space.layer_signatures(space.smallest()))  # doctest: +SKIP
    0.047
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ..exceptions import LatencyTableError, SpaceError
from .base import COST_MODELS, CostModel
from .device import device_folder, device_label, local_device
from .target import Target, targets_dir

FORMAT = "hwnas-latency-table"
FORMAT_VERSION = 1
#: Calibration models a table may name: the plain sum, or linear in named features.
CALIBRATIONS = ("sum", "linear")
#: Calibration features :meth:`LatencyTable.features` gives by name, and prefixes of per-group ones.
_FEATURES = ("sum_ms", "n_layers", "const", "residual_ms", "weights_m", "activations_m")
_FEATURE_PREFIXES = ("sum_ms:", "n:")
#: Target settings a table must share with the target it is used for.
MATCHED_SETTINGS = ("execution_provider", "intra_op_threads", "inter_op_threads", "batch_size",
                    "dtype", "graph_optimization", "opset")
LATENCY_MODES = ("auto", "lut", "measure")


def tables_dir() -> Path:
    """The repository's ``latency_tables/`` folder."""
    return targets_dir().parent / "latency_tables"


def shape_text(input_shape: Sequence[int]) -> str:
    """``(1, 12, 12)`` -> ``"1x12x12"``."""
    return "x".join(str(int(d)) for d in input_shape)


def profile_command(target: Target, space_name: str, task_config: str | None = None,
                    out: str | Path | None = None) -> str:
    """The command that (re)builds the table for a target and space.

    Args:
        target: the run's target.
        space_name: the run's space.
        task_config: the run config's file (``--task``).
        out: the table file the run reads when it is not the default (``[cost.lut] path``):
            without ``--out`` the rebuilt table would go to ``latency_tables/`` and the run would
            go on reading the old one.
    """
    from shlex import quote  # pasted into a shell: a path with a space stays one word

    from ..store import Store

    where = target.source or target.name
    if task_config and Path(task_config).name == Store.FILE_NAME:  # a run read back (compress): its config as run
        task_config = str(Path(task_config).with_name("config.json"))
    task = f" --task {quote(task_config)}" if task_config and not task_config.startswith("<") else ""
    to = f" --out {quote(str(out))}" if out else ""
    return f"hwnas profile --target {quote(where)} --space {quote(space_name)}{task}{to}"


@dataclass
class LatencyTable:
    """A latency table in memory (see the module docstring for the file format).

    Attributes:
        meta: target, runtime and version, provider, threads, batch, dtype, device, date,
            estimator, space.
        entries: layer key -> ``{"latency_ms": float, "spread_pct": float}``.
        calibration: ``{"model": "linear" | "sum", "coef": [...]}``; empty means plain sum.
        fidelity: the fidelity report of the build (informational).
        device_report: what ``hwnas profile`` found out about the device (informational).
        path: the file it was loaded from, if any.
    """

    meta: dict[str, Any]
    entries: dict[str, dict[str, float]]
    calibration: dict[str, Any] = field(default_factory=dict)
    fidelity: dict[str, Any] = field(default_factory=dict)
    device_report: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    # --- file format ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON document."""
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "meta": self.meta,
                "calibration": self.calibration, "fidelity": self.fidelity,
                "device_report": self.device_report,
                "entries": {k: self.entries[k] for k in sorted(self.entries)}}

    def digest(self) -> str:
        """A short hash of what the table predicts from (its entries and calibration)."""
        import hashlib

        doc = json.dumps({"entries": self.entries, "calibration": self.calibration}, sort_keys=True, default=str)
        return hashlib.sha256(doc.encode()).hexdigest()[:16]

    def save(self, path: str | Path) -> Path:
        """Write the table as JSON (parent folders are created)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        self.path = p
        return p

    @classmethod
    def load(cls, path: str | Path) -> "LatencyTable":
        """Read and validate a table file.

        Raises:
            LatencyTableError: missing file, not JSON, wrong format, a malformed entry, or a field
                of the wrong type (``meta.remote``, ``meta.device``, ``meta.space``,
                ``calibration.coef``, ``calibration.networks``, ``calibration.residual``); the message names the file and the key.
        """
        p = Path(path)
        if not p.is_file():
            raise LatencyTableError(f"latency table {p} does not exist")
        try:
            data = json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise LatencyTableError(f"latency table {p} is not valid JSON ({exc}); rebuild it with hwnas profile") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise LatencyTableError(f"latency table {p}: 'format' must be {FORMAT!r}; this is not a latency table")
        if data.get("format_version") != FORMAT_VERSION:
            raise LatencyTableError(f"latency table {p}: format_version {data.get('format_version')!r} is not "
                                    f"supported (this hwnas reads {FORMAT_VERSION}); rebuild it with hwnas profile")
        meta, entries = data.get("meta"), data.get("entries")
        if not isinstance(meta, dict) or not isinstance(entries, dict) or not entries:
            raise LatencyTableError(f"latency table {p}: needs a 'meta' object and a non-empty 'entries' object")
        for key in ("target", "runtime_version", "execution_provider", "batch_size", "dtype", "space"):
            if key not in meta:
                raise LatencyTableError(f"latency table {p}: meta.{key} is missing; add it or rebuild the table")
        for key, entry in entries.items():
            value = entry.get("latency_ms") if isinstance(entry, dict) else None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
                raise LatencyTableError(f"latency table {p}: entry {key!r} needs a positive 'latency_ms', got {entry!r}")
        calibration = data.get("calibration") or {}
        if not isinstance(calibration, dict):
            raise LatencyTableError(f"latency table {p}: 'calibration' must be an object, not {calibration!r}; "
                                    f"fix it or rebuild the table with hwnas profile")
        networks = calibration.get("networks", [])
        if not isinstance(networks, list) or not all(isinstance(n, str) for n in networks):
            raise LatencyTableError(f"latency table {p}: calibration.networks must be a list of architecture "
                                    f"strings, not {networks!r}; fix it or rebuild the table with hwnas profile")
        model = calibration.get("model", "sum")
        if model not in CALIBRATIONS:
            raise LatencyTableError(f"latency table {p}: calibration model {model!r} is unknown; "
                                    f"use one of {sorted(CALIBRATIONS)}")
        if model == "linear":
            names, coef = calibration.get("features"), calibration.get("coef")
            if not isinstance(names, list) or not isinstance(coef, list) or len(names) != len(coef) or not names:
                raise LatencyTableError(f"latency table {p}: the linear calibration needs lists 'features' "
                                        f"and 'coef' of equal length")
            for i, c in enumerate(coef):
                if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c):
                    raise LatencyTableError(f"latency table {p}: calibration.coef[{i}] must be a finite number, "
                                            f"not {c!r}; fix it or rebuild the table with hwnas profile")
            bad = [n for n in names if not isinstance(n, str) or not _known_feature(n)]
            if bad:
                raise LatencyTableError(f"latency table {p}: calibration feature {bad[0]!r} is unknown; use "
                                        f"sum_ms, sum_ms:<group>, n_layers, n:<group>, weights_m, "
                                        f"activations_m, memory_m_over:<millions>, residual_ms or const, or rebuild "
                                        f"the table with hwnas profile")
            share = calibration.get("activation_share", 0.0)
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share < math.inf:
                raise LatencyTableError(f"latency table {p}: calibration 'activation_share' {share!r} must be a "
                                        f"number >= 0; rebuild the table with hwnas profile")
        residual = calibration.get("residual")
        if residual is not None and not isinstance(residual, dict):
            raise LatencyTableError(f"latency table {p}: calibration.residual must be an object (the residual "
                                    f"fit's report), not {residual!r}; remove it or rebuild the table with "
                                    f"hwnas profile")
        for key, entry in entries.items():
            for name in ("weights", "activations"):
                count = entry.get(name, 0)
                if isinstance(count, bool) or not isinstance(count, (int, float)) or not 0 <= count < math.inf:
                    raise LatencyTableError(f"latency table {p}: entry {key!r} has {name!r} {count!r}; it must be "
                                            f"a count >= 0; rebuild the table with hwnas profile")
            weight = entry.get("residual_weight", 0.0)
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
                raise LatencyTableError(f"latency table {p}: entry {key!r} has a non-numeric 'residual_weight' "
                                        f"{weight!r}; rebuild the table with hwnas profile")
        _check_meta_types(p, meta)
        return cls(meta, {k: dict(v) for k, v in entries.items()}, calibration,
                   data.get("fidelity") or {}, data.get("device_report") or {}, p)

    # --- checks --------------------------------------------------------------------------
    @property
    def where(self) -> str:
        """``"latency table <path>"``, for messages."""
        return f"latency table {self.path}" if self.path else "latency table"

    def check(self, target: Target, space, fix: str | None = None) -> None:
        """Refuse a table built for another target, runtime version, device, space or input size.

        Args:
            target: the run's target.
            space: the run's search space (name and input shape are compared).
            fix: the command that rebuilds the table, for the messages.

        Raises:
            LatencyTableError: saying which setting differs, both values, and the fix.
        """
        hint = self._hint(fix or profile_command(target, space.name), "rebuild")
        meta = self.meta
        if meta["target"] != target.name:
            # the table may be right and the config's target the slip: rebuilding (--out: this file) would replace it
            raise LatencyTableError(f"{self.where} was built for target {meta['target']!r}, not {target.name!r}; if "
                                    f"the table's target is the one meant, set [cost] target = {meta['target']!r} "
                                    f"(or its .toml path), else{hint[1:]}")
        for key in MATCHED_SETTINGS:
            mine, theirs = meta.get(key), getattr(target, key)
            if mine is None and not meta.get("remote"):  # built here by hwnas profile, which records them all
                raise LatencyTableError(f"{self.where} does not record the {key} it was built with, so it cannot "
                                        f"be matched to target {target.name}{hint}")
            if mine is not None and mine != theirs:
                raise LatencyTableError(f"{self.where} was built with {key} = {mine!r}, the target "
                                        f"{target.name} has {theirs!r}{self._copied_target(target, space)}{hint}")
        if not meta.get("remote"):
            local = _runtime_version()
            if meta["runtime_version"] != local:
                raise LatencyTableError(f"{self.where} was built with onnxruntime {meta['runtime_version']}, "
                                        f"this machine has {local}; latencies change between runtime "
                                        f"versions{hint}")
            # an empty device ({}) reads "unknown": refused like any other device, never skipped
            built_on, here = device_label(meta.get("device") or {}, target.execution_provider), local_device(target)
            if built_on != here:
                raise LatencyTableError(f"{self.where} was built on {built_on}, this machine is {here}; "
                                        f"latencies do not carry over between devices{hint} (a table for "
                                        f"a device you cannot run here needs \"remote\": true in its meta)")
        built = meta["space"]
        if built.get("name") != space.name:
            raise LatencyTableError(f"{self.where} was built for space {built.get('name')!r}, not {space.name!r}{hint}")
        shape = tuple(built.get("input_shape", ()))
        if shape != tuple(space.input_shape):
            raise LatencyTableError(f"{self.where} was built for input {shape_text(shape)}, this task's "
                                    f"input is {shape_text(space.input_shape)}{hint}")

    def _copied_target(self, target: Target, space) -> str:
        """For a target file copied from ``targets/<name>.toml`` with other settings but not another
        name, whose default table is the bundled target's: profile refuses to replace that table
        until the copy has a name of its own; say so first."""
        bundled = targets_dir() / f"{target.name}.toml"
        if (not target.source or not bundled.is_file() or Path(target.source).resolve() == bundled.resolve()
                or self.path is None or self.path.resolve() != local_table_path(target, space).resolve()):
            return ""
        return (f"; {target.source} is a copy of targets/{target.name}.toml with other settings under the same "
                f"name, and that target's table is not replaced: give it a name of its own (name = \"...\") first")

    def missing(self, signatures: Sequence[Any]) -> list[str]:
        """Keys of ``signatures`` the table lacks, in order, without repeats."""
        return list(dict.fromkeys(s.key for s in signatures if s.key not in self.entries))

    def require(self, signatures: Sequence[Any], fix: str) -> None:
        """Raise naming the first missing key and the fix, if any signature has no entry.

        Raises:
            LatencyTableError: naming the key, how many are missing, and ``fix``.
        """
        missing = self.missing(signatures)
        if missing:
            raise LatencyTableError(
                f"{self.where} has no entry for {missing[0]!r}"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                + self._hint(fix, "fill"))

    def _hint(self, fix: str, action: str) -> str:
        """How to mend this table: ``fix`` here, or, for a remote table (a device this machine
        cannot run, so neither profiling nor timing works here), on its device."""
        if self.meta.get("remote"):
            device = self.meta.get("device")
            where = (device_label(device, str(self.meta.get("execution_provider", ""))) if isinstance(device, dict)
                     else "the device it describes")
            # hwnas profile writes "remote": false: copied back as it is, the table would be refused here
            return (f"; {action} it on {where}, where its target runs, with `{fix}`, and copy it here with "
                    f"\"remote\": true in its meta")
        return f"; {action} it with `{fix}` or time every candidate with --latency measure"

    # --- prediction ----------------------------------------------------------------------
    def features(self, signatures: Sequence[Any]) -> dict[str, float]:
        """Calibration features of a network: ``sum_ms``, ``sum_ms:<group>``, ``n_layers``, ``n:<group>``, ``const``,
        ``weights_m`` and ``activations_m`` (millions, from the entries' ``weights`` and
        ``activations``) and ``residual_ms`` (each layer's latency times its entry's
        ``residual_weight``, see :class:`ResidualRidge`). ``memory_m_over:<C>`` is derived
        from them (see :func:`feature_value`).

        Raises:
            LatencyTableError: a layer has no entry (naming its key).
        """
        feats = {"sum_ms": 0.0, "n_layers": float(len(signatures)), "const": 1.0, "weights_m": 0.0,
                 "activations_m": 0.0}
        for sig in signatures:
            entry = self.entries.get(sig.key)
            if entry is None:
                fix = _profile_command_from_meta(self.meta, self.path)
                raise LatencyTableError(f"{self.where} has no entry for {sig.key!r}; fill it with "
                                        f"`{fix}` or time every candidate with --latency measure")
            ms = float(entry["latency_ms"])
            feats["sum_ms"] += ms
            feats["weights_m"] += float(entry.get("weights", 0)) / 1e6
            feats["activations_m"] += float(entry.get("activations", 0)) / 1e6
            feats["residual_ms"] = feats.get("residual_ms", 0.0) + ms * float(entry.get("residual_weight", 0.0))
            feats[f"sum_ms:{sig.kind}"] = feats.get(f"sum_ms:{sig.kind}", 0.0) + ms
            feats[f"n:{sig.kind}"] = feats.get(f"n:{sig.kind}", 0.0) + 1.0
        return feats

    def predict(self, signatures: Sequence[Any]) -> float:
        """Predicted whole-network latency in ms of a network made of ``signatures``."""
        return calibrated(self.calibration, self.features(signatures))

    def layer_ms(self, signature: Any) -> float:
        """What one layer adds to a network's predicted latency, in ms: the prediction for the
        layer alone less the prediction for no layer (the constant). Network-level terms such as
        memory thresholds count only as far as the layer alone reaches them."""
        return self.predict([signature]) - self.predict([])


def _check_meta_types(p: Path, meta: Mapping[str, Any]) -> None:
    """Refuse meta fields of the wrong type, which would otherwise skip a check or fail later
    with a message that blames something else (``meta.remote = "false"`` is truthy)."""
    fix = "fix the file or rebuild the table with hwnas profile"
    remote = meta.get("remote", False)
    if not isinstance(remote, bool):
        raise LatencyTableError(f"latency table {p}: meta.remote must be true or false, not {remote!r}; {fix}")
    # A table built here is compared with this machine's device; without one (or with ``null``)
    # that check would be skipped.
    device = meta.get("device")
    if not isinstance(device, dict) and (device is not None or not remote):
        raise LatencyTableError(f"latency table {p}: meta.device must be an object such as "
                                f"{{\"cpu\": \"...\", \"gpu\": null}}, not {device!r} (a table built on "
                                f"another machine needs \"remote\": true); {fix}")
    space = meta["space"]
    if not isinstance(space, dict) or not isinstance(space.get("name"), str):
        raise LatencyTableError(f"latency table {p}: meta.space must be an object with a 'name' string, not "
                                f"{space!r}; {fix}")
    shape = space.get("input_shape")
    if (not isinstance(shape, list) or not shape
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise LatencyTableError(f"latency table {p}: meta.space.input_shape must be a list of positive integers "
                                f"such as [1, 12, 12], not {shape!r}; {fix}")


def _known_feature(name: str) -> bool:
    """Whether a calibration may name ``name`` (see :meth:`LatencyTable.features` and :func:`feature_value`)."""
    if name.startswith("memory_m_over:"):
        try:
            return math.isfinite(float(name.split(":", 1)[1]))
        except ValueError:
            return False
    return name in _FEATURES or name.startswith(_FEATURE_PREFIXES)


def feature_value(features: Mapping[str, float], name: str, activation_share: float = 0.0) -> float:
    """One calibration feature of a network; 0 for a group it lacks.

    ``memory_m_over:<C>`` is ``max(0, memory_m - C)`` with ``memory_m = weights_m +
    activation_share * activations_m``: the memory a network cycles through per inference beyond
    C million numbers. Timed alone, a layer's weights and buffers stay in the cache from run to
    run; inside a network whose memory exceeds the cache, every layer fetches them again. On a
    2 MB-L2 Xeon VM the calibration's residuals grew from 0.7 % to 2.8 % s.d. past 0.2 M weights;
    thresholds on weights alone halved them, and counting half of each layer's activations
    (input plus its largest intermediate tensor) cut the table's own error by another ~5 %.
    """
    if name.startswith("memory_m_over:"):
        return max(0.0, memory_m(features, activation_share) - float(name.split(":", 1)[1]))
    return features.get(name, 0.0)


def memory_m(features: Mapping[str, float], activation_share: float) -> float:
    """A network's memory in millions of numbers: its weights plus ``activation_share`` of its activations."""
    return features.get("weights_m", 0.0) + activation_share * features.get("activations_m", 0.0)


def calibrated(calibration: Mapping[str, Any], features: Mapping[str, float]) -> float:
    """Apply a calibration (``{"model": "linear", "features": [...], "coef": [...]}``, or the plain sum)."""
    if calibration.get("model", "sum") == "sum":
        return float(features["sum_ms"])
    share = calibration.get("activation_share", 0.0)
    return float(sum(c * feature_value(features, name, share)
                     for name, c in zip(calibration["features"], calibration["coef"])))


def fit_linear(features: Sequence[Mapping[str, float]], names: Sequence[str],
               measured_ms: Sequence[float], activation_share: float = 0.0) -> list[float]:
    """Least squares in *relative* error of ``measured ≈ sum_i coef_i * features[names_i]``.

    Relative weighting (each row divided by its measured latency) makes small and large
    networks count alike, which is what a ±x % fidelity target asks for.
    """
    y = np.asarray(measured_ms, dtype=float)
    x = np.array([[feature_value(f, n, activation_share) for n in names] for f in features], dtype=float)
    coef, *_ = np.linalg.lstsq(x / y[:, None], np.ones_like(y), rcond=None)
    return [float(v) for v in coef]


def signature_groups(signatures: Sequence[Any]) -> tuple[list[str], np.ndarray]:
    """Groups of layer signatures that share a correction: the op, each field value of an op,
    and each pair of field values (the input size counts as a field), e.g. ``ir:k=7`` or
    ``ir:k=7&s=2``.

    Returns:
        The group names and a signatures x groups 0/1 membership matrix.
    """
    members: list[set[str]] = []
    for sig in signatures:
        fields = sorted([(str(n), str(v)) for n, v in sig.fields] + [("in", shape_text(sig.input_shape))])
        names = {sig.op} | {f"{sig.op}:{n}={v}" for n, v in fields}
        names |= {f"{sig.op}:{a}={v}&{b}={w}" for i, (a, v) in enumerate(fields) for b, w in fields[i + 1:]}
        members.append(names)
    groups = sorted(set().union(*members)) if members else []
    column = {g: j for j, g in enumerate(groups)}
    matrix = np.zeros((len(signatures), len(groups)))
    for i, names in enumerate(members):
        matrix[i, [column[g] for g in names]] = 1.0
    return groups, matrix


class ResidualRidge:
    """Per-layer corrections of what the linear calibration leaves over, by ridge regression.

    A layer timed alone misses what it costs inside a network (fusion with neighbours, cache
    state, layout), and each entry carries its own measurement noise; both are per layer, so
    the calibration networks' residuals are regressed on each layer's share of the network:
    ``measured - linear = sum_layers weight_layer * latency_layer`` (relative to the measured
    latency, like :func:`fit_linear`). The ridge penalty is chosen by k-fold cross-validation
    on the calibration networks, so a layer seen in few networks keeps a weight near 0.

    With ``groups`` (see :func:`signature_groups`) a layer's weight is its own plus its groups'
    (``ir:k=7``, ``ir:k=7&s=2``, ...), all under the same penalty: a layer seen in few networks
    then borrows the correction of layers like it instead of shrinking to 0. On the Xeon VM
    (1000 calibration networks, 300 test networks, two data sets) this cut the table's own
    error from 0.65 / 0.73 % to 0.59 / 0.68 %.

    The layers' shares do not depend on the residual, so each fold's eigendecomposition is
    computed once and :meth:`fit` is cheap: a calibration search fits hundreds of residuals.

    Args:
        layer_ms: networks x layer signatures, the ms each signature contributes to each network
            (entry latency times its count).
        measured_ms: measured latency per network.
        groups: signatures x groups membership matrix (None: each layer on its own).
        lambdas: ridge penalties tried.
        folds: cross-validation folds.
        seed: seed of the fold split.
    """

    def __init__(self, layer_ms: np.ndarray, measured_ms: np.ndarray, groups: np.ndarray | None = None, *,
                 lambdas: Sequence[float] = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
                 folds: int = 5, seed: int = 0) -> None:
        self.measured = np.asarray(measured_ms, float)
        x = np.asarray(layer_ms, float) / self.measured[:, None]
        n_layers = x.shape[1]
        self.expand = np.eye(n_layers) if groups is None else np.hstack([np.eye(n_layers), groups])
        self.x = x @ self.expand
        self.lambdas = [float(lam) for lam in lambdas]
        order = np.random.default_rng(seed).permutation(len(x))
        self.splits = [(np.setdiff1d(order, test), test) for test in np.array_split(order, min(folds, len(x)))]
        self.bases = [self._basis(train) for train, _ in self.splits]
        self.full = self._basis(np.arange(len(x)))

    def _basis(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Eigenvalues and eigenvectors of the rows' Gram matrix, and the rows' design."""
        values, vectors = np.linalg.eigh(self.x[rows].T @ self.x[rows])
        return np.clip(values, 0.0, None), vectors, self.x[rows]

    @staticmethod
    def _solve(basis: tuple[np.ndarray, np.ndarray, np.ndarray], target: np.ndarray, lam: float) -> np.ndarray:
        values, vectors, design = basis
        return vectors @ ((vectors.T @ (design.T @ target)) / (values + lam))

    def fit(self, residual_ms: np.ndarray) -> tuple[np.ndarray, float, dict[float, float]]:
        """Weights for ``residual_ms`` (measured minus linear prediction, per network).

        Returns:
            The weight per signature (column of ``layer_ms``), the chosen penalty, and the
            cross-validated mean squared relative error per penalty (``0.0``: no correction).
        """
        y = np.asarray(residual_ms, float) / self.measured
        scores = {0.0: float(np.mean(y ** 2))}
        for lam in self.lambdas:
            err = [y[test] - self.x[test] @ self._solve(basis, y[train], lam)
                   for (train, test), basis in zip(self.splits, self.bases)]
            scores[lam] = float(np.mean(np.concatenate(err) ** 2))
        best = min(scores, key=scores.get)
        weights = self._solve(self.full, y, best) if best > 0 else np.zeros(self.x.shape[1])
        return self.expand @ weights, best, scores


def _profile_command_from_meta(meta: Mapping[str, Any], path: Path | None = None) -> str:
    from shlex import quote

    space = meta.get("space", {})
    to = f" --out {quote(str(path))}" if path else ""
    return (f"hwnas profile --target {quote(str(meta.get('target')))} --space {space.get('name', '<space>')} "
            f"--task <your config>{to}")


def _runtime_version() -> str | None:
    try:
        import onnxruntime

        return onnxruntime.__version__
    except ImportError:
        return None


def local_table_path(target: Target, space) -> Path:
    """Where ``hwnas profile`` writes this machine's table:
    ``latency_tables/<target>/<device folder>/<space>-<CxHxW>.json``."""
    return (tables_dir() / target.name / device_folder(local_device(target))
            / f"{space.name}-{shape_text(space.input_shape)}.json")


def own_table_path(space, config_source: str | None) -> Path | None:
    """A config's own table, beside it: ``<config dir>/<config stem>-<space>-<CxHxW>.json``
    (:func:`beside_config`), which its searches read ahead of ``latency_tables/`` when it exists
    (:func:`find_table`); None without a config file."""
    if not config_source or config_source.startswith("<") or not Path(config_source).is_file():
        return None
    return beside_config(space, config_source)


def table_to_build(target: Target, space, config_source: str | None) -> Path | None:
    """Where ``hwnas profile`` should write a config's table (its ``--out``): beside the config
    (:func:`own_table_path`) when that table exists already, or when ``latency_tables/`` holds the
    table of another configuration of the space (which profile will not overwrite); None for
    ``latency_tables/``, where searches of every config of the space look."""
    own = own_table_path(space, config_source)
    if own is None:
        return None
    return own if own.is_file() or other_configuration(local_table_path(target, space), space) else None


def other_configuration(path: Path, space) -> list[str]:
    """The keys of ``space.describe()`` (its options) in which the table at ``path`` was built
    for another configuration of the space; [] when they agree or there is no readable table."""
    try:
        return space_differences(LatencyTable.load(path).meta["space"], space)
    except LatencyTableError:  # none, or unreadable: nothing worth keeping
        return []


def space_differences(built: Mapping[str, Any], space) -> list[str]:
    """The keys in which a table's ``meta["space"]`` (``built``) differs from ``space.describe()``."""
    mine = json.loads(json.dumps(space.describe()))  # as a file stores it (tuples as lists)
    return [k for k in built if k in mine and built[k] != mine[k]]  # older tables record fewer keys


def beside_config(space, config_source: str) -> Path:
    """``<config dir>/<config stem>-<space>-<CxHxW>.json``: a table of that config's own space."""
    config = Path(config_source)
    return config.parent / f"{config.stem}-{space.name}-{shape_text(space.input_shape)}.json"


def find_table(target: Target, space, path: str | Path | None = None, config_source: str | None = None) -> Path:
    """The table file for a target and space.

    ``path`` if given; else the config's own table beside it (:func:`own_table_path`) when that
    file exists; else where ``hwnas profile`` writes:
    ``latency_tables/<target>/<device folder>/<space>-<CxHxW>.json`` for this machine's device
    (see :func:`~hwnas.cost.device.device_folder`). When that file does not exist, a table built
    elsewhere (``"remote": true`` in its meta) in any folder ``latency_tables/<target>/*/`` with
    that file name is used instead, if there is exactly one. Without either, this machine's path
    is returned (it does not exist; callers say so).

    Raises:
        LatencyTableError: several remote tables fit; ``[cost.lut] path`` must pick one.
    """
    if path:
        return Path(path)
    own = own_table_path(space, config_source)
    if own is not None and own.is_file():
        return own
    here = local_table_path(target, space)
    name = here.name
    if here.is_file():
        return here
    remote = [p for p in sorted((tables_dir() / target.name).glob(f"*/{name}")) if _is_remote(p)]
    if len(remote) > 1:
        raise LatencyTableError(f"several tables built elsewhere fit target {target.name}, space {space.name}, input "
                                f"{shape_text(space.input_shape)}: {', '.join(str(p) for p in remote)}; pick one "
                                f"with [cost.lut] path")
    return remote[0] if remote else here


def unreadable_tables(target: Target, space) -> str:
    """Why the table files of this target and space in other device folders were not picked up
    when they fail to load (a corrupt copy, ``"remote": "true"``): ``"; <the first error>"``, or ``""``."""
    name = f"{space.name}-{shape_text(space.input_shape)}.json"
    errors = []
    for p in sorted((tables_dir() / target.name).glob(f"*/{name}")):
        try:
            LatencyTable.load(p)
        except LatencyTableError as exc:
            errors.append(str(exc).splitlines()[0])
    if not errors:
        return ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"; a table there could not be used: {errors[0].rstrip('.')}{more}"


def _require_timing(target: Target, space, path: Path, note: str) -> None:
    """Refuse, naming why the table was not used, a fallback to timing on a machine that cannot
    run the target (a phone's or a GPU box's): the provider's error alone would hide the table's.

    Raises:
        LatencyTableError: the table's problem, why timing here is no way out, and the fix.
    """
    from ..exceptions import TargetError
    from .latency import require_provider

    try:
        require_provider(target)
    except TargetError as exc:
        why = note.split("; timing every candidate instead")[0]
        fix = ("" if path.is_file() else  # the table's own message says how to mend it
               unmarked_remote_tables(target, space) or
               f"; use a table built where the target runs: latency_tables/{target.name}/<its device>/"
               f"{space.name}-{shape_text(space.input_shape)}.json with \"remote\": true in its meta, "
               f"or [cost.lut] path")
        raise LatencyTableError(f"{why}; and this machine cannot time every candidate instead: "
                                f"{str(exc).splitlines()[0].rstrip('.')}{fix}") from None


def unmarked_remote_tables(target: Target, space) -> str:
    """For a machine that cannot run ``target``: a table of this target and space in another
    device folder that is not marked ``"remote": true`` (``hwnas profile`` writes false, so a table
    copied from the device as it is): ``"; <path> is there ... set it"``, or ``""``."""
    name = f"{space.name}-{shape_text(space.input_shape)}.json"
    for p in sorted((tables_dir() / target.name).glob(f"*/{name}")):
        try:
            meta = LatencyTable.load(p).meta
        except LatencyTableError:  # unreadable_tables says why
            continue
        if not meta.get("remote"):
            built_on = device_label(meta.get("device") or {}, target.execution_provider)
            return (f"; {p} is there, built on {built_on}, but its meta says \"remote\": false (as hwnas profile "
                    f"writes it): set \"remote\": true to use it on this machine")
    return ""


def refuse_unmarked_remote(table: LatencyTable, target: Target) -> None:
    """Refuse a table built on another device, not marked ``"remote": true``, whose target cannot
    run here: one copied from that device as ``hwnas profile`` wrote it. Saying so beats the
    version or device refusal, whose fixes (rebuild or time it here) cannot work here.

    Raises:
        LatencyTableError: naming the device and the fix.
    """
    from ..exceptions import TargetError
    from .latency import require_provider

    if table.meta.get("remote"):
        return
    built_on = device_label(table.meta.get("device") or {}, target.execution_provider)
    here = local_device(target)
    if built_on == here:
        return
    try:
        require_provider(target)
    except TargetError as exc:
        raise LatencyTableError(
            f"{table.where} was built on {built_on}, not on this machine ({here}), which cannot run its "
            f"target: {str(exc).splitlines()[0].rstrip('.')}; if {built_on} is where target {target.name} runs, "
            f"set \"remote\": true in the table's meta to use its predictions without timing here") from None


def _is_remote(path: Path) -> bool:
    """Whether a file's meta says ``"remote": true`` (unreadable files are not; loading them says why)."""
    try:
        meta = json.loads(path.read_text()).get("meta")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(meta, dict) and meta.get("remote") is True


#: A table's measured level within this of 1 keeps the table's own latencies; beyond, the level
#: is rounded to a multiple of :data:`LEVEL_STEP`, so that repeated runs on one machine (whose
#: measurements differ by ~2 %) usually share it (see :meth:`LutCostModel.settle_level`).
LEVEL_TOLERANCE = 0.05
LEVEL_STEP = 0.05


@COST_MODELS.register("lut")
class LutCostModel(CostModel):
    """Latency predicted from a per-layer lookup table (see :class:`LatencyTable`).

    Args:
        target: the run's target; the table must have been built for it.
        input_shape: one sample's shape; the table must have been built for it.
        space: the search space (gives every architecture's layer signatures).
        path: the table file (default ``latency_tables/<target>/<device>/<space>-<CxHxW>.json``).
        config_source: the run config's file, for the rebuild command in messages.
        level: this machine's speed against the table's, a factor on every prediction:
            ``"auto"`` (the default) leaves 1 here and lets the search measure it once
            (:meth:`reference_level`) and record the number in the run's config; a number sets it.
            Machines that share a CPU name, which is all ``latency_tables/`` is filed under, can
            differ in speed (a cloud VM's "Intel(R) Xeon(R) Processor" spans generations) while
            the table's ranking of architectures holds.

    Raises:
        LatencyTableError: no table, a table for another target/runtime version/device/input size,
            or a layer of the space without an entry; each names the fix.
        ConfigError: a ``level`` that is neither ``"auto"`` nor a number > 0.
    """

    name = "lut"
    provides = ("latency_ms",)
    needs_model = False
    needs_space = True

    #: Reference networks timed for :meth:`reference_level`: the table's first calibration networks
    #: (the space's smallest and largest, then random ones).
    REFERENCE_NETWORKS = 4
    #: Times they are timed, the level being the median: one timing (~0.7 s) varies by ~10 % on a busy machine.
    REFERENCE_REPEATS = 3

    def __init__(self, target: Target, input_shape: tuple[int, ...], *, space: Any = None,
                 path: str | None = None, config_source: str | None = None, level: float | str = "auto") -> None:
        super().__init__(target, input_shape)
        from ..exceptions import ConfigError

        if level != "auto" and (isinstance(level, bool) or not isinstance(level, (int, float))
                                or not 0 < level < math.inf):
            raise ConfigError(f"[cost.lut] level = {level!r} must be \"auto\" or a number > 0 (1: the table's "
                              f"own latencies)")
        self.level_auto = level == "auto"
        self.level = 1.0 if self.level_auto else float(level)
        if space is None:
            raise LatencyTableError("the lut cost model needs the search space (built by hwnas.components)")
        self.space = space
        try:
            signatures = space.all_layer_signatures()
        except SpaceError as exc:  # no table can exist: say so, not how to build one
            # worded for --latency lut and [cost] models = [..., "lut"] alike: either may have asked for it
            raise LatencyTableError(f"the lut cost model reads latency tables: {exc}") from None
        self.fix = profile_command(target, space.name, config_source,
                                   path or table_to_build(target, space, config_source))
        table_path = find_table(target, space, path, config_source)
        if not table_path.is_file():
            from ..exceptions import TargetError
            from .latency import require_provider

            try:  # a machine that cannot run the target can neither build a table nor time candidates
                require_provider(target)
            except TargetError as exc:
                raise LatencyTableError(
                    f"no latency table for target {target.name} ({table_path} does not exist), and this machine "
                    f"cannot build one: {str(exc).rstrip('.')}"
                    + ((unmarked_remote_tables(target, space) if not path else "")
                       or f"; use a table built where the target runs: give its file as [cost.lut] path (its meta "
                          f"marked \"remote\": true)")) from None
            raise LatencyTableError(
                f"no latency table for target {target.name} on {local_device(target)}, space {space.name}, input "
                f"{shape_text(space.input_shape)} ({table_path} does not exist{'' if path else unreadable_tables(target, space)}); "
                f"build it with `{self.fix}` or time every candidate with --latency measure")
        self.table = LatencyTable.load(table_path)
        refuse_unmarked_remote(self.table, target)
        self.table.check(target, space, self.fix)
        self.table.require(signatures, self.fix)
        if not self.table.meta.get("remote"):  # its level is timed here and its front re-measured here
            from ..exceptions import TargetError
            from .latency import require_provider

            try:
                require_provider(target)
            except TargetError as exc:
                raise LatencyTableError(
                    f"{self.table.where} is this machine's, but its target cannot run here: {str(exc).rstrip('.')}; "
                    f"mark the table \"remote\": true in its meta to use its predictions without timing, or "
                    f"use a target that runs here") from None

    def predict(self, archs: Sequence[str]) -> np.ndarray:
        """Predicted latency in ms of each canonical architecture string (the table's, times ``level``).

        Raises:
            ValueError: a prediction that is not a positive number (a calibration fitted on too few
                networks extrapolates below 0), naming the architecture and the fix: that candidate
                fails, the search goes on.
        """
        ms = self.level * self._table_ms(archs)
        bad = [(a, v) for a, v in zip(archs, ms) if not (np.isfinite(v) and v > 0)]
        if bad:
            raise ValueError(f"latency table {self.table.path} predicts {bad[0][1]:.4g} ms for {bad[0][0]}; "
                             f"its calibration does not hold there: rebuild it with more --calibration "
                             f"networks (`{self.fix}`), or time every candidate with --latency measure")
        return ms

    def _table_ms(self, archs: Sequence[str]) -> np.ndarray:
        return np.array([self.table.predict(self.space.layer_signatures(self.space.parse(a))) for a in archs])

    def reference_level(self) -> float | None:
        """This machine's latency against the table's: measured over predicted, the median over
        :data:`REFERENCE_NETWORKS` of the table's calibration networks timed together here, and the
        median of :data:`REFERENCE_REPEATS` such timings (a few seconds). None for a remote table
        (its device is not this machine)."""
        calibrated = list(self.table.calibration.get("networks") or [])
        if self.table.meta.get("remote") or not calibrated:
            return None
        from ..exceptions import HwnasError, SpaceError
        from .models import OrtLatencyCostModel

        # the first of them this run's space holds: a config that narrows the space's choices
        # (widths = [0.25, 0.5]) cannot build the others
        networks = []
        for arch in calibrated:
            try:
                self.space.parse(arch)
            except SpaceError:
                continue
            networks.append(arch)
            if len(networks) == self.REFERENCE_NETWORKS:
                break
        if not networks:
            raise HwnasError(f"none of the table's {len(calibrated)} calibration "
                             f"networks is in this run's {self.space.name} space")

        models = [self.space.build(self.space.parse(a)) for a in networks]
        timer, predicted = OrtLatencyCostModel(self.target, self.input_shape), self._table_ms(networks)
        levels = [np.median(np.array([m["latency_ms"] for m in timer.measure_many(networks, models)]) / predicted)
                  for _ in range(self.REFERENCE_REPEATS)]
        return float(np.median(levels))

    def settle_level(self) -> str | None:
        """Set :attr:`level` from :meth:`reference_level`: 1 (the table's own latencies) within
        :data:`LEVEL_TOLERANCE` of it, so timing noise does not move a run's predictions, else the
        measured level rounded to a multiple of :data:`LEVEL_STEP`.

        Returns:
            A one-line note for the user when the level is not 1 or could not be measured, else None.
        """
        from ..exceptions import HwnasError

        try:
            measured = self.reference_level()
        except HwnasError as exc:
            self.level = 1.0
            return (f"the latency table's reference networks could not be timed here ({str(exc).splitlines()[0]}); "
                    f"its latencies are used as they are")
        if measured is None or abs(measured - 1.0) <= LEVEL_TOLERANCE:
            self.level = 1.0
        else:
            self.level = round(max(LEVEL_STEP, round(measured / LEVEL_STEP) * LEVEL_STEP), 2)
        if self.level == 1.0:
            return None
        return (f"this machine runs the latency table's reference networks at {measured:.3g}x its predictions (a "
                f"CPU of the same name at another speed, or a busy machine); every prediction is scaled by "
                f"{self.level:g} ([cost.lut] level = 1 keeps the table's own; `{self.fix}` builds one for this "
                f"machine)")

    def lowest(self, space: Any, smallest: str, model: torch.nn.Module | None) -> dict[str, tuple[float, str]]:
        """The lowest predicted latency found from ``smallest``, changing one gene at a time while
        that lowers it (two sweeps, a few hundred predictions): with calibration terms (a per-layer
        cost, memory thresholds) the smallest architecture need not be the cheapest.

        Raises:
            ValueError: the prediction for ``smallest`` is not a positive number (see :meth:`predict`).
        """
        best_ms, best = float(self.predict([smallest])[0]), smallest
        genome = space.encode(space.parse(smallest))
        for _ in range(2):
            improved = False
            for i, gene in enumerate(space.genes):
                tried = [genome.copy() for _ in range(gene.size)]
                for value, candidate in enumerate(tried):
                    candidate[i] = value
                archs = [space.canonical_genome(g) for g in tried]
                ms = self.level * self._table_ms(archs)
                j = int(np.argmin(np.where(np.isfinite(ms) & (ms > 0), ms, np.inf)))
                if np.isfinite(ms[j]) and 0 < ms[j] < best_ms:
                    best_ms, best, genome, improved = float(ms[j]), archs[j], tried[j], True
            if not improved:
                break
        return {"latency_ms": (best_ms, best)}

    def measure(self, arch: str, model: torch.nn.Module | None = None) -> dict[str, float]:
        """Predicted ``latency_ms`` of ``arch`` (the module is not needed)."""
        return {"latency_ms": float(self.predict([arch])[0])}

    def verify_front(self, archs: Sequence[str]) -> list[dict[str, float]]:
        """Re-measure predicted latencies on the runtime: ``latency_ms_predicted`` and ``_measured``.

        Tables of remote devices cannot be re-measured here; they get the prediction only.
        """
        predicted = self.predict(archs)
        rows = [{"latency_ms_predicted": float(p)} for p in predicted]
        if self.table.meta.get("remote") or not archs:
            return rows
        import sys

        from ..exceptions import TargetError
        from .models import OrtLatencyCostModel

        models = [self.space.build(self.space.parse(a)) for a in archs]
        try:
            measured = OrtLatencyCostModel(self.target, self.input_shape).measure_many(list(archs), models)
        except TargetError as exc:  # the machine changed since the search began (fewer cores): keep the outputs
            print(f"hwnas: note: the front's predicted latencies are not re-measured: {str(exc).splitlines()[0]}",
                  file=sys.stderr)
            return rows
        for row, m in zip(rows, measured):
            row["latency_ms_measured"] = m["latency_ms"]
        ratio = float(np.median(np.array([m["latency_ms"] for m in measured]) / predicted))
        if abs(ratio - 1.0) > LEVEL_TOLERANCE:
            print(f"hwnas: note: the front ran at {ratio:.3g}x its predicted latencies here (median of {len(archs)}; "
                  f"level {self.level:g}): a busy machine, or a table that no longer fits it; compare "
                  f"latency_ms_measured with latency_ms_predicted in front.csv, or rebuild it with `{self.fix}`",
                  file=sys.stderr)
        return rows

    def source(self) -> dict[str, Any]:
        return {"table": str(self.table.path), "date": self.table.meta.get("date"), "digest": self.table.digest()}

    def describe(self) -> dict[str, Any]:
        """The target's description plus the table's file and build date."""
        return {**super().describe(), "table": str(self.table.path), "table_date": self.table.meta.get("date"),
                "level": self.level}


def latency_models(names: list[str], cost: Mapping[str, Any], space: Any, *, explicit: bool,
                   source: str = "<config>") -> tuple[list[str], str | None]:
    """Resolve ``[cost] latency`` (``auto``, ``lut``, ``measure``) into the cost-model list.

    ``measure`` times every candidate (``ort``), ``lut`` predicts from the table (``lut``);
    ``auto`` (the default) picks ``lut`` when a table for (target, space, input size) exists and
    is valid here, else ``measure``, and then says why in the returned note (one line, for the
    search to print) unless the space cannot have a table. With ``auto``, an explicit
    ``[cost] models`` list is kept, unless ``[cost.lut] path`` names a table to use.

    Returns:
        The cost-model names, and the note (None when there is nothing to say).

    Raises:
        ConfigError: an unknown ``latency`` value, or ``latency`` / ``[cost.lut] path`` set for a
            models list without a latency model (nothing would read them).
        LatencyTableError: ``[cost.lut] path`` names a file that does not exist (unless
            ``latency = "measure"``, which reads no table).
    """
    from ..exceptions import ConfigError
    from ..registry import did_you_mean, option_names
    from .target import load_target

    mode = cost.get("latency", "auto")
    if mode not in LATENCY_MODES:
        raise ConfigError(f"{source} [cost] latency = {mode!r} is not valid; use one of {', '.join(LATENCY_MODES)}")
    options = cost.get("lut") if isinstance(cost.get("lut"), Mapping) else {}
    valid = sorted(option_names(LutCostModel) - {"target", "input_shape", "space", "config_source"})
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"{source} unknown [cost.lut] key(s) {unknown}; valid: {valid}{did_you_mean(unknown, valid)}")
    given = options.get("path")
    if given and mode != "measure" and not Path(given).is_file():
        what = "is a folder" if Path(given).is_dir() else "does not exist"
        raise LatencyTableError(f"{source} [cost.lut] path = {str(given)!r} {what}; point it at a table file "
                                f"built by `hwnas profile`, or remove the key to use latency_tables/")
    note = None
    if not ({"ort", "lut"} & set(names)):  # no latency model: nothing to resolve, and nothing to say it to
        if mode != "auto" or options:
            what = (f"[cost] latency = {mode!r}" if mode != "auto"
                    else f"[cost.lut] {', '.join(f'{k} = {v!r}' for k, v in options.items())}")
            raise ConfigError(f"{source} {what}: [cost] models = {names} has no latency model (ort or lut) to "
                              f"read it; add \"ort\" to [cost] models, or remove the key")
        return names, note
    if mode == "auto" and explicit and not given and options and "lut" not in names:
        raise ConfigError(f"{source} [cost.lut] {', '.join(f'{k} = {v!r}' for k, v in options.items())}: [cost] models "
                          f"= {names} times latency (ort) and reads no table; remove [cost.lut], or put \"lut\" in "
                          f"[cost] models")
    if (mode == "auto" and explicit and not given) or "target" not in cost:
        return names, note  # an explicit list is kept, unless it names a table to use
    if mode == "auto":
        target = load_target(cost["target"])
        path = find_table(target, space, given, source)
        mode = "measure"
        fix = profile_command(target, space.name, source, given or table_to_build(target, space, source))
        try:
            signatures = space.all_layer_signatures()
        except SpaceError as exc:  # this space cannot have a table: timing is the only way
            signatures = None
            if given:  # ... which the user, naming a table, did not expect
                note = f"[cost.lut] path = {str(given)!r} is not used: {exc}"
        if signatures is not None and not path.is_file():
            note = (f"no latency table for target {target.name} on {local_device(target)}, space {space.name}, "
                    f"input {shape_text(space.input_shape)} ({path} does not exist{unreadable_tables(target, space)}); "
                    f"timing every candidate instead; "
                    f"build one with `{fix}`, or pass --latency measure")
        elif signatures is not None:
            try:
                table = LatencyTable.load(path)
            except LatencyTableError as exc:
                table, note = None, f"{str(exc).rstrip('.')}; timing every candidate instead (--latency measure)"
            if table is not None:
                refuse_unmarked_remote(table, target)  # nor can candidates be timed here: an error, not a note
                try:
                    table.check(target, space, fix)
                    table.require(signatures, fix)
                    mode = "lut"
                except LatencyTableError as exc:  # --latency lut turns this into an error
                    note = f"{str(exc).rstrip('.')}; timing every candidate instead (--latency measure)"
        if mode == "measure" and signatures is not None:
            _require_timing(target, space, path, note)
    wanted = "lut" if mode == "lut" else "ort"
    return [wanted if n in ("ort", "lut") else n for n in names], note
