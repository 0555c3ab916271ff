"""The device report of a table build: runtime and version, providers, threads, CPU/GPU, a
per-op-type breakdown of a reference network from ONNX Runtime's profiler, and latency against
batch size."""

from __future__ import annotations

import bisect
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..cost.device import device_info
from ..cost.latency import make_session, measure_latency
from ..cost.target import Target
from .measure import export_model

#: Batch sizes of the device report's latency-vs-batch table.
REPORT_BATCHES = (1, 2, 4, 8, 16)


def describe_device(target: Target, space, timing: Target) -> dict[str, Any]:
    """Runtime, providers, threads, per-op-type profile and latency vs batch of a reference network.

    The reference network is the space's largest architecture.
    """
    import onnxruntime as ort

    arch = space.largest()
    model = space.build(arch)
    onnx_bytes = export_model(model, space.input_shape, target)
    ops = op_breakdown(onnx_bytes, target, space.input_shape)
    # one interleaved measurement, so that the machine's drift does not reach the comparison
    times = measure_latency([export_model(model, space.input_shape, target, batch) for batch in REPORT_BATCHES], timing,
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
