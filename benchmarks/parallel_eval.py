"""Parallel evaluation: same evaluations as serial, throughput, and failures in a trained search.

1. A table search (NB201, edgegpu latency) with ``--workers 1``, ``--workers 2`` and
   ``--executor ray --workers 2`` (a local Ray cluster started by hwnas): are the
   ``evaluations.csv`` files identical (``duration_s`` aside)?
2. A trained search (``examples/digits.toml``, proxy trainer) with ``--workers 1`` and
   ``--workers 2``: wall time, evaluations per minute and their ratio.
3. A trained search with injected failing candidates (the MLP space on the diabetes regression
   offering a learning rate of 10 with SGD, which diverges on its squared-error loss) and
   ``--eval-timeout``: it finishes, and every failure is recorded with its reason. (On digits,
   a classification, warm-up and cosine decay now keep lr 10 finite: nothing failed there.)

Every search runs as a user would run it: ``hwnas search`` in a separate process.

Usage:
    python benchmarks/parallel_eval.py [--table-evaluations 200] [--trained-evaluations 32] [--skip-ray] [--parts 1,2,3]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT.parent / "shared" / "data" / "nb201" / "nb201_cifar10_hw.csv"

FAILING_MLP = """
[task]
dataset = "diabetes"
val_fraction = 0.25
[space]
name = "mlp"
max_layers = 2
lrs = [0.01, 10.0]
optimizers = ["sgd"]
[estimator]
name = "proxy-trainer"
epochs = 3
[cost]
target = "cpu-ort-1t"
models = ["counts"]
[search]
objectives = ["error", "params"]
evaluations = {evaluations}
population = 8
"""


def search(out: Path, *args: str) -> float:
    """Run ``hwnas search`` and return its wall seconds (raises if it fails)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "hwnas.cli", "search", *args, "--out", str(out), "--no-progress"],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"hwnas search {' '.join(args)} failed:\n{proc.stderr}")
    return time.perf_counter() - start


def rows(out: Path) -> list[dict]:
    with open(out / "evaluations.csv") as fh:
        return list(csv.DictReader(fh))


def without_time(rs: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "duration_s"} for r in rs]


def table_identity(tmp: Path, evaluations: int, ray: bool) -> None:
    args = ["--space", "nb201", "--table", str(TABLE), "--arch-column", "arch_str",
            "--accuracy-column", "test_acc_cifar10", "--cost", "latency_ms=edgegpu_latency",
            "--evaluations", str(evaluations), "--seed", "0"]
    variants = {"--workers 1": [], "--workers 2": ["--workers", "2"]}
    if ray:
        variants["--executor ray --workers 2"] = ["--executor", "ray", "--workers", "2"]
    print(f"\n1. table search, NB201 edgegpu, {evaluations} evaluations")
    reference = None
    for name, extra in variants.items():
        wall = search(tmp / name.replace(" ", "_"), *args, *extra)
        got = without_time(rows(tmp / name.replace(" ", "_")))
        reference = reference if reference is not None else got
        same = got == reference
        print(f"   {name:28s} {len(got):5d} rows  {wall:6.1f} s  identical to --workers 1: {same}")


def trained_throughput(tmp: Path, evaluations: int) -> None:
    print(f"\n2. trained search, examples/digits.toml, {evaluations} evaluations (latency from the table)")
    walls = {}
    for workers in (1, 2):
        out = tmp / f"digits_w{workers}"
        walls[workers] = search(out, "examples/digits.toml", "--evaluations", str(evaluations),
                                "--workers", str(workers))
        rs = rows(out)
        print(f"   --workers {workers}: {walls[workers]:6.1f} s wall, {60 * len(rs) / walls[workers]:5.1f} "
              f"evaluations/min, {sum(r['status'] == 'failed' for r in rs)} failed, "
              f"best accuracy {max(float(r['accuracy_pct']) for r in rs if r['status'] == 'ok'):.2f} %")
    print(f"   throughput ratio --workers 2 / --workers 1: {walls[1] / walls[2]:.2f}x "
          f"(wall includes start-up, outputs and the front's re-measurement)")


def injected_failures(tmp: Path, evaluations: int) -> None:
    print(f"\n3. trained search with failing candidates (MLP on diabetes, SGD with lr 10 diverges), "
          f"{evaluations} evaluations, --workers 2 --eval-timeout 120")
    config = tmp / "failing_mlp.toml"
    config.write_text(FAILING_MLP.format(evaluations=evaluations))
    out = tmp / "failing"
    wall = search(out, str(config), "--workers", "2", "--eval-timeout", "120")
    rs = rows(out)
    failed = [r for r in rs if r["status"] == "failed"]
    print(f"   finished in {wall:.1f} s: {len(rs)} evaluations, {len(failed)} failed, "
          f"{len(rs) - len(failed)} ok, front rows {len(rows_front(out))}")
    for r in failed[:3]:
        print(f"   failed: {r['arch']}: {r['reason']}")
    lr10 = [r for r in rs if "lr10_" in r["arch"]]
    print(f"   lr 10 candidates: {sum(r['status'] == 'failed' for r in lr10)} of {len(lr10)} diverged and were "
          f"recorded as failed")


def rows_front(out: Path) -> list[dict]:
    with open(out / "front.csv") as fh:
        return list(csv.DictReader(fh))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--table-evaluations", type=int, default=200,
                   help="evaluations of the table search, part 1 (default 200)")
    p.add_argument("--trained-evaluations", type=int, default=32,
                   help="evaluations of each digits search, part 2 (default 32)")
    p.add_argument("--failing-evaluations", type=int, default=24,
                   help="evaluations of the search with failing candidates, part 3 (default 24)")
    p.add_argument("--skip-ray", action="store_true", help="no Ray executor run")
    p.add_argument("--parts", default="1,2,3", help="which parts to run, e.g. 3 or 1,3")
    args = p.parse_args()
    try:
        parts = {int(x) for x in args.parts.split(",") if x.strip()}
    except ValueError:
        parts = set()
    if not parts or not parts <= {1, 2, 3}:
        p.error(f"--parts {args.parts!r}: give some of 1, 2, 3, comma-separated, e.g. 1,3")
    if min(args.table_evaluations, args.trained_evaluations, args.failing_evaluations) < 1:
        p.error("--table-evaluations, --trained-evaluations and --failing-evaluations must be >= 1")
    sys.stdout.reconfigure(line_buffering=True)
    with tempfile.TemporaryDirectory() as tmp:
        if 1 in parts:
            table_identity(Path(tmp), args.table_evaluations, ray=not args.skip_ray)
        if 2 in parts:
            trained_throughput(Path(tmp), args.trained_evaluations)
        if 3 in parts:
            injected_failures(Path(tmp), args.failing_evaluations)


if __name__ == "__main__":
    main()
