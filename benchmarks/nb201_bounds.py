"""How close to the true NB201 front could any search get after N evaluations?

A yardstick for ``hwnas bench``'s figures. For each device it prints:

- how much of each objective the architecture determines: the relative s.d. of what a boosted
  tree model on the six edge genes cannot predict, 10-fold out of fold over the whole table.
  What remains is the table's own noise (training seeds, latency measurement), which no search
  can learn from other cells;
- the hypervolume fraction reached by an *informed* search: greedy expected hypervolume
  improvement (Monte-Carlo over the model's residual s.d.) with a model no real search has,
  re-using every true value it has evaluated as it goes. Two models:
  ``ridge, whole table``: ridge regression on the space's genome features
  (:meth:`~hwnas.space.base.SearchSpace.features`) fitted to every cell of the table;
  ``trees, out of fold``: the boosted trees above, each cell predicted without its own value.

- what the true front is made of: NB201 cells grouped by the network they compute (an edge whose
  output never reaches the cell's output is dead: it changes no output, and a graph optimiser
  drops it, though not every device's toolchain does), how many front points come from groups
  of several cells, and the largest such group on the front. Where the device drops dead edges
  (raspi4, edgegpu: the group's latencies agree within a few %), such a point is the luckiest
  of its group's training and measurement noise; a search reaches it only by evaluating copies
  of one network;
- the ceiling without copies: the hypervolume fraction when every distinct network is evaluated
  exactly once (one cell of each group, drawn at random; median of 20 draws). A search that never
  evaluates a second cell of a network it has seen can reach no more, whatever its budget.

``--copies nsga2,pymoo-nsga2`` (any strategies of ``hwnas bench --strategies`` and peers of
``--peers``) runs each for ``--seeds`` seeds and every budget of ``--evaluations`` and prints the
share of its evaluations that were copies of a network it had already evaluated, its hypervolume
fraction, the fraction its first cell of each network alone reaches, and the fraction with every
cell of the table that computes a network on its front added (harvesting copies at no cost).

A real search has neither model: it learns from its own N evaluations. The trees model has
learned from every other cell, so its informed search is about the best any search can do; the
ridge model shows what a smooth model of the whole table, with its interactions along NB201's
paths, would give.

Usage:
    python benchmarks/nb201_bounds.py [--devices edgegpu,raspi4,fpga] [--evaluations 50,200,1000] [--front-only]
    python benchmarks/nb201_bounds.py --copies nsga2,pymoo-nsga2 [--seeds 10] [--evaluations 200,1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT.parent / "shared" / "data" / "nb201" / "nb201_cifar10_hw.csv"


def _table(problem, space):
    archs = [a for a in problem.data.archs if problem.table_value(a) is not None]
    values = np.array([problem.table_value(a) for a in archs])  # (100 - accuracy, latency)
    genomes = np.array([space.encode(space.parse(a)) for a in archs])
    return archs, values, genomes


def _models(values: np.ndarray, genomes: np.ndarray, features: np.ndarray, usable: np.ndarray, seed: int):
    """Log-space predictions of both objectives per model, and each model's residual s.d."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import cross_val_predict

    y = np.log(values)
    out = {}
    ridge = np.column_stack([Ridge(alpha=1e-3).fit(features[usable], y[usable, j]).predict(features)
                             for j in range(2)])
    out["ridge, whole table"] = ridge
    trees = np.full_like(y, 50.0)  # unusable cells: predicted hopeless
    for j in range(2):
        model = HistGradientBoostingRegressor(max_iter=500, categorical_features=list(range(genomes.shape[1])),
                                              random_state=seed)
        trees[usable, j] = cross_val_predict(model, genomes[usable], y[usable, j], cv=10)
    out["trees, out of fold"] = trees
    return {name: (mean, (y[usable] - mean[usable]).std(axis=0)) for name, mean in out.items()}


def front_groups(problem, space, archs, values) -> str:
    """How many of the true front's points come from groups of cells computing one network, and
    the largest such group on the front (its front points, and its median latency)."""
    from hwnas.search.strategies.surrogate import non_dominated
    from hwnas.space.nb201 import without_dead_edges
    from hwnas.wording import counted

    usable = values[:, 0] < 100 - problem.min_accuracy
    groups: dict[tuple, list[int]] = {}
    for i, arch in enumerate(archs):
        if usable[i]:
            groups.setdefault(without_dead_edges(space.parse(arch)), []).append(i)
    front_points = {tuple(p) for p in non_dominated(values[usable])}
    front = [i for i in np.flatnonzero(usable) if tuple(values[i]) in front_points]
    group_of = {i: key for key, members in groups.items() for i in members}
    shared = [i for i in front if len(groups[group_of[i]]) > 1]
    line = (f"  true front {len(front)} cells, {len(shared)} of them from groups of 2 or more cells computing one "
            f"network (sizes {', '.join(str(n) for n in sorted({len(groups[group_of[i]]) for i in shared}))})")
    if shared:
        key = max({group_of[i] for i in shared}, key=lambda k: (sum(group_of[i] == k for i in front), len(groups[k])))
        on_front = [i for i in front if group_of[i] == key]
        line += (f"\n  largest share: {counted(on_front, 'front point')} from one group of {len(groups[key])} cells "
                 f"({'|'.join(key)}): error {values[on_front, 0].min():.2f}-{values[on_front, 0].max():.2f} %, "
                 f"latency {values[on_front, 1].min():.3f}-{values[on_front, 1].max():.3f} ms, against the "
                 f"group's median {np.median(values[groups[key], 1]):.3f} ms")
    rng = np.random.default_rng(0)
    once = [problem.hv_fraction([archs[int(rng.choice(members))] for members in groups.values()])
            for _ in range(20)]
    line += (f"\n  without copies: every one of the {len(groups)} distinct networks evaluated once (a random cell of "
             f"each) reaches {np.median(once):.4f} of the true front (20 draws: {min(once):.4f}-{max(once):.4f})")
    return line


def copies(problem, space, strategy: str, seeds: int, budgets) -> list[str]:
    """Lines: per budget, the medians over seeds of the share of ``strategy``'s evaluations that
    were copies of a network it had already evaluated, its hypervolume fraction, the fraction its
    first cell of each network alone reaches, and the fraction with every cell of the table that
    computes a network on its front added (what harvesting copies, at no cost, could give)."""
    from hwnas.bench import PEERS, run_ours
    from hwnas.search.strategies import STRATEGIES
    from hwnas.search.strategies.surrogate import non_dominated
    from hwnas.space.nb201 import without_dead_edges

    if strategy in PEERS.names():
        peer = PEERS.get(strategy)
        search = lambda seed, n: peer(problem, seed, n)  # noqa: E731
    else:
        STRATEGIES.get(strategy)  # an unknown name: the registry's error, with the names it knows
        search = lambda seed, n: run_ours(problem, strategy, seed, n)  # noqa: E731
    network = {arch: without_dead_edges(space.parse(arch)) for arch in problem.data.archs}
    cells: dict[tuple, list[str]] = {}
    for arch, key in network.items():
        cells.setdefault(key, []).append(arch)
    lines = []
    for n in budgets:
        share, hv, first_hv, harvest_hv = [], [], [], []
        for seed in range(seeds):
            archs, seen, first = search(seed, n), set(), []
            for arch in archs:
                if network[arch] not in seen:
                    seen.add(network[arch])
                    first.append(arch)
            values = {a: v for a in archs if (v := problem.table_value(a)) is not None}
            front = {tuple(p) for p in non_dominated(np.array(list(values.values())).reshape(-1, 2))}
            harvest = [c for a, v in values.items() if tuple(v) in front for c in cells[network[a]]]
            share.append(1 - len(first) / len(archs))
            hv.append(problem.hv_fraction(archs))
            first_hv.append(problem.hv_fraction(first))
            harvest_hv.append(problem.hv_fraction(archs + harvest))
        lines.append(f"  {strategy} after {n}: {100 * np.median(share):.0f} % of evaluations copies; hypervolume "
                     f"fraction {np.median(hv):.4f}; its first cell of each network alone {np.median(first_hv):.4f}; "
                     f"with every copy of its front's networks {np.median(harvest_hv):.4f}")
    return lines


def informed_search(problem, archs, values, mean, sd, budgets, *, pool=3000, samples=64, seed=0):
    """Greedy expected hypervolume improvement; returns the hypervolume fraction per budget."""
    from hwnas.search.strategies.surrogate import domination_gap, hypervolume_improvement, non_dominated

    pool = max(pool, max(budgets))  # a larger budget needs that many cells to choose from
    scale = problem.nadir - problem.ideal
    predicted = (np.exp(mean) - problem.ideal) / scale
    usable = mean[:, 0] < 49
    # the pool: the cells predicted closest to the predicted front
    gap = domination_gap(non_dominated(predicted[usable]), predicted)
    gap[~usable] = np.inf
    cells = np.argsort(gap)[:pool]
    rng = np.random.default_rng(seed)
    draws = (np.exp(mean[cells][None] + rng.standard_normal((samples, len(cells), 2)) * sd) - problem.ideal) / scale
    true = (values - problem.ideal) / scale
    reference, front = np.full(2, 1.1), np.zeros((0, 2))
    left, seen, scores = np.ones(len(cells), bool), [], {}
    for step in range(1, max(budgets) + 1):
        idx = np.flatnonzero(left)
        gain = hypervolume_improvement(front, draws[:, idx].reshape(-1, 2), reference).reshape(samples, -1).mean(0)
        best = idx[int(np.argmax(gain))]
        left[best] = False
        seen.append(archs[cells[best]])
        front = non_dominated(np.vstack([front, true[cells[best]]]))
        if step in budgets:
            scores[step] = problem.hv_fraction(seen)
    return scores


def main() -> int:
    from hwnas.commands.base import int_list, names

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default=str(TABLE),
                    help="the NB201 CSV (default: ../shared/data/nb201/nb201_cifar10_hw.csv)")
    ap.add_argument("--accuracy-column", default="test_acc_cifar10",
                    help="accuracy column (default test_acc_cifar10)")
    ap.add_argument("--devices", type=names, default=["edgegpu", "raspi4", "fpga"],
                    help="comma-separated, each with a <device>_latency column (default edgegpu,raspi4,fpga)")
    ap.add_argument("--evaluations", type=int_list, default=[50, 200, 1000],
                    help="comma-separated budgets (default 50,200,1000)")
    ap.add_argument("--front-only", action="store_true",
                    help="only what the true front is made of (seconds), not the informed searches (minutes)")
    ap.add_argument("--copies", type=names, default=[],
                    help="comma-separated strategies and peers whose copies to count, instead of the informed "
                         "searches (e.g. nsga2,pymoo-nsga2)")
    ap.add_argument("--seeds", type=int, default=10, help="seeds per strategy with --copies (default 10)")
    args = ap.parse_args()

    from hwnas.bench import BenchProblem
    from hwnas.space import make_space

    if not Path(args.table).is_file():
        print(f"table {args.table} not found; pass --table with the NB201 CSV (see shared/data/nb201/README.md)",
              file=sys.stderr)
        return 2
    space = make_space("nb201", None, None, reads_table=True)
    budgets = sorted(set(args.evaluations))
    for device in args.devices:
        start = time.perf_counter()
        problem = BenchProblem(args.table, "arch_str", args.accuracy_column, f"{device}_latency")
        archs, values, genomes = _table(problem, space)
        if budgets[-1] > len(archs):
            print(f"--evaluations {budgets[-1]} is more than the {len(archs)} cells with a {device} value; "
                  f"pass budgets up to {len(archs)}", file=sys.stderr)
            return 2
        print(f"\n{device}: {len(archs)} cells with a value, true front {problem.front_size} points")
        print(front_groups(problem, space, archs, values))
        if args.front_only:
            continue
        if args.copies:
            for strategy in args.copies:
                print("\n".join(copies(problem, space, strategy, args.seeds, budgets)))
            continue
        usable = values[:, 0] < 100 - problem.min_accuracy
        models = _models(values, genomes, space.features(genomes), usable, seed=0)
        sd = models["trees, out of fold"][1]
        print(f"  not predictable from the genes (trees, out of fold, relative s.d.): error {100 * sd[0]:.1f} %, "
              f"latency {100 * sd[1]:.1f} %")
        print(f"  {'informed search, model':28s} " + " ".join(f"{n:>7d}" for n in budgets))
        for name, (mean, model_sd) in models.items():
            scores = informed_search(problem, archs, values, mean, model_sd, budgets)
            print(f"  {name:28s} " + " ".join(f"{scores[n]:7.4f}" for n in budgets))
        print(f"  ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    from _script import run

    run(main)
