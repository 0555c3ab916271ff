"""Building a latency table: sampling the networks, exporting and timing the layers and networks,
fitting the calibration, the fidelity check, the device report and the metadata header.

See :mod:`hwnas.profile` for the steps of one build.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from typing import Any, Callable

import numpy as np

from ..cost.device import device_info
from ..cost.latency import measure_latency, require_provider
from ..cost.lut_calibration import calibrated
from ..cost.lut_table import LatencyTable
from ..cost.target import Target
from ..exceptions import ConfigError
from ..space.base import shape_text
from ..wording import counted
from .device import describe_device
from .fidelity import agreement, error_sources, tau_gap
from .fit import fit_calibration
from .measure import ANCHORS, CHUNK, export_models, layer_memory, measure_in_chunks

#: Default timing passes of a table build (at least the target's).
TABLE_PASSES = 40


def _log(message: str) -> None:
    print(message, flush=True)


def sample_distinct(space, count: int, rng: np.random.Generator, exclude: set[str]) -> list[str]:
    """``count`` distinct canonical architectures not in ``exclude`` (which is updated).

    Raises:
        ConfigError: the space has too few distinct architectures (bounded sampling).
    """
    found: list[str] = []
    for _ in range(200 * count + 100):
        if len(found) == count:
            return found
        arch = space.canonical(space.sample(rng))
        if arch not in exclude:
            exclude.add(arch)
            found.append(arch)
    if len(found) < count:
        raise ConfigError(f"space {space.name} gave only {counted(found, 'new distinct architecture')} "
                          f"in {200 * count + 100} draws; ask for fewer networks (--calibration/--fidelity)")
    return found


def build_table(target: Target, space, *, calibration: int = 1000, fidelity: int = 100, seed: int = 0,
                passes: int | None = None, runs_per_pass: int | None = None,
                device_report: bool = True, export_workers: int = 1,
                log: Callable[[str], None] = _log) -> LatencyTable:
    """Measure a latency table for ``space`` on ``target`` and check it on whole networks.

    Args:
        target: where to measure (its provider must be available here).
        space: a space that describes its layers (``all_layer_signatures``).
        calibration: random whole networks the calibration is fitted on (plus smallest/largest).
        fidelity: other random whole networks the table is checked on (0: no check).
        seed: seed of the network sampling.
        passes: timing passes (default: the target's, at least :data:`TABLE_PASSES`).
        runs_per_pass: runs per pass (default: the target's).
        device_report: add the device report (profiler breakdown, latency vs batch).
        export_workers: processes exporting the ONNX models before any timing starts.
        log: progress messages.

    Returns:
        The table, with ``meta``, ``entries``, ``calibration``, ``fidelity`` and ``device_report``.

    Raises:
        TargetError: the target's provider is not available here.
        SpaceError: the space cannot describe its layers.
        ConfigError: too few distinct architectures for the requested networks.
    """
    require_provider(target)  # before minutes of exporting, not after
    start = time.perf_counter()
    # A table is built once and read thousands of times: time it with more passes than one
    # search evaluation (the layers are tiny, so this costs seconds, not minutes).
    timing = dataclasses.replace(target, passes=passes or max(target.passes, TABLE_PASSES),
                                 runs_per_pass=runs_per_pass or target.runs_per_pass)
    signatures = space.all_layer_signatures()
    rng = np.random.default_rng(seed)
    fixed = [space.canonical(space.smallest()), space.canonical(space.largest())]
    seen = set(fixed)
    cal_archs = list(dict.fromkeys(fixed)) + sample_distinct(space, calibration, rng, seen)
    fid_archs = sample_distinct(space, fidelity, rng, seen) if fidelity else []
    log(f"profile: {len(signatures)} layers, {len(cal_archs)} calibration + {len(fid_archs)} fidelity "
        f"networks of {space.name} at input {shape_text(space.input_shape)} on {target.name}")

    net_archs = cal_archs + fid_archs
    models = export_models(space, target, signatures, net_archs, export_workers)
    layer_models, net_models = models[:len(signatures)], models[len(signatures):]
    export_s = time.perf_counter() - start
    log(f"profile: exported {len(models)} models in {export_s:.0f} s ({export_workers} process(es)); timing "
        f"({timing.passes} passes x {timing.runs_per_pass} runs, interleaved)")

    n_cal = len(cal_archs)
    anchors = list(range(min(ANCHORS, n_cal)))  # the smallest, the largest, then random networks
    shapes = [s.input_shape for s in signatures] + [space.input_shape] * len(anchors)
    session = measure_latency(layer_models + [net_models[i] for i in anchors], timing, shapes)
    layers = session[:len(signatures)]
    log(f"profile: {len(signatures)} layers timed ({time.perf_counter() - start:.0f} s so far); timing "
        f"{counted(len(net_models) - len(anchors), 'whole network')}")
    nets, levels = measure_in_chunks(net_models, anchors, session[len(signatures):], timing, space.input_shape, log)
    if levels:
        log(f"profile: networks timed in {counted(levels, 'session')} of up to {CHUNK} with "
            f"{counted(anchors, 'anchor')}; "
            f"session levels {min(levels):.3f}-{max(levels):.3f} of the layers' session")
    entries = {s.key: {"latency_ms": round(m.latency_ms, 6), "spread_pct": round(m.spread_pct, 2),
                       **layer_memory(space.build_layer(s), s.input_shape)}
               for s, m in zip(signatures, layers)}
    table = LatencyTable(meta={}, entries=entries)
    measured = [m.latency_ms for m in nets]
    cal_feats = [table.features(space.layer_signatures(space.parse(a))) for a in cal_archs]
    fitted, residual = fit_calibration(table, space, cal_archs, cal_feats, measured[:n_cal], seed)
    # again, now that the entries hold the residual weights (the ``residual_ms`` feature)
    feats = [table.features(space.layer_signatures(space.parse(a))) for a in net_archs]
    table.calibration = {**fitted, "residual": residual, "networks": cal_archs,
                         "fit": agreement(measured[:n_cal], [calibrated(fitted, f) for f in feats[:n_cal]])}
    if fid_archs:
        log(f"profile: calibration fitted; timing the {len(fid_archs)} fidelity networks again (the noise ceiling)")
        # with the anchors, as the first time: the machine's speed drifts by phases, and a second
        # measurement in another phase would judge the machine, not the table
        again, _ = measure_in_chunks([net_models[i] for i in anchors] + net_models[n_cal:], list(range(len(anchors))),
                                     session[len(signatures):], timing, space.input_shape)
        second = again[len(anchors):]
        first_ms, second_ms = measured[n_cal:], [m.latency_ms for m in second]
        predicted = [calibrated(table.calibration, f) for f in feats[n_cal:]]
        raw = [f["sum_ms"] for f in feats[n_cal:]]
        table.fidelity = {
            "networks": len(fid_archs), "seed": seed,
            "table_vs_first": agreement(first_ms, predicted),
            "table_vs_second": agreement(second_ms, predicted),
            "raw_sum_vs_first": agreement(first_ms, raw),
            "noise_ceiling_second_vs_first": agreement(first_ms, second_ms),
            "error_sources": error_sources(predicted, first_ms, second_ms),
            "tau_gap": tau_gap([(predicted, first_ms, second_ms)], seed=seed),
            "measured_spread_pct_median": float(np.median([m.spread_pct for m in nets[n_cal:]])),
            "rows": [{"arch": a, "predicted_ms": round(p, 6), "first_ms": round(x, 6), "second_ms": round(y, 6)}
                     for a, p, x, y in zip(fid_archs, predicted, first_ms, second_ms)],
        }
    if device_report:
        log("profile: device report (operator breakdown, latency against batch size)")
    report = describe_device(target, space, timing) if device_report else {}
    table.device_report = report
    table.meta = table_meta(target, space, timing, time.perf_counter() - start)
    return table


def table_meta(target: Target, space, timing: Target, build_s: float) -> dict[str, Any]:
    """The metadata header of a table built here and now."""
    info = target.describe()
    return {
        "target": target.name, "runtime": target.runtime, "runtime_version": info["runtime_version"],
        **{k: info[k] for k in ("execution_provider", "intra_op_threads", "inter_op_threads", "batch_size",
                                "dtype", "graph_optimization", "opset")},
        "device": device_info(target), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "estimator": {"name": "onnxruntime interleaved timing, minimum of per-pass medians",
                      "warmup_runs": timing.warmup_runs, "passes": timing.passes,
                      "runs_per_pass": timing.runs_per_pass, "clock": "time.perf_counter",
                      "spread": "spread_pct = 100 * (max - min) / min of the per-pass medians"},
        "space": space.describe(), "remote": False, "build_s": round(build_s, 1),
    }
