"""Search bookkeeping per evaluation: store (SQLite, every evaluation committed) + cache + algorithm.

A table search does no training or measuring, so its wall time per evaluation is the
bookkeeping (the table lookups, reported separately, are microseconds). Also times Optuna's
NSGAIISampler with SQLite storage on the same table, for comparison.

    .venv/bin/python benchmarks/bookkeeping.py [--table ../shared/data/nb201/nb201_cifar10_hw.csv]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from hwnas.exceptions import require
from hwnas.search.runner import SearchRun
from hwnas.store import Store
from hwnas.table import load_table, table_search_config

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "nb201" / "nb201_cifar10_hw.csv"


def ours(table: Path, strategy: str, evaluations: int, seed: int) -> tuple[float, float, int]:
    config = table_search_config(space="nb201", table=table, arch_column="arch_str",
                                 accuracy_column="val_acc_cifar10valid_nb201",
                                 costs={"latency_ms": "edgegpu_latency"}, strategy=strategy,
                                 evaluations=evaluations, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        run = SearchRun(config, Path(tmp) / "run", progress=False, outputs=False)  # table loaded here
        start = time.perf_counter()
        summary = run.run()
        wall = time.perf_counter() - start
        store = Store(Path(tmp) / "run" / Store.FILE_NAME)
        lookups = sum(ev.duration_s for ev in store)
        mode = store._db.execute("PRAGMA journal_mode").fetchone()[0]
        store.close()
    assert summary.evaluations == evaluations and mode == "wal"
    return wall, lookups, summary.evaluations


def optuna_sqlite(table: Path, trials: int) -> float:
    from hwnas.space import make_space

    optuna = require("optuna", "bench")

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = make_space("nb201", None, None, reads_table=True)  # as the table search it is compared with
    data = load_table(table, "arch_str")
    acc, lat = data.column("val_acc_cifar10valid_nb201"), data.column("edgegpu_latency")

    def objective(trial):
        g = [trial.suggest_categorical(gene.name, list(range(gene.size))) for gene in space.genes]
        i = data.row_of(space.canonical(space.decode(g)))
        return 100 - acc[i], lat[i] if lat[i] == lat[i] else 1e12

    with tempfile.TemporaryDirectory() as tmp:
        study = optuna.create_study(directions=["minimize"] * 2, storage=f"sqlite:///{tmp}/o.db",
                                    sampler=optuna.samplers.NSGAIISampler(seed=0))
        start = time.perf_counter()
        study.optimize(objective, n_trials=trials)
        return (time.perf_counter() - start) / trials


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--table", type=Path, default=DEFAULT,
                   help="the NB201 CSV (default: ../shared/data/nb201/nb201_cifar10_hw.csv)")
    p.add_argument("--evaluations", type=int, default=1000, help="evaluations per search (default 1000)")
    p.add_argument("--repeats", type=int, default=3,
                   help="searches (seeds) per strategy; the median is printed (default 3)")
    p.add_argument("--strategies", default="nsga2,random,evolution",
                   help="comma-separated strategies (default nsga2,random,evolution)")
    p.add_argument("--optuna-trials", type=int, default=200,
                   help="trials of the Optuna comparison, 0 for none (needs hwnas[bench]; default 200)")
    args = p.parse_args()
    if args.evaluations < 1 or args.repeats < 1 or args.optuna_trials < 0:
        p.error("--evaluations and --repeats must be >= 1, --optuna-trials >= 0 (0: no Optuna timing)")
    if args.optuna_trials:
        require("optuna", "bench")  # says so now, not after the searches
    from hwnas.commands.base import names
    from hwnas.search.strategies import STRATEGIES

    strategies = names(args.strategies)
    for strategy in strategies:  # an unknown name: refused before any search, not after the others
        STRATEGIES.get(strategy)
    for strategy in strategies:
        per_eval = []
        for seed in range(args.repeats):
            wall, lookups, n = ours(args.table, strategy, args.evaluations, seed)
            per_eval.append((wall - lookups) / n * 1e3)
        print(f"{strategy:10s} bookkeeping {statistics.median(per_eval):.3f} ms/eval (median of {args.repeats} "
              f"searches of {args.evaluations}; min {min(per_eval):.3f}, max {max(per_eval):.3f}); "
              f"every evaluation committed to SQLite (WAL)")
    if args.optuna_trials:
        print(f"optuna NSGAIISampler + SQLite storage: {optuna_sqlite(args.table, args.optuna_trials) * 1e3:.1f} "
              f"ms/trial ({args.optuna_trials} trials)")


if __name__ == "__main__":
    from _script import run

    run(main)
