"""``hwnas bench``: strategies x seeds on a metric table, scored by hypervolume of the true front.

Writes ``bench.csv`` (strategy, seed, evaluations, hv_fraction, wall_s), ``summary.csv``
(medians over seeds) and ``bench.png`` to ``--out``, and prints the medians.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..exceptions import ConfigError
from ..interrupts import kill_as_interrupt
from ..wording import counted
from .base import COMMANDS, Command, int_list, names


@COMMANDS.register("bench")
class BenchCommand(Command):
    help = "benchmark strategies (and pymoo/Optuna peers) on a table: hypervolume vs evaluations"

    def configure(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--table", required=True, help="CSV with one row per architecture")
        p.add_argument("--space", default="nb201", help="space of the table's architectures (default nb201)")
        p.add_argument("--arch-column", help="architecture column (default: arch, else arch_str)")
        p.add_argument("--accuracy-column", default="test_acc_cifar10",
                       help="accuracy column in %% that the searches see (default test_acc_cifar10)")
        p.add_argument("--score-column",
                       help="accuracy column in %% the hypervolume is scored on (default: --accuracy-column), "
                            "e.g. search val_acc_cifar10valid_nb201 and score test_acc_cifar10")
        p.add_argument("--cost", required=True, action="append", metavar="NAME=COLUMN",
                       help="the one cost objective scored, e.g. latency_ms=raspi4_latency (give it once)")
        p.add_argument("--strategies", type=names, default=["nsga2", "random"],
                       help="comma-separated strategies (default nsga2,random)")
        p.add_argument("--peers", type=names, default=["pymoo-nsga2", "optuna-nsga2"],
                       help="comma-separated peers: pymoo-nsga2, optuna-nsga2 ('' for none; "
                            "default pymoo-nsga2,optuna-nsga2)")
        p.add_argument("--evaluations", type=int_list, default=[50, 200, 1000],
                       help="budgets to score at (default 50,200,1000)")
        p.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
        p.add_argument("--min-accuracy", type=float, default=11.0,
                       help="drop cells at or below this accuracy from scoring (default 11)")
        p.add_argument("--out", default="runs/bench", help="output folder (default runs/bench)")
        p.add_argument("--quiet", action="store_true", help="no line per run")

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import PEERS, BenchProblem, run_bench
        from ..outputs import check_folder_to_write
        from ..search.strategies import STRATEGIES
        from ..table import arch_column_of, parse_costs

        if len(args.cost) > 1:
            raise ConfigError(f"--cost is given {len(args.cost)} times ({' '.join(args.cost)}); bench scores one "
                              f"cost column against accuracy: give one --cost and run bench once per cost")
        costs = parse_costs(args.cost)
        (metric, column), = costs.items()
        if args.seeds < 1:
            raise ConfigError(f"--seeds {args.seeds} must be at least 1")
        if not math.isfinite(args.min_accuracy):
            raise ConfigError(f"--min-accuracy {args.min_accuracy} must be a number, e.g. 11 (percent)")
        args.evaluations = sorted(set(args.evaluations))  # each budget once, in order
        if not args.strategies and not args.peers:
            raise ConfigError("nothing to run: give --strategies and/or --peers "
                              "(e.g. --strategies nsga2,random --peers pymoo-nsga2)")
        for name in args.strategies:
            STRATEGIES.get(name)
        for name in args.peers:
            PEERS.get(name)
        out = check_folder_to_write(args.out, "--out", "bench.csv, summary.csv and bench.png")  # not after the runs
        if (out / "bench.csv").exists():
            raise ConfigError(f"--out {args.out!r} already holds a benchmark (bench.csv), which this run would "
                              f"overwrite; choose another --out or remove it")
        arch_column = arch_column_of(args.table, args.arch_column)
        problem = BenchProblem(args.table, arch_column, args.accuracy_column, column, cost_metric=metric,
                               space=args.space, min_accuracy=args.min_accuracy, score_column=args.score_column)
        def announce() -> None:
            """The coverage note and the true front's line, once bench has accepted every option."""
            note = problem.coverage_note(args.evaluations[-1])
            if note:
                print(f"hwnas: note: {note}", file=sys.stderr)
            searched = "" if problem.score_column == args.accuracy_column else f", searched on {args.accuracy_column}"
            print(f"true front: {counted(problem.front_size, 'architecture')} "
                  f"({problem.score_column} x {column}{searched}); "
                  f"{counted(args.strategies, 'strategy', 'strategies')} + {counted(args.peers, 'peer')} x "
                  f"{counted(args.seeds, 'seed')} x evaluations {args.evaluations}")

        records: list = []
        try:
            with kill_as_interrupt():  # kill or a hang-up: as Ctrl-C, the finished runs are kept
                # bench.csv after every run, so a crash keeps the finished ones too
                run_bench(problem, args.strategies, args.peers, args.evaluations, args.seeds,
                          progress=None if args.quiet else print, records=records,
                          on_record=lambda rs: self._write_records(out, rs, args), on_start=announce)
        except KeyboardInterrupt:
            if records:
                self._write(out, records, args, column)
            kept = (f"the {counted(records, 'finished run')} "
                    f"{'is' if len(records) == 1 else 'are'} in {out / 'bench.csv'} (bench has no --resume: "
                    f"run the rest into another --out)" if records else "no run had finished")
            print(f"\ninterrupted; {kept}", file=sys.stderr)
            return 130
        table = self._write(out, records, args, column)
        width = max(len(s) for s in table)
        print(f"median hypervolume fraction over {counted(args.seeds, 'seed')}:")
        print(" " * width + "".join(f"{n:>9d}" for n in args.evaluations))
        for s, d in table.items():
            print(s.ljust(width) + "".join(f"{d[n]:9.4f}" for n in args.evaluations))
        print(f"wrote {out / 'bench.csv'}, {out / 'summary.csv'}, {out / 'bench.png'}")
        return 0

    @staticmethod
    def _write_records(out: Path, records: list, args: argparse.Namespace) -> None:
        """bench.csv: one row per finished run."""
        from ..outputs import write_csv

        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"--out {args.out!r} cannot be created ({exc.strerror}); choose another --out") from None
        write_csv(out / "bench.csv", [r.__dict__ for r in records],
                  ["strategy", "seed", "evaluations", "hv_fraction", "wall_s"])

    def _write(self, out: Path, records: list, args: argparse.Namespace, column: str) -> dict:
        """bench.csv, summary.csv and bench.png of ``records``; returns the medians."""
        from ..bench import medians, plot_bench
        from ..outputs import write_csv

        self._write_records(out, records, args)
        table = medians(records)
        write_csv(out / "summary.csv",
                  [{"strategy": s, **{str(n): f"{v:.4f}" for n, v in d.items()}} for s, d in table.items()],
                  ["strategy", *map(str, args.evaluations)])
        scored = args.score_column or args.accuracy_column
        # the line bench prints says which column the searches saw when it is not the one scored
        searched = "" if scored == args.accuracy_column else f"\nsearched on {args.accuracy_column}"
        plot_bench(out / "bench.png", records,
                   f"{Path(args.table).name}: {scored} x {column}, {self._medians_of(records, args.seeds)}{searched}")
        return table

    @staticmethod
    def _medians_of(records: list, seeds: int) -> str:
        """``median of 10 seeds``; after an interrupt, the seeds each point has, not those asked for."""
        from collections import Counter

        finished = set(Counter((r.strategy, r.evaluations) for r in records).values())
        if finished == {seeds}:
            return f"median of {counted(seeds, 'seed')}"
        low, high = min(finished), max(finished)
        return f"median of {low}{'' if low == high else f'-{high}'} of {seeds} seeds (interrupted)"
