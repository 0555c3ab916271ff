"""Fidelity of a latency table against end-to-end measurement, next to the noise ceiling.

Loads a shipped table (default: the cpu-ort-1t / mbv3 table for examples/digits.toml), draws
``--networks`` random architectures that are *not* among the table's calibration networks, and
measures each whole network twice with ONNX Runtime (two independent interleaved measurements,
fresh sessions, the target's timing settings, i.e. exactly what ``--latency measure`` does in a
search). Prints, for the table against each measurement and for measurement 2 against
measurement 1 (the noise ceiling): mean |error| %, share within ±10 % and ±5 %, max |error|,
Kendall τ, and the table's own error next to one measurement's noise (relative standard
deviations, :func:`hwnas.profile.error_sources`), and the table's τ minus the ceiling with a
95 % bootstrap interval (:func:`hwnas.profile.tau_gap`). With several ``--seeds`` each seed is one
such check on its own networks, and a last block gives the means over the seeds. With
``--build`` it first runs ``hwnas profile`` into a temporary file and prints its wall time (the
≤ 5 minute target) and its own report.

The table's level (this machine's speed against the table's, see ``[cost.lut] level``): by
default (``--level run``) the table's reference networks, the ones a search times for its level
check, are timed inside each measurement, interleaved with the random networks, and that
measurement is judged at the level they read there, settled by the search's rule (1 within
±2 %, else to the hundredth). This machine's speed drifts by up to ~10 % in phases lasting
seconds to a minute, so a level timed once, before, as a search does (``--level auto``), judges
a later measurement in another phase by the machine, not the table: compare latencies only as
ratios within one run. A number fixes the level (1: the table's own latencies).

Usage:
    python benchmarks/lut_fidelity.py [--table PATH] [--config examples/digits.toml] [--networks 100] [--seeds 1,2,3]
        [--build] [--rows rows.csv] [--level run|auto|NUMBER]

``--rows`` writes every network's prediction and both measurements (seed, arch, predicted_ms at
level 1, first_level, first_ms, second_level, second_ms; the measurements as timed) for a closer
look, e.g. which networks the table misses.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _script import seed_list

ROOT = Path(__file__).resolve().parents[1]

LABELS = ("table vs measurement 1", "table vs measurement 2", "noise ceiling: meas. 2 vs meas. 1")


def _print_block(checks: list[dict]) -> None:
    """Agreement rows and error sources, averaged over ``checks`` (one per seed)."""
    print(f"{'':34s} {'mean|err|':>9s} {'<=10%':>6s} {'<=5%':>6s} {'max':>6s} {'tau':>6s}")
    for i, label in enumerate(LABELS):
        r = {k: float(np.mean([c["rows"][i][k] for c in checks])) for k in checks[0]["rows"][i]}
        print(f"{label:34s} {r['mean_abs_pct']:8.2f}% {100 * r['within_10_pct']:5.0f}% {100 * r['within_5_pct']:5.0f}% "
              f"{r['max_abs_pct']:5.1f}% {r['kendall_tau']:6.3f}")
    from hwnas.profile import tau_gap, tau_gap_line

    wins = sum(c["rows"][k]["kendall_tau"] >= c["rows"][2]["kendall_tau"] for c in checks for k in (0, 1))
    print(f"table's own error {np.mean([c['sources']['table_error_pct'] for c in checks]):.2f} % vs one measurement's "
          f"noise {np.mean([c['sources']['measurement_noise_pct'] for c in checks]):.2f} % (relative s.d.); "
          f"table τ >= noise ceiling in {wins} of {2 * len(checks)} pairings")
    print(tau_gap_line(tau_gap([c["networks"] for c in checks])))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", help="table file (default: this device's, latency_tables/<target>/<device>/<space>-<CxHxW>.json)")
    ap.add_argument("--config", default=str(ROOT / "examples" / "digits.toml"),
                    help="run config giving target, space and task (default examples/digits.toml)")
    ap.add_argument("--networks", type=int, default=100, help="random networks per seed, >= 2 (default 100)")
    ap.add_argument("--seeds", type=seed_list(1, "seed 0 draws the table's own calibration networks"),
                    default=[1],
                    help="comma-separated sampling seeds >= 1, one check each (default 1)")
    ap.add_argument("--build", action="store_true", help="build the table first with `hwnas profile` (timed)")
    ap.add_argument("--rows", help="CSV file for every network's prediction and measurements")
    ap.add_argument("--level", default="run",
                    help="factor on the table's predictions: run (default) reads it in each measurement from the "
                         "table's reference networks timed among the others; auto measures it once before, as a "
                         "LUT search does; or a number (1: the table's own); run and auto keep 1 within ±2 %%")
    args = ap.parse_args()
    if args.rows and not Path(args.rows).absolute().parent.is_dir():  # not after minutes of timing
        ap.error(f"--rows {args.rows}: its folder does not exist; create it or name a file in an existing one")
    if args.level not in ("run", "auto"):
        try:
            args.level = float(args.level)
        except ValueError:
            ap.error(f"--level {args.level!r}: give run, auto or a number > 0, e.g. 1")
        if not args.level > 0:
            ap.error(f"--level {args.level:g}: give run, auto or a number > 0, e.g. 1")
    if args.networks < 2:
        ap.error("--networks must be >= 2 (Kendall's tau ranks pairs)")

    from hwnas.components import build_space
    from hwnas.config import load_config
    from hwnas.cost import export_onnx, load_target, measure_latency
    from hwnas.cost.lut_paths import find_table
    from hwnas.cost.lut_table import LatencyTable
    from hwnas.data import load_task
    from hwnas.profile import LEVEL_SHIFT_PCT, agreement, error_sources, level_shift_warning, sample_distinct

    config = load_config(args.config)
    target = load_target(config.cost["target"])
    space = build_space(config, load_task(config.task, source=config.source))
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    path = find_table(target, space, args.table)
    if args.build:
        path = Path(tempfile.mkdtemp()) / path.name
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "hwnas.cli", "profile", "--target", config.cost["target"],
                        "--space", space.name, "--task", args.config, "--out", str(path)], check=True)
        print(f"hwnas profile wall time: {time.perf_counter() - start:.0f} s (target <= 300 s)")
    table = LatencyTable.load(path)
    if args.build:  # read: the built table's temporary folder goes
        shutil.rmtree(path.parent, ignore_errors=True)
    table.check(target, space)
    from hwnas.cost import COST_MODELS
    from hwnas.cost.lut import LEVEL_TOLERANCE, settled_level

    # the table read above: with --build its temporary file is gone
    lut = COST_MODELS.get("lut")(target, space.input_shape, space=space, path=str(path), table=table)
    level = args.level
    references = lut.reference_networks() if level == "run" else []
    if level == "run" and not references:
        ap.error(f"{path} is a remote table or has no calibration networks: give --level auto or a number")
    if level == "auto":  # as a search with [cost.lut] level = "auto" sets it
        note = lut.settle_level()
        level = lut.level
        print(f"table level on this machine: predictions below x {level:g}, as a search applies it"
              + (f" ({note})" if note
                 else f" (its reference networks within {100 * LEVEL_TOLERANCE:g} % of the table)"))
    exclude = set(table.calibration.get("networks", []))
    own_references = np.array([table.predict(space.layer_signatures(space.parse(a))) for a in references])
    checks: list[dict] = []  # per seed: agreement rows (LABELS order), error sources (level shift included)
    rows: list[dict] = []
    for seed in args.seeds:
        archs = sample_distinct(space, args.networks, np.random.default_rng(seed), exclude)
        own = np.array([table.predict(space.layer_signatures(space.parse(a))) for a in archs])
        onnx_models = [export_onnx(space.build(space.parse(a)), space.input_shape, batch_size=target.batch_size,
                                   opset=target.opset, dtype=target.dtype) for a in references + archs]

        def measured() -> tuple[np.ndarray, float]:
            """One interleaved measurement of the networks, and the level it reads (run) or ``level``."""
            ms = np.array([m.latency_ms for m in measure_latency(onnx_models, target, space.input_shape)])
            if level != "run":
                return ms, level
            return ms[len(references):], settled_level(float(np.median(ms[:len(references)] / own_references)))

        (first, level_1), (second, level_2) = measured(), measured()
        # judged as ratios within each run: each measurement on the table's level
        first, second = first / level_1, second / level_2
        predicted = own
        print(f"\ntable {path} ({table.meta['date']}); {len(archs)} random {space.name} networks (seed {seed}, "
              f"none of them calibration networks), {first.min():.3f}-{first.max():.3f} ms on the table's level, "
              f"measured twice on "
              f"{target.name} ({target.passes} passes x {target.runs_per_pass} runs, interleaved)"
              + (f"; levels read among them: {level_1:g} and {level_2:g}, each measurement divided by its own"
                 if level == "run" else ""))
        rows += [{"seed": seed, "arch": a, "predicted_ms": p, "first_level": level_1, "first_ms": x * level_1,
                  "second_level": level_2, "second_ms": y * level_2}
                 for a, p, x, y in zip(archs, predicted, first, second)]
        sources = error_sources(predicted, first, second)
        checks.append({"rows": (agreement(first, predicted), agreement(second, predicted), agreement(first, second)),
                       "sources": sources, "networks": (predicted, first, second)})
        _print_block(checks[-1:])
        if level_1 != 1.0:
            raw = agreement(first * level_1, own)
            print(f"the table's own latencies (level 1) against measurement 1: mean|err| {raw['mean_abs_pct']:.2f} %, "
                  f"{100 * raw['within_10_pct']:.0f} % within ±10 %")
        warning = level_shift_warning(sources)
        if warning:
            print(warning)
    if len(checks) > 1:
        print(f"\nmeans over {len(checks)} seeds ({len(checks) * args.networks} networks)")
        _print_block(checks)
        steady = [c for c in checks if not level_shift_warning(c["sources"])]
        if 1 < len(steady) < len(checks):
            print(f"\nmeans over the {len(steady)} seeds whose two measurements agree in level (within "
                  f"±{LEVEL_SHIFT_PCT:g} %)")
            _print_block(steady)
    if args.rows:
        with open(args.rows, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {len(rows)} rows to {args.rows}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    from _script import run

    run(main)
