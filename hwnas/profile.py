"""``hwnas profile``: build a latency table for a target and space, check it, describe the device.

One build:

1. every layer signature the space can produce at the task's input size is exported alone;
2. distinct random whole networks are drawn: ``calibration`` of them (plus the smallest and the
   largest architecture) to fit the table's calibration, and ``fidelity`` others, never used for
   fitting, to check it;
3. the layers are timed together in one interleaved measurement (minimum of per-pass medians,
   :func:`~hwnas.cost.latency.measure_latency`), so the speed drift of a shared machine hits
   all of them alike; the calibration and fidelity networks are timed in sessions of a search's
   size (:data:`CHUNK`), each with anchor networks that put every session on the level of the
   layers' session (:func:`measure_in_chunks`);
4. the calibration ``latency = a * sum_ms + sum_g a_g * sum_ms:g + b * n_layers + sum_k d_k *
   max(0, memory_m - C_k) + c`` (extra scales for layer groups such as squeeze-excite blocks, a
   per-layer boundary cost, the cost of memory beyond what stays cached, a constant; see
   :func:`calibration_features` and :func:`fit_calibration`) is fitted on the calibration
   networks (relative least squares), then per-layer corrections of its residuals (ridge
   regression, penalty by cross-validation, shared by similar layers;
   :class:`~hwnas.cost.lut_calibration.ResidualRidge`): what a layer costs inside a network but not alone;
5. the fidelity networks are timed a second time, in a separate measurement with fresh
   sessions: the two measurements of the same networks give the noise ceiling (how well the
   device agrees with itself), reported next to the table's error against each measurement,
   and the table's own error next to one measurement's noise (:func:`error_sources`);
6. a device report: runtime and version, providers, threads, CPU/GPU, a per-op-type breakdown of
   a reference network from ONNX Runtime's profiler, and latency against batch size.

Example:
    >>> table = build_table(load_target("cpu-ort-1t"), space)        # doctest: +SKIP
    >>> print(format_report(table))                                   # doctest: +SKIP
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as _dt
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .cost.device import cores_text, device_info
from .cost.latency import make_session, measure_latency, require_provider
from .cost.lut_calibration import ResidualRidge, calibrated, fit_linear, memory_m, signature_groups
from .cost.lut_table import LatencyTable
from .cost.onnx_export import export_onnx
from .cost.target import Target
from .exceptions import ConfigError
from .space.base import shape_text
from .wording import counted

#: Default timing passes of a table build (at least the target's).
TABLE_PASSES = 40
#: Most memory thresholds a calibration may add, and the shares of each layer's activations the
#: network's memory may count besides its weights (see :func:`fit_calibration`).
MAX_MEMORY_THRESHOLDS = 4
ACTIVATION_SHARES = (0.0, 0.5, 1.0)
#: Networks timed together in one session of a build, and how many of them are anchors, timed
#: in every session to put all sessions on one level.
CHUNK, ANCHORS = 100, 10
#: Batch sizes of the device report's latency-vs-batch table.
REPORT_BATCHES = (1, 2, 4, 8, 16)
#: Overall level difference between two measurements of the same networks beyond which the
#: machine, not the table, changed between them: a slow phase of a shared machine reads 30 % or
#: more, while two steady measurements agree within about 1 %.
LEVEL_SHIFT_PCT = 5.0
#: Fewest fidelity networks the report draws a τ verdict from, and the fewest calibration networks
#: per calibration coefficient before the report warns that the fit is underdetermined.
MIN_TAU_NETWORKS = 10
NETWORKS_PER_COEF = 5


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


def _export(model, shape, target: Target, batch_size: int | None = None) -> bytes:
    return export_onnx(model, tuple(shape), batch_size=batch_size or target.batch_size,
                       opset=target.opset, dtype=target.dtype)


def _export_job(job: tuple) -> bytes:
    space, target, kind, item = job
    if kind == "layer":
        return _export(space.build_layer(item), item.input_shape, target)
    return _export(space.build(space.parse(item)), space.input_shape, target)


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def export_models(space, target: Target, signatures: Sequence[Any], archs: Sequence[str],
                  workers: int = 1) -> list[bytes]:
    """ONNX bytes of every layer signature alone, then of every whole network, in that order.

    Exporting is most of a table build's time and needs no quiet machine (timing comes after),
    so with ``workers > 1`` it runs in that many spawned processes, one torch thread each.
    """
    jobs = [(space, target, "layer", s) for s in signatures] + [(space, target, "net", a) for a in archs]
    if workers <= 1:
        return [_export_job(job) for job in jobs]
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_one_thread) as pool:
        return list(pool.map(_export_job, jobs, chunksize=8))


def agreement(reference: Sequence[float], other: Sequence[float]) -> dict[str, float]:
    """Mean absolute % error, share within ±5/±10 %, max error and Kendall τ of ``other`` vs ``reference``."""
    from scipy.stats import kendalltau

    ref, oth = np.asarray(reference, float), np.asarray(other, float)
    err = 100.0 * np.abs(oth - ref) / ref
    tau = kendalltau(ref, oth).statistic if len(ref) > 1 else float("nan")
    return {"n": int(len(ref)), "mean_abs_pct": float(err.mean()), "median_abs_pct": float(np.median(err)),
            "p95_abs_pct": float(np.percentile(err, 95)), "max_abs_pct": float(err.max()),
            "within_5_pct": float(np.mean(err <= 5.0)), "within_10_pct": float(np.mean(err <= 10.0)),
            "kendall_tau": float(tau), "mean_signed_pct": float(np.mean(100.0 * (oth - ref) / ref))}


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


def measure_in_chunks(models: Sequence[bytes], anchors: Sequence[int], anchor_times: Sequence[Any], timing: Target,
                      input_shape: Sequence[int], log: Callable[[str], None] | None = None
                      ) -> tuple[list[Any], list[float]]:
    """Time networks in sessions of :data:`CHUNK`, each with the anchors, on the anchors' level.

    Inside a session of a thousand models, wide networks read about 1 % faster, relative to
    the rest, than in a session of a hundred, as a search times them; so the networks a
    calibration is fitted on are timed in sessions of a search's size. Each session also times
    the ``anchors`` (indices into ``models``), and its times are divided by the median ratio of
    its anchor times to ``anchor_times`` (their measurements in the layers' session), so drift
    between sessions does not reach the calibration.

    Returns:
        One :class:`~hwnas.cost.latency.LatencyMeasurement` per model (anchors: ``anchor_times``),
        and each session's level (the factor it was divided by).
    """
    reference = np.array([m.latency_ms for m in anchor_times])
    out: list[Any] = [None] * len(models)
    for i, m in zip(anchors, anchor_times):
        out[i] = m
    rest = sorted(set(range(len(models))) - set(anchors))
    levels = []
    for start in range(0, len(rest), CHUNK):
        chunk = rest[start:start + CHUNK]
        times = measure_latency([models[i] for i in anchors] + [models[i] for i in chunk], timing, input_shape)
        level = float(np.median(np.array([m.latency_ms for m in times[:len(anchors)]]) / reference)) if anchors else 1.0
        levels.append(level)
        for i, m in zip(chunk, times[len(anchors):]):
            out[i] = dataclasses.replace(m, latency_ms=m.latency_ms / level,
                                         pass_medians_ms=tuple(v / level for v in m.pass_medians_ms))
        if log is not None:
            log(f"profile: networks {start + len(chunk)}/{len(rest)} timed")
    return out, levels


def layer_memory(layer, input_shape: Sequence[int]) -> dict[str, int]:
    """What a layer keeps in memory while it runs: its ``weights`` (parameters) and its
    ``activations`` (its input plus the largest tensor one of its modules writes), as counts of
    numbers for a batch of one."""
    import torch

    largest = [0]

    def note(module, inputs, output):
        if isinstance(output, torch.Tensor):
            largest[0] = max(largest[0], output.numel())

    hooks = [m.register_forward_hook(note) for m in layer.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            layer.eval()(torch.zeros(1, *input_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return {"weights": sum(p.numel() for p in layer.parameters()),
            "activations": int(np.prod(input_shape)) + largest[0]}


@dataclasses.dataclass(frozen=True)
class _Fit:
    """One candidate calibration: linear features and coefficients, the activation share of its
    memory terms, per-layer residual weights with their ridge penalty, and its cross-validated
    error (``cv_scores``: mean squared relative error per penalty; ``cv_pct``: the best, as an
    RMSE in %)."""

    names: list[str]
    coef: list[float]
    activation_share: float
    residual_weights: np.ndarray
    penalty: float
    cv_scores: dict[float, float]
    cv_pct: float


def fit_calibration(table: LatencyTable, space, archs: Sequence[str], feats: Sequence[dict[str, float]],
                    measured_ms: Sequence[float], seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit the calibration on the calibration networks and store per-layer residual weights in the entries.

    The linear part uses :func:`calibration_features`, plus, when they help, the memory beyond
    up to :data:`MAX_MEMORY_THRESHOLDS` thresholds (``memory_m_over:<C>``, see
    :func:`~hwnas.cost.lut_calibration.feature_value`), added one at a time from the 5 %-quantiles of the
    networks' memory while the cross-validated error of the whole fit (linear part and per-layer
    residual weights) falls by at least 1 %. The memory counts the weights and a share of the
    activations (:data:`ACTIVATION_SHARES`); the share with the lowest cross-validated error is
    kept. Xeon VM, 1000 calibration networks, table's own error on 300 other networks (two
    data sets): 0.77 / 0.90 % with two thresholds on weights alone, 0.67 / 0.78 % with up to
    four, 0.65 / 0.73 % with up to four and half of the activations, 0.59 / 0.68 % with the
    per-layer corrections shared by layer groups (:func:`~hwnas.cost.lut_calibration.signature_groups`).

    Returns:
        The calibration (``model``, ``features``, ``coef``, ending in ``residual_ms`` with
        coefficient 1, and ``activation_share``) and a description of the residual fit and the
        threshold choice.
    """
    signatures = {s.key: s for s in space.all_layer_signatures()}
    keys = sorted(table.entries)
    column = {k: i for i, k in enumerate(keys)}
    layer_ms = np.zeros((len(archs), len(keys)))
    for row, arch in enumerate(archs):
        for sig in space.layer_signatures(space.parse(arch)):
            layer_ms[row, column[sig.key]] += table.entries[sig.key]["latency_ms"]
    y = np.asarray(measured_ms, float)
    base = calibration_features(feats)
    groups, membership = signature_groups([signatures[k] for k in keys])
    ridge = ResidualRidge(layer_ms, y, membership, seed=seed)

    def attempt(share: float, extra: list[str]) -> _Fit:
        names = base[:-1] + extra + base[-1:]  # const last
        coef = fit_linear(feats, names, y, share)
        fitted = {"model": "linear", "features": names, "coef": coef, "activation_share": share}
        linear = np.array([calibrated(fitted, f) for f in feats])
        weights, lam, scores = ridge.fit(y - linear)
        return _Fit(names, coef, share, weights, lam, scores, 100 * min(scores.values()) ** 0.5)

    def thresholds_for(share: float) -> tuple[_Fit, list[str], dict[str, float]]:
        memory = np.array([memory_m(f, share) for f in feats])
        grid = sorted({float(f"{c:.3g}") for c in np.percentile(memory, range(5, 100, 5))} if memory.max() > 0
                      else set())
        chosen, best = [], attempt(share, [])
        tried = {"none": round(best.cv_pct, 3)}
        for _ in range(MAX_MEMORY_THRESHOLDS):
            options = {c: attempt(share, chosen + [f"memory_m_over:{c:g}"]) for c in grid
                       if f"memory_m_over:{c:g}" not in chosen}
            tried.update({" + ".join(chosen + [f"memory_m_over:{c:g}"]): round(fit.cv_pct, 3)
                          for c, fit in options.items()})
            if not options:
                break
            c = min(options, key=lambda c: options[c].cv_pct)
            if options[c].cv_pct > best.cv_pct * 0.99:  # under 1 % better: not worth a feature
                break
            chosen, best = chosen + [f"memory_m_over:{c:g}"], options[c]
        return best, chosen, tried

    shares = ACTIVATION_SHARES if any(f.get("activations_m", 0.0) > 0 for f in feats) else (0.0,)
    by_share = {share: thresholds_for(share) for share in shares}
    best, chosen, tried = min(by_share.values(), key=lambda found: found[0].cv_pct)
    for key, w in zip(keys, best.residual_weights):
        table.entries[key]["residual_weight"] = round(float(w), 6)
    residual = {"model": "ridge per layer and layer group", "groups": len(groups), "lambda": best.penalty,
                "cv_rmse_pct": {f"{k:g}": round(100 * v ** 0.5, 3) for k, v in best.cv_scores.items()},
                "memory_thresholds": {"activation_share": best.activation_share, "chosen": chosen,
                                      "cv_rmse_pct": tried,
                                      "cv_rmse_pct_by_share": {f"{s:g}": round(found[0].cv_pct, 3)
                                                               for s, found in by_share.items()}}}
    return {"model": "linear", "features": best.names + ["residual_ms"], "coef": best.coef + [1.0],
            "activation_share": best.activation_share}, residual


def calibration_features(features: Sequence[dict[str, float]]) -> list[str]:
    """Feature names of the linear calibration, chosen from the calibration networks.

    ``sum_ms``, ``n_layers`` and ``const``, plus ``sum_ms:<group>`` for each layer group whose
    count varies between networks, except the most frequent one (it is ``sum_ms`` minus the
    others). Groups present once in every network (stem, head) get no own scale: their sums
    take only one value per width and would be confounded with ``const``.
    """
    counts: dict[str, set[float]] = {}
    totals: dict[str, float] = {}
    for f in features:
        for name in {k for feats in features for k in feats if k.startswith("n:")}:
            counts.setdefault(name[2:], set()).add(f.get(name, 0.0))
            totals[name[2:]] = totals.get(name[2:], 0.0) + f.get(name, 0.0)
    varying = sorted((g for g, values in counts.items() if len(values) > 1), key=lambda g: (-totals[g], g))
    return ["sum_ms"] + [f"sum_ms:{g}" for g in sorted(varying[1:])] + ["n_layers", "const"]


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


def describe_device(target: Target, space, timing: Target) -> dict[str, Any]:
    """Runtime, providers, threads, per-op-type profile and latency vs batch of a reference network.

    The reference network is the space's largest architecture.
    """
    import onnxruntime as ort

    arch = space.largest()
    model = space.build(arch)
    onnx_bytes = _export(model, space.input_shape, target)
    ops = op_breakdown(onnx_bytes, target, space.input_shape)
    # one interleaved measurement, so that the machine's drift does not reach the comparison
    times = measure_latency([_export(model, space.input_shape, target, batch) for batch in REPORT_BATCHES], timing,
                            space.input_shape, batch_sizes=REPORT_BATCHES)
    batches = [{"batch_size": batch, "latency_ms": round(m.latency_ms, 5),
                "per_sample_ms": round(m.latency_ms / batch, 5), "spread_pct": round(m.spread_pct, 1)}
               for batch, m in zip(REPORT_BATCHES, times)]
    return {"runtime": target.runtime, "runtime_version": ort.__version__,
            "providers_available": ort.get_available_providers(), "execution_provider": target.execution_provider,
            "intra_op_threads": target.intra_op_threads, "inter_op_threads": target.inter_op_threads,
            "device": device_info(target), "reference_network": space.canonical(arch),
            "op_breakdown": ops, "latency_vs_batch": batches}


def op_breakdown(onnx_bytes: bytes, target: Target, input_shape: Sequence[int], runs: int = 200,
                 warmup_runs: int = 20) -> list[dict[str, Any]]:
    """Time per op type (after graph optimisation) from ONNX Runtime's profiler, per run.

    One profiled session runs ``warmup_runs`` untimed, then ``runs`` times; the warm-up runs'
    events are dropped. A run disturbed by the machine (another process taking the core for
    milliseconds) would otherwise add its whole delay to whichever op it hit, so only the runs
    whose kernel total is at most the median are averaged, as the latency itself is a median.

    Returns:
        Rows ``{"op": ..., "nodes": ..., "ms_per_run": ..., "share_pct": ...}``, largest first.
    """
    with tempfile.TemporaryDirectory() as tmp:
        session = make_session(onnx_bytes, target, profile_prefix=str(Path(tmp) / "ort"))
        feed = {session.get_inputs()[0].name:
                np.random.default_rng(0).standard_normal((target.batch_size, *input_shape)).astype(target.dtype)}
        for _ in range(warmup_runs + runs):
            session.run(None, feed)
        events = json.loads(Path(session.end_profiling()).read_text())
    starts = sorted(float(ev["ts"]) for ev in events
                    if ev.get("cat") == "Session" and ev.get("name") == "model_run")[warmup_runs:]
    per_run: list[dict[str, float]] = [{} for _ in starts]
    nodes: dict[str, set[str]] = {}
    for ev in events:
        if ev.get("cat") != "Node" or not ev.get("name", "").endswith("_kernel_time"):
            continue
        run = bisect.bisect_right(starts, float(ev.get("ts", 0))) - 1
        if run < 0:  # a warm-up run's
            continue
        op = ev.get("args", {}).get("op_name", "?")
        per_run[run][op] = per_run[run].get(op, 0.0) + float(ev.get("dur", 0))
        nodes.setdefault(op, set()).add(ev["name"])
    totals = [sum(r.values()) for r in per_run]
    quiet = [r for r, total in zip(per_run, totals) if total <= statistics.median(totals)] if totals else []
    total_us = {op: sum(r.get(op, 0.0) for r in quiet) for op in nodes}
    whole = sum(total_us.values()) or 1.0
    return [{"op": op, "nodes": len(nodes[op]), "ms_per_run": round(us / max(len(quiet), 1) / 1e3, 5),
             "share_pct": round(100.0 * us / whole, 1)}
            for op, us in sorted(total_us.items(), key=lambda kv: -kv[1])]


def error_sources(predicted: Sequence[float], first: Sequence[float], second: Sequence[float]) -> dict[str, float]:
    """Split the table's disagreement with measurement into its own error and measurement noise.

    With ``first = true * e1`` and ``second = true * e2`` (independent noise of equal size) and
    ``predicted = true * ep``: var(log first - log second) = 2 s_m^2 and
    var(log predicted - log measured) = s_p^2 + s_m^2, so the table's own error s_p (relative, in
    %) can be set next to one measurement's noise s_m. Kendall τ against a noise ceiling on 100
    networks wobbles by about ±0.003 between samples; these two figures say directly whether the
    table is closer to the true latency than one measurement is (s_p < s_m).

    Returns:
        ``measurement_noise_pct`` (s_m) and ``table_error_pct`` (s_p; 0 when the table's
        disagreement is all measurement noise). Offsets common to all networks are ignored
        there and reported as ``level_shift_pct``: how much slower (+) the second measurement
        reads than the first overall (median ratio, in %); beyond :data:`LEVEL_SHIFT_PCT` the
        machine changed speed between them and the figures describe the machine, not the table.
    """
    p, a, b = (np.log(np.asarray(v, float)) for v in (predicted, first, second))
    noise = float(np.var(a - b)) / 2
    table = (float(np.var(p - a)) + float(np.var(p - b))) / 2 - noise
    return {"measurement_noise_pct": 100 * noise ** 0.5, "table_error_pct": 100 * max(table, 0.0) ** 0.5,
            "level_shift_pct": 100 * float(np.expm1(np.median(b - a)))}


def tau_gap(groups: Sequence[tuple[Sequence[float], Sequence[float], Sequence[float]]], *,
            resamples: int = 1000, seed: int = 0) -> dict[str, float]:
    """How far the table's Kendall τ is from the noise ceiling, with a bootstrap interval.

    For each group of networks (one fidelity check: ``predicted``, ``first``, ``second``), the
    gap is the table's mean τ against the two measurements minus the τ between them; over
    several groups it is the mean of their gaps. τ on 100 networks wobbles by about ±0.003, so
    the interval (networks resampled within each group, the three τ of a resample computed on
    the same networks) says whether a gap is the table's or the sample's.

    Returns:
        ``gap`` and its 95 % interval ``low`` .. ``high``.
    """
    from scipy.stats import kendalltau

    def tau(x: np.ndarray, y: np.ndarray) -> float:  # nan, without scipy's warning, for a constant resample
        return float(kendalltau(x, y).statistic) if min(len(set(x)), len(set(y))) > 1 else float("nan")

    def gap(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        return (tau(p, a) + tau(p, b)) / 2 - tau(a, b)

    data = [tuple(np.asarray(v, float) for v in group) for group in groups]
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(resamples):
        picks = [rng.integers(0, len(p), len(p)) for p, _, _ in data]
        samples.append(np.mean([gap(p[i], a[i], b[i]) for (p, a, b), i in zip(data, picks)]))
    low, high = np.nanpercentile(samples, [2.5, 97.5]) if not np.all(np.isnan(samples)) else (np.nan, np.nan)
    return {"gap": float(np.mean([gap(*group) for group in data])), "low": float(low), "high": float(high)}


def tau_gap_line(result: Mapping[str, float], networks: int | None = None) -> str:
    """One line saying where the table's τ stands against the noise ceiling.

    With fewer than :data:`MIN_TAU_NETWORKS` networks, or τ undefined (nan), it says so instead
    of a verdict.
    """
    values = [result.get(k, float("nan")) for k in ("gap", "low", "high")]
    if (networks is not None and networks < MIN_TAU_NETWORKS) or not all(np.isfinite(values)):
        return (f"table τ minus noise ceiling: too few networks ({networks if networks is not None else '?'}) for "
                f"a verdict; check it with --fidelity {MIN_TAU_NETWORKS} or more")
    if result["low"] > 0:
        verdict = "above the ceiling"
    elif result["high"] < 0:
        verdict = "below the ceiling"
    else:
        verdict = "not distinguishable from the ceiling on these networks"
    return (f"table τ minus noise ceiling {result['gap']:+.4f} (95 % bootstrap interval {result['low']:+.4f} .. "
            f"{result['high']:+.4f}): {verdict}")


def level_shift_warning(sources: dict[str, float]) -> str | None:
    """A line telling the user to measure again when the two measurements differ in level."""
    level = sources.get("level_shift_pct", 0.0)
    if abs(level) <= LEVEL_SHIFT_PCT:
        return None
    return (f"measurement 2 reads {level:+.0f} % against measurement 1 overall: the machine changed speed "
            f"between them (a slow phase), so these figures measure the machine, not the table; "
            f"run it again on a quiet machine")


def calibration_size_warning(calibration: Mapping[str, Any]) -> str | None:
    """A line when the calibration was fitted on fewer than :data:`NETWORKS_PER_COEF` networks per coefficient."""
    coefficients, networks = len(calibration.get("coef", [])), len(calibration.get("networks", []))
    if not coefficients or networks >= NETWORKS_PER_COEF * coefficients:
        return None
    return (f"too few calibration networks: {counted(coefficients, 'coefficient')} fitted on "
            f"{counted(networks, 'network')} (fewer than {NETWORKS_PER_COEF} per coefficient), so the predictions are "
            f"unreliable; build with --calibration {NETWORKS_PER_COEF * coefficients} or more")


def format_report(table: LatencyTable) -> str:
    """The human-readable fidelity and device report of a table."""
    m, lines = table.meta, []
    lines.append(f"latency table: {len(table.entries)} layers of {m['space']['name']} at input "
                 f"{shape_text(m['space']['input_shape'])} on {m['target']} "
                 f"(onnxruntime {m['runtime_version']}, {m['execution_provider']}, {m['intra_op_threads']} thread(s), "
                 f"batch {m['batch_size']}, {m['dtype']}), built {m['date']} in {m.get('build_s', 0):.0f} s")
    spreads = [e.get("spread_pct", 0.0) for e in table.entries.values()]
    lines.append(f"  entries: {min(e['latency_ms'] for e in table.entries.values()):.4f}-"
                 f"{max(e['latency_ms'] for e in table.entries.values()):.4f} ms, spread median "
                 f"{statistics.median(spreads):.1f} %")
    cal = table.calibration
    if cal.get("model") == "linear":
        terms = " ".join(f"{c:+.5g}*{n}" if n != "const" else f"{c:+.5g}" for n, c in zip(cal["features"], cal["coef"]))
        fit = f"  (fit: mean |err| {cal['fit']['mean_abs_pct']:.1f} %)" if "fit" in cal else ""
        lines.append(f"  calibration on {counted(cal.get('networks', []), 'network')}: latency_ms = {terms}{fit}")
        warning = calibration_size_warning(cal)
        if warning:
            lines.append(f"    {warning}")
        if any(n.startswith("memory_m_over:") for n in cal["features"]):
            lines.append(f"    memory_m = millions of weights + {cal.get('activation_share', 0.0):g} x millions of "
                         f"activations")
    f = table.fidelity
    if f:
        lines.append(f"  fidelity over {counted(f['networks'], 'other random network')} (|error| vs measured):")
        lines.append(f"    {'':32s} {'mean|err|':>9s} {'<=10%':>6s} {'<=5%':>6s} {'max':>6s} {'tau':>6s}")
        for label, key in (("table vs measurement 1", "table_vs_first"), ("table vs measurement 2", "table_vs_second"),
                           ("raw sum vs measurement 1", "raw_sum_vs_first"),
                           ("noise ceiling: meas. 2 vs 1", "noise_ceiling_second_vs_first")):
            r = f[key]
            lines.append(f"    {label:32s} {r['mean_abs_pct']:8.1f}% {100 * r['within_10_pct']:5.0f}% "
                         f"{100 * r['within_5_pct']:5.0f}% {r['max_abs_pct']:5.1f}% {r['kendall_tau']:6.3f}")
        if "error_sources" in f:  # tables built before it was reported lack it
            e = f["error_sources"]
            lines.append(f"    table's own error {e['table_error_pct']:.2f} % vs one measurement's noise "
                         f"{e['measurement_noise_pct']:.2f} % (relative standard deviations)")
            warning = level_shift_warning(e)
            if warning:
                lines.append(f"    WARNING: {warning}")
        if "tau_gap" in f:
            lines.append(f"    {tau_gap_line(f['tau_gap'], f.get('networks'))}")
    d = table.device_report
    if d:
        lines.append(f"device: {d['device']['cpu']} ({cores_text(d['device'])}), GPU: {d['device']['gpu'] or '-'}; "
                     f"{d['runtime']} {d['runtime_version']}, providers available: {', '.join(d['providers_available'])}; "
                     f"timed on {d['execution_provider']} with {d['intra_op_threads']} intra-op / "
                     f"{d['inter_op_threads']} inter-op thread(s)")
        lines.append(f"  per-op-type time of the reference network {d['reference_network']} (ORT profiler; profiled "
                     f"runs: times include profiler overhead, so they add up to more than its latency; read the "
                     f"shares):")
        shown, rest = d["op_breakdown"][:8], d["op_breakdown"][8:]
        for row in shown:
            lines.append(f"    {row['op']:24s} {counted(row['nodes'], 'node'):>9s} {row['ms_per_run']:.4f} ms  "
                         f"{row['share_pct']:5.1f} %")
        if rest:  # so that the printed shares still add up to 100 %
            lines.append(f"    {counted(rest, 'other op type'):24s} {counted(sum(r['nodes'] for r in rest), 'node'):>9s} "
                         f"{sum(r['ms_per_run'] for r in rest):.4f} ms  {sum(r['share_pct'] for r in rest):5.1f} %")
        lines.append("  latency vs batch size of the reference network:")
        for row in d["latency_vs_batch"]:
            lines.append(f"    batch {row['batch_size']:3d}: {row['latency_ms']:.4f} ms  ({row['per_sample_ms']:.4f} ms/sample, "
                         f"spread {row['spread_pct']:.0f} %)")
    return "\n".join(lines)
