"""The latency table file: per-layer latencies measured on a target, checked against the run.

A table holds one measured latency per *layer signature* (see
:class:`~hwnas.space.base.LayerSignature`: op, channels, kernel, expand, stride, input size, ...)
for every layer a space can produce at one input size, plus a calibration that turns the sum of
standalone layer times into whole-network latency (:mod:`hwnas.cost.lut_calibration`).

File: ``latency_tables/<target>/<device>/<space>-<C>x<H>x<W>.json`` (:mod:`hwnas.cost.lut_paths`)::

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

A table for a device hwnas cannot run (a phone, an FPGA) is just such a file with
``"remote": true``: its runtime version and device are not compared with this machine's and the
final front is not re-measured. Put it in any folder ``latency_tables/<target>/<device>/`` (the
default lookup, :func:`~hwnas.cost.lut_paths.find_table`, uses it when this machine has no table of its own and it is
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

from ..exceptions import LatencyTableError
from ..space.base import shape_text
from .device import device_label, local_device
from .lut_calibration import CALIBRATIONS, calibrated, known_feature
from .lut_paths import local_table_path, own_table_path, tables_elsewhere
from .target import Target, targets_dir

FORMAT = "hwnas-latency-table"
FORMAT_VERSION = 1
#: Target settings a table must share with the target it is used for.
MATCHED_SETTINGS = ("execution_provider", "intra_op_threads", "inter_op_threads", "batch_size",
                    "dtype", "graph_optimization", "opset")


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

    where = target.source or target.name
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
                ``calibration.coef``, ``calibration.networks``, ``calibration.residual``); the
                message names the file and the key.
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
            bad = [n for n in names if not isinstance(n, str) or not known_feature(n)]
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
            name = (device_label(device, str(self.meta.get("execution_provider", ""))) if isinstance(device, dict)
                    else "unknown")
            # a device the table does not name ({}) reads "unknown" in device_label: not a place to go to
            where = "the device it was built for" if name == "unknown" else f"{name}, where its target runs"
            # hwnas profile writes "remote": false: copied back as it is, the table would be refused here
            return (f"; {action} it on {where}, with `{fix}`, and copy it here with "
                    f"\"remote\": true in its meta")
        return f"; {action} it with `{fix}` or time every candidate with --latency measure"

    # --- prediction ----------------------------------------------------------------------
    def features(self, signatures: Sequence[Any]) -> dict[str, float]:
        """Calibration features of a network: ``sum_ms``, ``sum_ms:<group>``, ``n_layers``, ``n:<group>``, ``const``,
        ``weights_m`` and ``activations_m`` (millions, from the entries' ``weights`` and
        ``activations``) and ``residual_ms`` (each layer's latency times its entry's
        ``residual_weight``, see :class:`~hwnas.cost.lut_calibration.ResidualRidge`). ``memory_m_over:<C>``
        is derived from them (see :func:`~hwnas.cost.lut_calibration.feature_value`).

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


def table_to_build(target: Target, space, config_source: str | None,
                   loaded: LatencyTable | None = None) -> Path | None:
    """Where ``hwnas profile`` should write a config's table (its ``--out``): beside the config
    (:func:`own_table_path`) when that table exists already, or when ``latency_tables/`` holds the
    table of another configuration of the space (which profile will not overwrite); None for
    ``latency_tables/``, where searches of every config of the space look.

    Args:
        loaded: the table the caller has read already, if any: when it is the one in
            ``latency_tables/``, its meta is compared rather than the file parsed again.
    """
    own = own_table_path(space, config_source)
    if own is None:
        return None
    if own.is_file():
        return own
    local = local_table_path(target, space)
    if loaded is not None and loaded.path is not None and loaded.path.resolve() == local.resolve():
        differs = space_differences(loaded.meta["space"], space)
    else:
        differs = other_configuration(local, space)
    return own if differs else None


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


def unreadable_tables(target: Target, space) -> str:
    """Why the table files of this target and space in other device folders were not picked up
    when they fail to load (a corrupt copy, ``"remote": "true"``): ``"; <the first error>"``, or ``""``."""
    errors = []
    for p in tables_elsewhere(target, space):
        try:
            LatencyTable.load(p)
        except LatencyTableError as exc:
            errors.append(str(exc).splitlines()[0])
    if not errors:
        return ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"; a table there could not be used: {errors[0].rstrip('.')}{more}"


def unmarked_remote_tables(target: Target, space) -> str:
    """For a machine that cannot run ``target``: a table of this target and space in another
    device folder that is not marked ``"remote": true`` (``hwnas profile`` writes false, so a table
    copied from the device as it is): ``"; <path> is there ... set it"``, or ``""``."""
    for p in tables_elsewhere(target, space):
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
