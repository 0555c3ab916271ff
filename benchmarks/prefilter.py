"""A zero-cost pre-filter in one small digits search: training time saved, and the front it gives.

Runs examples/digits.toml twice with the same seed and ``--evaluations`` (population
``--population``): once with its ``proxy-trainer``, once with ``[estimator] name =
"zero-cost-filtered"`` (the same trainer options, plus ``proxy``, ``quantile``, ``warmup``).
Latency comes from the shipped latency table (deterministic), so the fronts differ only
through the pre-filter. Prints, per run: candidates trained and skipped, training seconds,
proxy seconds, wall seconds, front size, best error, and the hypervolume of each front with
both normalised on the union of the two fronts (higher is better).

Usage:
    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/prefilter.py [--evaluations 48] [--population 12]
        [--proxy naswot] [--quantile 0.25] [--warmup 12] [--out runs/prefilter]
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

from _script import table_level


ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(ROOT / "examples" / "digits.toml"),
                    help="run config with a proxy-trainer estimator (default examples/digits.toml)")
    ap.add_argument("--evaluations", type=int, default=48, help="evaluations per search (default 48)")
    ap.add_argument("--population", type=int, default=12, help="NSGA-II population (default 12)")
    ap.add_argument("--proxy", default="naswot", help="zero-cost proxy of the pre-filter (default naswot)")
    ap.add_argument("--quantile", type=float, default=0.25,
                    help="bottom fraction of proxy scores not trained (default 0.25)")
    ap.add_argument("--warmup", type=int, default=12, help="candidates always trained first (default 12)")
    ap.add_argument("--out", default="runs/prefilter",
                    help="parent folder of the two runs, replaced on each call (default runs/prefilter)")
    args = ap.parse_args()

    from hwnas.components import build_components
    from hwnas.config import config_from_dict, load_config
    from hwnas.evaluation import FAILED, OVER_BUDGET
    from hwnas.front import hypervolume, non_dominated
    from hwnas.outputs import load_run
    from hwnas.search.objectives import is_feasible, minimisation_matrix, resolve_objectives
    from hwnas.search.runner import run_search

    if not Path(args.config).is_file():
        ap.error(f"--config {args.config!r} not found; pass a TOML file such as examples/digits.toml")
    base = load_config(args.config).to_dict()  # every section, defaults filled in
    for section, values in table_level(args.config).items():  # one level: both runs price a network alike
        base[section] = {**base[section], **values}
    search = base["search"]
    search["evaluations"] = args.evaluations
    # population where the config keeps it: [search] or its strategy's own table ([search.nsga2])
    own = search.get(search.get("strategy", "nsga2"))
    (own if isinstance(own, dict) and "population" not in search else search)["population"] = args.population
    base["cost"]["latency"] = "lut"
    filtered = {**base, "estimator": {**base["estimator"], "name": "zero-cost-filtered", "proxy": args.proxy,
                                      "quantile": args.quantile, "warmup": args.warmup}}
    filtered_label = f"filtered ({args.proxy}, q={args.quantile:g})"
    configs = {"proxy-trainer": config_from_dict(base, source=args.config),
               filtered_label: config_from_dict(filtered, source=args.config)}
    build_components(configs[filtered_label])  # a bad --proxy, --quantile or --warmup: refused before any search
    out = Path(args.out)
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    runs = {}
    for label, config in configs.items():
        run_dir = out / label.split()[0]
        shutil.rmtree(run_dir, ignore_errors=True)
        start = time.perf_counter()
        run_search(config, run_dir, progress=False)
        runs[label] = (load_run(run_dir), time.perf_counter() - start)

    objectives = resolve_objectives(base["search"]["objectives"])
    fronts = {}
    for label, (run, _) in runs.items():
        ok = [e for e in run.evaluations if e.ok and is_feasible(e.metrics, run.config.budgets)]
        fronts[label] = [ok[i].metrics for i in non_dominated([e.metrics for e in ok], objectives)]
    union = minimisation_matrix([m for f in fronts.values() for m in f], objectives)
    ideal, nadir = union.min(axis=0), union.max(axis=0)
    print(f"\n{args.evaluations} evaluations, population {args.population}, seed {base['search']['seed']}, "
          f"{base['estimator'].get('epochs')} epochs per trained candidate\n")
    print("| run | trained | skipped | train s | proxy s | wall s | front | best error % | HV (union-normalised) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, (run, wall) in runs.items():
        evs = run.evaluations
        trained = [e for e in evs if e.ok]
        skipped = [e for e in evs if not e.ok and (e.reason or "").startswith("PreFilterRejection")]
        other = [e for e in evs if e.status == FAILED and e not in skipped]
        over = sum(e.status == OVER_BUDGET for e in evs)
        train_s = sum(e.metrics.get("train_s", 0.0) + e.metrics.get("eval_s", 0.0) for e in trained)
        proxy_s = sum(e.metrics.get("zc_s", 0.0) for e in trained)
        best = min(m["error_pct"] for m in fronts[label])
        hv = hypervolume(fronts[label], objectives, ideal=ideal, nadir=nadir)
        note = "".join(f" ({n} {what})" for n, what in ((len(other), "other failures"),
                                                         (over, "over budget, untrained")) if n)
        print(f"| {label}{note} | {len(trained)} | {len(skipped)} | {train_s:.0f} | {proxy_s:.1f} | {wall:.0f} | "
              f"{len(fronts[label])} | {best:.2f} | {hv:.4f} |")
    for label, front in fronts.items():
        pts = sorted((m["latency_ms"], m["error_pct"]) for m in front)
        print(f"\n{label} front (latency_ms, error_pct): " + ", ".join(f"({a:.3f}, {b:.2f})" for a, b in pts))
    print(f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    from _script import run

    run(main)
