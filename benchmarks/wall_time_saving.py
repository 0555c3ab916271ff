"""Wall-time saving of a cheaper search over plain NSGA-II at equal hypervolume, on a trained search.

Two comparisons (``--compare``), each on the same config and seed(s) (``examples/digits.toml``:
MobileNetV3-style networks on digits, proxy training, latency from the target's latency table):

* ``surrogate``: ``nsga2`` against ``nsga2-surrogate`` (predictor-assisted NSGA-II), the
  config's own estimator for both;
* ``darts``: ``nsga2`` against ``darts`` (gradient search on the space's supernet, which it
  trains before its first evaluation; its wall time counts from the run's start), e.g. with
  ``--config examples/digits_nb201_darts.toml``;
* ``budget-first``: ``nsga2`` under ``--max-latency-ms``, training every candidate
  (``train_over_budget = true``) against the default, where a candidate the latency table (or
  timing) puts over the budget is recorded untrained. Constrained domination ranks such a
  candidate by its violation alone, so both runs should propose the same architectures and
  reach the same front; both use one table level, measured once here;
* ``multi-fidelity``: ``nsga2`` with ``proxy-trainer`` at the last rung's epochs against
  ``nsga2`` with ``successive-halving`` over ``--rungs`` (default 1,3,9; the same trainer
  options). A stopped candidate's error is its short-training error, so the cheaper run's
  hypervolume is scored on what it recorded, pessimistic for it.

It follows the hypervolume of ``error_pct x latency_ms`` evaluation by evaluation. Both runs of
a seed share one normalisation (the ends of the front of their union) and reference point 1.1,
so their hypervolumes are comparable. For each target level (a fraction of the plain run's
final hypervolume) it prints the evaluations and the wall time each search needed to first
reach it, and the ratio of the two wall times (plain / cheaper; above 1 is a saving). Wall time
is measured from the store: the end of evaluation ``k`` (``created_at``) minus the run's start,
so it includes a surrogate's fitting and screening and a supernet's training, not only the
candidates' training.

The two searches of a seed run at the same time, in two processes (``--sequential`` to run one
after the other), so that a shared machine's load slows both alike; wall times on a busy
machine still vary from run to run. Run directories are kept under ``--out`` and reused when
complete, so the analysis can be re-run without searching again.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/wall_time_saving.py [--compare surrogate|multi-fidelity|darts|budget-first]
        [--config examples/digits.toml] [--evaluations 96] [--seeds 0,1,2] [--rungs 1,3,9]
        [--max-latency-ms 0.05] [--out runs/<compare>-saving] [--sequential]
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

import numpy as np
from _script import seed_list, table_level

ROOT = Path(__file__).resolve().parents[1]
LEVELS = (0.9, 0.95, 0.98, 1.0)


def variants(compare: str, config_path: str, rungs: list[int], max_latency_ms: float) -> dict[str, dict[str, dict]]:
    """The plain run and the cheaper run: name -> config sections to update."""
    from hwnas.config import load_config

    shared = table_level(config_path)  # both runs price a network alike
    if compare == "budget-first":
        shared = {"budgets": {"max_latency_ms": max_latency_ms}, **shared}
        return {"train-over-budget": {"search": {"strategy": "nsga2", "train_over_budget": True}, **shared},
                "budget-first": {"search": {"strategy": "nsga2"}, **shared}}
    if compare == "surrogate":
        return {"nsga2": {"search": {"strategy": "nsga2"}, **shared},
                "nsga2-surrogate": {"search": {"strategy": "nsga2-surrogate"}, **shared}}
    if compare == "darts":
        return {"nsga2": {"search": {"strategy": "nsga2"}, **shared},
                "darts": {"search": {"strategy": "darts"}, **shared}}
    estimator = dict(load_config(config_path).to_dict()["estimator"])
    estimator.pop("epochs", None)
    return {f"proxy-trainer-{rungs[-1]}ep": {"search": {"strategy": "nsga2"},
                                             "estimator": {**estimator, "epochs": rungs[-1]}, **shared},
            "successive-halving": {"search": {"strategy": "nsga2"},
                                   "estimator": {**estimator, "name": "successive-halving", "rungs": rungs},
                                   **shared}}


def search(config_path: str, updates: dict[str, dict], seed: int, evaluations: int, run_dir: Path) -> None:
    """Run one search into ``run_dir`` unless a complete one is already there."""
    from hwnas.config import config_from_dict, load_config
    from hwnas.search.runner import run_search
    from hwnas.store import Store

    config = load_config(config_path)
    config.switch_strategy(updates["search"]["strategy"])  # its own [search.<strategy>] options, not the old one's
    data = config.to_dict()
    for section, values in updates.items():
        if section == "estimator":
            data[section] = dict(values)
        else:
            data[section].update(values)
    data["search"].update(seed=seed, evaluations=evaluations)
    if (run_dir / Store.FILE_NAME).is_file():
        store = Store(run_dir / Store.FILE_NAME)
        try:
            done, stored = len(store), store.get_meta("config") or {}
        finally:
            store.close()
        if stored.get("budgets", {}) != data["budgets"]:
            raise SystemExit(f"{run_dir} holds a run with budgets {stored.get('budgets', {})}, not {data['budgets']}; "
                             f"pass another --out")
        if done == evaluations:
            print(f"{run_dir}: reusing {done} evaluations")
            return
        if done > evaluations:  # its hypervolume curve would run past --evaluations
            raise SystemExit(f"{run_dir} holds a run of {done} evaluations, not {evaluations}; pass "
                             f"--evaluations {done}, or another --out")
        raise SystemExit(f"{run_dir} holds an incomplete run ({done}/{evaluations}); its wall times would "
                         f"include the gap, so delete it and run again")
    summary = run_search(config_from_dict(data, source=config_path), run_dir, progress=False)
    print(f"{run_dir}: {summary.evaluations} evaluations in {summary.wall_s:.0f} s")


def timeline(run_dir: Path) -> tuple[list, np.ndarray]:
    """Evaluations in order and the wall time (s) from the run's start to the end of each."""
    from hwnas.outputs import load_run

    run = load_run(run_dir)
    db = sqlite3.connect(f"file:{run_dir / 'store.sqlite'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT created_at, duration_s FROM evaluations ORDER BY COALESCE(seq, id)").fetchall()
    finally:
        db.close()
    created = np.array([r[0] for r in rows])
    started = db_meta(run_dir, "started_at")  # runs before it was stored: the start of the first evaluation
    start = started if started is not None else created[0] - rows[0][1]
    return run, created - start


def db_meta(run_dir: Path, key: str):
    """A metadata value of the run's store, or None."""
    from hwnas.store import Store

    store = Store(run_dir / Store.FILE_NAME)
    try:
        return store.get_meta(key)
    finally:
        store.close()


def untrained(run) -> int:
    """Evaluations priced over a budget and not trained."""
    from hwnas.evaluation import OVER_BUDGET

    return sum(ev.status == OVER_BUDGET for ev in run.evaluations)


def hypervolume_curve(run, objectives, ideal, nadir) -> np.ndarray:
    """Hypervolume of the feasible evaluations among the first ``k``, for every ``k``."""
    from hwnas.front import hypervolume
    from hwnas.search.objectives import is_feasible

    budgets = run.config.budgets
    out, kept = [], []
    for ev in run.evaluations:
        if ev.ok and is_feasible(ev.metrics, budgets):
            kept.append(ev.metrics)
        out.append(hypervolume(kept, objectives, ideal=ideal, nadir=nadir) if kept else 0.0)
    return np.array(out)


def main() -> int:
    from hwnas.commands.base import int_list

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", choices=("surrogate", "multi-fidelity", "darts", "budget-first"), default="surrogate",
                    help="which cheaper search against nsga2 (default surrogate)")
    ap.add_argument("--config", default=str(ROOT / "examples" / "digits.toml"),
                    help="run config (default examples/digits.toml)")
    ap.add_argument("--rungs", type=int_list, default=[1, 3, 9],
                    help="successive-halving rungs (epochs), for multi-fidelity (default 1,3,9)")
    ap.add_argument("--max-latency-ms", type=float, default=0.05,
                    help="the latency budget of --compare budget-first (default 0.05)")
    ap.add_argument("--evaluations", type=int, default=96, help="evaluations per search (default 96)")
    ap.add_argument("--seeds", type=seed_list(0), default=[0], help="comma-separated seeds (default 0)")
    ap.add_argument("--out", default=None, help="run folders (default runs/<compare>-saving)")
    ap.add_argument("--sequential", action="store_true", help="run the two searches one after the other")
    args = ap.parse_args()
    if args.evaluations < 1:
        ap.error("--evaluations must be >= 1")

    from hwnas.front import non_dominated
    from hwnas.search.objectives import is_feasible, minimisation_matrix

    seeds = args.seeds
    out = Path(args.out or ROOT / "runs" / f"{args.compare}-saving")
    if not args.max_latency_ms > 0:
        ap.error("--max-latency-ms must be > 0")
    runs_of = variants(args.compare, args.config, args.rungs, args.max_latency_ms)
    plain, cheap = list(runs_of)
    ratios: dict[float, list[float]] = {level: [] for level in LEVELS}
    for seed in seeds:
        dirs = {s: out / f"{s}-seed{seed}" for s in runs_of}
        jobs = [(args.config, runs_of[s], seed, args.evaluations, d) for s, d in dirs.items()]
        if args.sequential:
            for job in jobs:
                search(*job)
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=len(jobs), mp_context=multiprocessing.get_context("spawn")) as pool:
                for done in [pool.submit(search, *job) for job in jobs]:
                    done.result()
        runs = {s: timeline(d) for s, d in dirs.items()}
        objectives = runs[plain][0].objectives
        pooled = [ev.metrics for run, _ in runs.values() for ev in run.evaluations
                  if ev.ok and is_feasible(ev.metrics, run.config.budgets)]
        if not pooled:
            print(f"\nseed {seed}: no evaluation of either run is within the budgets; nothing to compare "
                  f"(raise the budget or --evaluations)")
            continue
        front = minimisation_matrix([pooled[i] for i in non_dominated(pooled, objectives)], objectives)
        ideal, nadir = front.min(axis=0), front.max(axis=0)
        curves = {s: hypervolume_curve(run, objectives, ideal, nadir) for s, (run, _) in runs.items()}
        target = curves[plain][-1]
        print(f"\nseed {seed}: final hypervolume ({' x '.join(o.column for o in objectives)}, union-front "
              f"normalisation, reference 1.1): " + ", ".join(f"{s} {c[-1]:.4f}" for s, c in curves.items()))
        print(f"{'level':>7} " + " ".join(f"{s + ' evals':>22} {s + ' wall_s':>22}" for s in runs_of)
              + f" {'wall ratio':>11}")
        for level in LEVELS:
            reached = {}
            for s, curve in curves.items():
                hit = np.flatnonzero(curve >= level * target - 1e-12)
                reached[s] = (int(hit[0]) + 1, float(runs[s][1][hit[0]])) if len(hit) else None
            line = f"{level:7.2f} " + " ".join(
                f"{reached[s][0]:22d} {reached[s][1]:22.1f}" if reached[s] else f"{'not reached':>22} {'-':>22}"
                for s in runs_of)
            if all(reached.values()):
                ratio = reached[plain][1] / reached[cheap][1]
                ratios[level].append(ratio)
                line += f" {ratio:11.2f}"
            print(line)
        totals = {s: runs[s][1][-1] for s in runs_of}
        print("whole runs: " + ", ".join(f"{s} {t:.0f} s for {len(runs[s][0].evaluations)} evaluations"
                                         + (f" ({n} untrained over budget)" if (n := untrained(runs[s][0])) else "")
                                         for s, t in totals.items()))
        if args.compare == "budget-first":
            same = [ev.arch for ev in runs[plain][0].evaluations] == [ev.arch for ev in runs[cheap][0].evaluations]
            print(f"same architectures in the same order: {same}")
    print(f"\nwall-time ratio {plain} / {cheap} to reach {plain}'s final hypervolume "
          f"(level 1.00): " + (", ".join(f"{r:.2f}" for r in ratios[1.0]) or "not reached"))
    return 0


if __name__ == "__main__":
    from _script import run

    run(main)
