"""Strategy benchmark on a metric table: how much of the true front's hypervolume a search finds.

Every architecture's accuracy and cost are in the table, so the true Pareto front is known.
A search's score after ``n`` evaluations is the hypervolume of its first ``n`` evaluations
divided by the true front's, with both objectives minimised (``100 - accuracy`` and the cost),
cells with accuracy <= ``min_accuracy`` dropped (degenerate networks), each objective normalised
by the true front's ends and reference point (1.1, 1.1) (see shared/data/nb201/README.md).

Our strategies run through the real search loop (:func:`hwnas.search.runner.run_search`, with
its SQLite store in a temporary folder), one search per budget, so a strategy that sizes itself
from its budget is scored as a user would run it. Peers (plain pymoo NSGA-II, Optuna's
NSGAIISampler) run on the same table; their score after ``n`` counts every evaluation they
make, repeats included.

Example:
    >>> problem = BenchProblem("nb201_cifar10_hw.csv", "arch_str", "test_acc_cifar10",
    ...                        "edgegpu_latency")                               # doctest: +SKIP
    >>> run_bench(problem, ["nsga2"], [], [50, 200], seeds=3)                  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .exceptions import ConfigError, MissingExtraError, require
from .registry import Registry
from .table import MetricTable, load_table


@dataclass
class BenchProblem:
    """A two-objective table problem: maximise accuracy, minimise one cost column.

    Args:
        table: the CSV file.
        arch_column: column of canonical architecture strings.
        accuracy_column: accuracy in percent that searches see.
        cost_column: the cost column (e.g. ``edgegpu_latency``).
        cost_metric: metric name the cost gets in the search (unit in the name).
        space: the space whose canonical strings the table holds.
        min_accuracy: cells at or below this accuracy are dropped from scoring.
        score_column: accuracy in percent that the hypervolume is scored on (default: the
            accuracy column); NB201 searches validation accuracy and reports test accuracy.
    """

    table: str | Path
    arch_column: str
    accuracy_column: str
    cost_column: str
    cost_metric: str = "latency_ms"
    space: str = "nb201"
    min_accuracy: float = 11.0
    score_column: str | None = None
    _points: dict[str, tuple[float, float]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        from .cost.table import TableCostModel
        from .estimate.table import TableEstimator
        from .space import make_space

        self.data: MetricTable = load_table(self.table, self.arch_column)
        # the checks a table search makes, before any run: a space that works without a [task],
        # canonical strings in arch_column (else every peer lookup misses and scores 0) and
        # accuracy in percent (fractions would all fall under min_accuracy)
        space = make_space(self.space, None, None, reads_table=True)
        self.score_column = self.score_column or self.accuracy_column
        for column in dict.fromkeys((self.accuracy_column, self.score_column)):
            estimator = TableEstimator(None, path=str(self.table), arch_column=self.arch_column,
                                       accuracy_column=column)
            estimator.check_space(space)
        #: the table estimator's note on how much of the space the table covers (or None), said
        #: once by hwnas bench rather than by each of its searches
        self.coverage_note = estimator.advice
        # and the cost column's (no negative cost, no time <= 0), which a bench of peers alone
        # would otherwise score on
        TableCostModel(None, (), path=str(self.table), arch_column=self.arch_column,
                       metrics={self.cost_metric: self.cost_column})
        acc = self.data.column(self.score_column)
        cost = self.data.column(self.cost_column)
        ok = np.isfinite(acc) & np.isfinite(cost) & (acc > self.min_accuracy)
        # scored points: minimisation form (100 - accuracy, cost)
        self._points = {a: (100.0 - float(acc[i]), float(cost[i])) for i, a in enumerate(self.data.archs) if ok[i]}
        if not self._points:
            raise ConfigError(f"table {self.table}: no row has both {self.score_column!r} > "
                              f"{self.min_accuracy:g} and {self.cost_column!r}, so there is no front to score "
                              f"against; lower --min-accuracy (cells at or below it are dropped as degenerate) "
                              f"or fill in {self.cost_column!r}")
        values = np.array(list(self._points.values()))
        from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

        front = values[NonDominatedSorting().do(values, only_non_dominated_front=True)]
        self.ideal, self.nadir = front.min(axis=0), front.max(axis=0)
        self.front_size = len(np.unique(front, axis=0))
        self.true_hv = self._hv(front)

    def _hv(self, values: np.ndarray) -> float:
        from pymoo.indicators.hv import HV

        if not len(values):
            return 0.0
        scale = np.where(self.nadir > self.ideal, self.nadir - self.ideal, 1.0)
        return float(HV(ref_point=np.full(2, 1.1))((np.asarray(values, float) - self.ideal) / scale))

    def hv_fraction(self, archs: Sequence[str]) -> float:
        """Hypervolume of the evaluated ``archs`` over the true front's (1.0 = whole front found)."""
        values = np.array([self._points[a] for a in set(archs) if a in self._points]).reshape(-1, 2)
        return self._hv(values) / self.true_hv

    def table_value(self, arch: str) -> tuple[float, float] | None:
        """``(100 - accuracy, cost)`` of an architecture as a search sees it, or None if missing."""
        i = self.data.row_of(arch)
        if i is None:
            return None
        acc = self.data.column(self.accuracy_column)[i]
        cost = self.data.column(self.cost_column)[i]
        return None if not (np.isfinite(acc) and np.isfinite(cost)) else (100.0 - float(acc), float(cost))


#: Peer name -> function(problem, seed, evaluations) returning the evaluated archs in order.
PEERS: Registry[Callable[[BenchProblem, int, int], list[str]]] = Registry("bench peer")

#: Objective value a peer sees for an architecture missing from the table (as our search).
_MISSING = 1e12


@PEERS.register("pymoo-nsga2")
def pymoo_nsga2(problem: BenchProblem, seed: int, evaluations: int) -> list[str]:
    """Plain pymoo NSGA-II, its integer recipe: random integer sampling, SBX + PM with rounding,
    duplicate elimination, default population (100)."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling
    from pymoo.optimize import minimize

    from .space import make_space

    space = make_space(problem.space, None, None, reads_table=True)
    archs: list[str] = []

    class TableProblem(Problem):
        def __init__(self):
            super().__init__(n_var=space.n_genes, n_obj=2, xl=0, xu=space.upper_bounds, vtype=int)

        def _evaluate(self, x, out, *args, **kwargs):
            f = []
            for g in np.rint(x).astype(np.int64):
                arch = space.canonical(space.decode(g))
                archs.append(arch)
                f.append(problem.table_value(arch) or (_MISSING, _MISSING))
            out["F"] = np.array(f)

    algorithm = NSGA2(pop_size=100, sampling=IntegerRandomSampling(),
                      crossover=SBX(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair()),
                      mutation=PM(prob=1.0, eta=3.0, vtype=float, repair=RoundingRepair()),
                      eliminate_duplicates=True)
    minimize(TableProblem(), algorithm, ("n_evals", evaluations), seed=seed, verbose=False)
    return archs[:evaluations]


@PEERS.register("optuna-nsga2")
def optuna_nsga2(problem: BenchProblem, seed: int, evaluations: int) -> list[str]:
    """Optuna's NSGAIISampler (defaults) over categorical genes, in-memory storage."""
    optuna = require("optuna", "bench")
    from .space import make_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = make_space(problem.space, None, None, reads_table=True)
    archs: list[str] = []

    def objective(trial):
        genome = [trial.suggest_categorical(g.name, list(range(g.size))) for g in space.genes]
        arch = space.canonical(space.decode(genome))
        archs.append(arch)
        return problem.table_value(arch) or (_MISSING, _MISSING)

    study = optuna.create_study(directions=["minimize", "minimize"],
                                sampler=optuna.samplers.NSGAIISampler(seed=seed))
    study.optimize(objective, n_trials=evaluations)
    return archs


#: the optional dependency a peer needs, as (module, hwnas extra): checked before any run
optuna_nsga2.requires = ("optuna", "bench")  # type: ignore[attr-defined]


def run_ours(problem: BenchProblem, strategy: str, seed: int, evaluations: int,
             workdir: str | Path | None = None, **options) -> list[str]:
    """One table search with a registered strategy through the real search loop and store.

    Returns:
        The evaluated architectures in evaluation order.
    """
    from .search.runner import run_search
    from .store import Store
    from .table import table_search_config

    config = table_search_config(space=problem.space, table=problem.table, arch_column=problem.arch_column,
                                 accuracy_column=problem.accuracy_column,
                                 costs={problem.cost_metric: problem.cost_column}, strategy=strategy,
                                 evaluations=evaluations, seed=seed, **options)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        run_search(config, Path(tmp) / "run", progress=False, outputs=False)
        store = Store(Path(tmp) / "run" / Store.FILE_NAME)
        try:
            return [ev.arch for ev in store]
        finally:
            store.close()


@dataclass(frozen=True)
class BenchRecord:
    """One score: a strategy (or peer) with one seed after a number of evaluations."""

    strategy: str
    seed: int
    evaluations: int
    hv_fraction: float
    wall_s: float


def run_bench(problem: BenchProblem, strategies: Sequence[str], peers: Sequence[str],
              evaluations: Sequence[int], seeds: int, *, progress: Callable[[str], None] | None = None,
              options: dict | None = None, records: list[BenchRecord] | None = None,
              on_record: Callable[[list[BenchRecord]], None] | None = None,
              on_start: Callable[[], None] | None = None) -> list[BenchRecord]:
    """Every strategy and peer, for seeds ``0..seeds-1``, one run per evaluation budget.

    Args:
        problem: the table problem.
        strategies: registered strategy names (run through the search loop).
        peers: names in :data:`PEERS`.
        evaluations: budgets to score at (each once, in increasing order).
        seeds: number of seeds.
        progress: called with a line after each run.
        options: extra ``[search]`` options per strategy name.
        records: a list to append each record to as it is made (the finished ones stay there
            when a run is interrupted); returned.
        on_record: called with the records so far after each one (to save them as they come).
        on_start: called once every strategy and peer is accepted, before the first run (so that
            what it prints never comes before a refusal).

    Raises:
        RegistryError: an unknown strategy or peer (before anything runs).
        ConfigError: a strategy or option the table search refuses (before anything runs).
        MissingExtraError: a peer's optional dependency is not installed (before anything runs).
    """
    import time

    from .search.runner import SearchRun
    from .search.strategies import STRATEGIES
    from .table import table_search_config

    evaluations = sorted(set(evaluations))  # each budget once, in order (a repeat would only rerun it)
    runners: list[tuple[str, Callable[[int, int], list[str]]]] = []
    for name in strategies:
        if STRATEGIES.get(name).needs_task:  # the search's own refusal says to add a [task]: bench has no config
            others = ",".join(s for s in strategies if s != name) or "nsga2"
            raise ConfigError(f"--strategies: strategy {name!r} trains on the task's data, and hwnas bench searches "
                              f"a table, which has none; leave it out: --strategies {others}")
        opts = dict((options or {}).get(name, {}))
        # set the search up once before anything runs, so that a strategy that cannot search a
        # table (e.g. darts) or a bad option is refused before the other strategies' work is done
        config = table_search_config(space=problem.space, table=problem.table, arch_column=problem.arch_column,
                                     accuracy_column=problem.accuracy_column,
                                     costs={problem.cost_metric: problem.cost_column}, strategy=name,
                                     evaluations=evaluations[0], seed=0, **opts)
        with tempfile.TemporaryDirectory() as tmp:
            SearchRun(config, Path(tmp) / "run", progress=False, outputs=False)
        runners.append((name, lambda s, n, name=name, opts=opts: run_ours(problem, name, s, n, **opts)))
    for name in peers:
        fn = PEERS.get(name)
        if getattr(fn, "requires", None):
            try:
                require(*fn.requires)
            except MissingExtraError as exc:
                # optuna-nsga2 is a default peer: say which peer needs it and how to go without it
                others = ",".join(p for p in peers if p != name) or "''"
                raise MissingExtraError(f"peer {name!r}: {exc}, or leave it out: --peers {others}") from None
        runners.append((name, lambda s, n, fn=fn: fn(problem, s, n)))
    if on_start:
        on_start()
    records = [] if records is None else records
    for name, fn in runners:
        for seed in range(seeds):
            for n in evaluations:
                start = time.perf_counter()
                archs = fn(seed, n)
                wall = time.perf_counter() - start
                records.append(BenchRecord(name, seed, n, problem.hv_fraction(archs[:n]), wall))
                if on_record:
                    on_record(records)
                if progress:
                    progress(f"{name} seed {seed} evaluations {n}: {records[-1].hv_fraction:.4f} ({wall:.1f} s)")
    return records


def medians(records: Sequence[BenchRecord]) -> dict[str, dict[int, float]]:
    """strategy -> evaluations -> median hv_fraction over seeds."""
    out: dict[str, dict[int, list[float]]] = {}
    for r in records:
        out.setdefault(r.strategy, {}).setdefault(r.evaluations, []).append(r.hv_fraction)
    return {s: {n: float(np.median(v)) for n, v in sorted(d.items())} for s, d in out.items()}


def plot_bench(path: Path, records: Sequence[BenchRecord], title: str) -> None:
    """Median hypervolume fraction against evaluations (log scale), quartiles shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    by: dict[str, dict[int, list[float]]] = {}
    for r in records:
        by.setdefault(r.strategy, {}).setdefault(r.evaluations, []).append(r.hv_fraction)
    for name, d in by.items():
        ns = sorted(d)
        q = np.array([np.percentile(d[n], [25, 50, 75]) for n in ns])
        ax.plot(ns, q[:, 1], "o-", label=name)
        ax.fill_between(ns, q[:, 0], q[:, 2], alpha=0.15)
    ax.set_xscale("log")
    # ticks at the budgets, as plain numbers: a log axis alone labels 20 and 60 as 2×10¹ and 6×10¹,
    # and 50 and 200 not at all
    budgets = sorted({r.evaluations for r in records})
    ax.set_xticks(budgets, [str(n) for n in budgets])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel("evaluations")
    ax.set_ylabel("hypervolume / true front's")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
