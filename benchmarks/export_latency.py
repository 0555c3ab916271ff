"""Check `hwnas export` against the run: time exported front models with plain ONNX Runtime.

Independent of hwnas's own timing code: this script creates its own sessions and loop. For each
chosen front row it exports the model with the `hwnas` CLI, times it single-threaded in
interleaved passes (minimum of per-pass medians), and prints the ratio to front.csv's
latency_ms, raw and divided by the run's median ratio (level-free). Latency on a shared 2-core machine drifts by ~10 %, so read ratios, not absolutes.

Usage:
    python benchmarks/export_latency.py runs/digits [--rows 3] [--passes 15] [--runs 50]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort


def _sessions(run_dir: str, rows: list[dict], tmp: Path) -> list | None:
    """One warmed-up single-threaded session per row, its model exported by `hwnas export`; None if one fails."""
    sessions = []
    for k, row in enumerate(rows):
        path = tmp / f"m{k}.onnx"
        proc = subprocess.run([sys.executable, "-m", "hwnas.cli", "export", run_dir, row["arch"], "-o", str(path)],
                              check=False, capture_output=True, text=True)
        if proc.returncode:
            print(f"export_latency.py: hwnas export {row['arch']} failed: {proc.stderr.strip()}", file=sys.stderr)
            return None
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        i = s.get_inputs()[0]
        feed = {i.name: np.random.default_rng(0).standard_normal(i.shape).astype(np.float32)}
        for _ in range(20):
            s.run(None, feed)
        sessions.append((s, feed))
    return sessions


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", help="a run directory of hwnas search with trained weights")
    ap.add_argument("--rows", type=int, default=3, help="front rows to check (spread over the front)")
    ap.add_argument("--passes", type=int, default=15, help="interleaved timing passes (default 15)")
    ap.add_argument("--runs", type=int, default=50, help="runs per pass")
    args = ap.parse_args()
    if min(args.rows, args.passes, args.runs) < 1:
        ap.error("--rows, --passes and --runs must be >= 1")
    front_csv = Path(args.run_dir) / "front.csv"
    if not front_csv.is_file():
        print(f"export_latency.py: error: {front_csv} not found; pass the --out directory of a finished "
              f"'hwnas search'", file=sys.stderr)
        return 2
    with open(front_csv, newline="") as fh:
        front = list(csv.DictReader(fh))
    if not front:
        print(f"export_latency.py: error: {front_csv} has no rows (no feasible evaluation); nothing to export",
              file=sys.stderr)
        return 2
    picks = sorted({round(i * (len(front) - 1) / max(args.rows - 1, 1)) for i in range(args.rows)})
    rows = [front[i] for i in picks]
    with tempfile.TemporaryDirectory() as tmp:  # the sessions hold the models; the files can go
        sessions = _sessions(args.run_dir, rows, Path(tmp))
    if sessions is None:
        return 2
    medians = [[] for _ in rows]
    for p in range(args.passes):
        order = list(range(len(rows)))
        order = order[p % len(order):] + order[:p % len(order)]
        for k in order:
            s, feed = sessions[k]
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                s.run(None, feed)
                times.append(time.perf_counter() - t)
            medians[k].append(statistics.median(times) * 1e3)
    # "level-free": each model's ratio divided by the median ratio of this run, which cancels a
    # machine-wide slow or fast phase (levels persist for seconds here) and keeps model-specific error.
    # after a table-driven search the front's measured latency is its own column
    column = "latency_ms_measured" if rows[0].get("latency_ms_measured") else "latency_ms"
    print(f"front.csv column: {column}")
    ratios = [min(med) / float(row[column]) for row, med in zip(rows, medians)]
    level = statistics.median(ratios)
    print(f"{'arch':50s} {'front.csv ms':>12s} {'independent ms':>14s} {'ratio':>6s} {'level-free':>10s} {'spread %':>8s}")
    for row, med, ratio in zip(rows, medians, ratios):
        spread = 100 * (max(med) - min(med)) / min(med)
        print(f"{row['arch'][:50]:50s} {float(row[column]):12.4f} {min(med):14.4f} {ratio:6.3f} "
              f"{ratio / level:10.3f} {spread:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
