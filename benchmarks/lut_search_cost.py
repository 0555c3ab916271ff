"""Per-evaluation latency cost of a search: table lookup (``lut``) against timing (``measure``).

For ``--archs`` random architectures of the config's space, times what one search evaluation
spends on ``latency_ms`` with each cost model, alternating the two so machine drift hits both:

- ``lut``: :meth:`LutCostModel.measure` (parse, layer signatures, lookup, calibration);
- ``measure``: :meth:`OrtLatencyCostModel.measure` (ONNX export, session, warm-up, timed passes).

Building the torch module is left out of both (the estimator builds it anyway). Also prints the
one-off costs of a LUT-driven search: the table's level check before it
(:meth:`LutCostModel.reference_level`) and re-measuring a front of ``--front`` networks after it.

Usage:
    python benchmarks/lut_search_cost.py [--config examples/digits.toml] [--archs 20] [--front 9]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "examples" / "digits.toml"),
                    help="run config giving target, space and task (default examples/digits.toml)")
    ap.add_argument("--archs", type=int, default=20, help="random architectures timed both ways (default 20)")
    ap.add_argument("--front", type=int, default=9, help="networks of the front re-measured once (default 9)")
    ap.add_argument("--seed", type=int, default=2, help="sampling seed (default 2)")
    args = ap.parse_args()
    if args.archs < 1 or args.front < 1:
        ap.error("--archs and --front must be >= 1")

    from hwnas.components import build_space
    from hwnas.config import load_config
    from hwnas.cost import COST_MODELS, load_target
    from hwnas.data import load_task

    config = load_config(args.config)
    target = load_target(config.cost["target"])
    space = build_space(config, load_task(config.task, source=config.source))
    lut = COST_MODELS.get("lut")(target, space.input_shape, space=space)
    ort = COST_MODELS.get("ort")(target, space.input_shape)
    rng = np.random.default_rng(args.seed)
    archs = [space.canonical(space.sample(rng)) for _ in range(args.archs)]
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    lut_s, ort_s = [], []
    for arch in archs:
        model = space.build(space.parse(arch))
        start = time.perf_counter()
        lut.measure(arch, None)
        lut_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        ort.measure(arch, model)
        ort_s.append(time.perf_counter() - start)
    front = archs[:args.front]
    start = time.perf_counter()
    lut.verify_front(front)
    verify_s = time.perf_counter() - start
    start = time.perf_counter()
    level = lut.reference_level()
    level_s = time.perf_counter() - start
    lut_ms, ort_ms = 1e3 * statistics.median(lut_s), 1e3 * statistics.median(ort_s)
    print(f"{len(archs)} random {space.name} architectures on {target.name} "
          f"({target.passes} passes x {target.runs_per_pass} runs for measure)")
    print(f"latency cost per evaluation, median: lut {lut_ms:.2f} ms, measure {ort_ms:.0f} ms "
          f"-> measure / lut = {ort_ms / lut_ms:.0f}x (means: {1e3 * statistics.mean(lut_s):.2f} ms, "
          f"{1e3 * statistics.mean(ort_s):.0f} ms)")
    print(f"one-off re-measure of a {len(front)}-network front after a lut search: {verify_s:.1f} s")
    print(f"one-off level check before a lut search (the table's reference networks timed): {level_s:.1f} s, "
          f"level {level if level is not None else float('nan'):.3f}")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    from _script import run

    run(main)
