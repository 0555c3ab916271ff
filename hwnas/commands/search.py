"""``hwnas search``: run or resume a search from a TOML config, or on a metric table.

Table form (no config file; accuracy and costs come from a CSV)::

    hwnas search --space nb201 --table nb201_cifar10_hw.csv --arch-column arch_str \
        --accuracy-column val_acc_cifar10valid_nb201 --cost latency_ms=edgegpu_latency --out runs/t
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..exceptions import CLI_WORDS, ConfigError, ExecutionError, HwnasError, PluginError
from ..interrupts import kill_as_interrupt
from ..store import Store
from ..wording import counted
from .base import COMMANDS, Command, add_budget_flags, budgets_from, check_at_least, resume_command


@COMMANDS.register("search")
class SearchCommand(Command):
    help = "run (or resume) a search from a TOML config, or on a table (--table)"

    def configure(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("config", nargs="?", help="run config, e.g. examples/digits.toml (omit with --table)")
        t = p.add_argument_group("table search (instead of a config)")
        t.add_argument("--space", help="search space whose canonical strings the table holds, e.g. nb201")
        t.add_argument("--table", help="CSV with one row per architecture")
        t.add_argument("--arch-column", help="column of architecture strings (default: arch, else arch_str)")
        t.add_argument("--accuracy-column", help="column of top-1 accuracy in %%")
        t.add_argument("--cost", action="append", metavar="NAME=COLUMN",
                       help="a cost metric and its column, e.g. latency_ms=edgegpu_latency (repeatable)")
        p.add_argument("--strategy", help="override [search] strategy (nsga2, random, grid, evolution, ...)")
        p.add_argument("--out", help="run directory (default: runs/<config file name without .toml>; "
                                      "with --table: runs/<space>-table)")
        p.add_argument("--resume", action="store_true", help="continue the run stored in --out")
        p.add_argument("--evaluations", type=int, help="override [search] evaluations")
        p.add_argument("--seed", type=int, help="override [search] seed")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.add_argument("--latency", choices=("lut", "measure"),
                       help="latency_ms from the target's latency table (lut) or timed on the runtime for every "
                            "candidate (measure) (default: [cost] latency, else lut where a matching table exists, "
                            "measure otherwise)")
        x = p.add_argument_group("where evaluations run (may change on --resume)")
        x.add_argument("--workers", type=int,
                       help="evaluations at a time (default: [execution] workers, else 1: in this process)")
        x.add_argument("--eval-timeout", type=float, dest="eval_timeout_s", metavar="SECONDS",
                       help="a candidate running longer is stopped and recorded as failed (default: [execution] "
                            "eval_timeout_s, else no limit)")
        x.add_argument("--executor", help="local (worker processes) or ray (pip install 'hwnas[ray]') "
                                          "(default: [execution] executor, else local)")
        x.add_argument("--address", help="Ray cluster address for --executor ray (default: start a local one)")
        add_budget_flags(p)
        p.add_argument("--train-over-budget", action="store_true",
                       help="train candidates priced over a budget too (default: recorded with their costs, "
                            "untrained; [search] train_over_budget)")

    def run(self, args: argparse.Namespace) -> int:
        from ..config import MAX_SEED, check_local_workers, load_config, set_budgets, set_execution
        from ..outputs import check_folder_to_write
        from ..report import print_search_summary
        from ..search.runner import run_search

        table_flags = [flag for flag, v in (("--space", args.space), ("--table", args.table),
                                            ("--arch-column", args.arch_column),
                                            ("--accuracy-column", args.accuracy_column), ("--cost", args.cost)) if v]
        if args.config is not None and table_flags:  # the config names its own table, space and columns
            raise ConfigError(f"{', '.join(table_flags)} {'is a' if len(table_flags) == 1 else 'are'} table-search "
                              f"flag{'s' if len(table_flags) > 1 else ''}, and a config file was given; give either "
                              f"a config file or the table flags, not both")
        run_dir = Path(args.out or Path("runs") / (Path(args.config).stem if args.config else f"{args.space}-table"))
        check_folder_to_write(run_dir, "--out", "the run's files")  # before any work: not a file
        config = _table_config(args) if args.config is None else load_config(args.config)
        if args.strategy:
            previous, dropped = config.search["strategy"], config.switch_strategy(args.strategy)
            if dropped:
                print(f"hwnas: --strategy {args.strategy}: ignoring [search] {', '.join(dropped)} "
                      f"({previous}'s option(s))", file=sys.stderr)
        set_budgets(config, budgets_from(args), where="command line")
        if args.train_over_budget:
            config.search["train_over_budget"] = True
        if args.address and (args.executor or config.execution["executor"]) != "ray":
            raise ConfigError(f"--address {args.address} needs --executor ray")
        dropped = set_execution(config, {"executor": args.executor, "workers": args.workers,
                                         "eval_timeout_s": args.eval_timeout_s, "address": args.address},
                                where="command line")
        if args.workers is not None:  # before the search starts, so that the flag is named
            check_local_workers(config, flag=True)
        if dropped:
            print(f"hwnas: --executor {args.executor}: ignoring [execution] {', '.join(dropped)} (the config's "
                  f"executor's option(s))", file=sys.stderr)
        if args.latency:
            _check_latency_flag(config, args)
            config.cost["latency"] = args.latency
        check_at_least(args, {"evaluations": 1, "seed": 0})
        if args.seed is not None and args.seed > MAX_SEED:
            raise ConfigError(f"--seed {args.seed} is out of range; use an integer in [0, {MAX_SEED}]")
        if args.strategy is not None and not args.strategy.strip():
            raise ConfigError("--strategy '' names no strategy; give one (see hwnas list), or leave the flag out")
        for key in ("evaluations", "seed"):
            if getattr(args, key) is not None:
                config.search[key] = getattr(args, key)
        try:
            with kill_as_interrupt():
                summary = run_search(config, run_dir, resume=args.resume, progress=not args.no_progress)
        except KeyboardInterrupt:
            if not (run_dir / Store.FILE_NAME).is_file():  # stopped while starting: nothing to resume
                print(f"\ninterrupted before the search started; nothing is stored in {run_dir}; run the same "
                      f"command again to start it", file=sys.stderr)
                return 130
            again = resume_command(self.parser, args, run_dir, "search")
            print(f"\ninterrupted; every finished evaluation is stored in {run_dir}. Continue with:\n  {again}",
                  file=sys.stderr)
            return 130
        except ExecutionError as exc:  # a cluster --address names: the flag is to blame, not the config
            if args.address is None or getattr(exc, "address", None) != args.address:
                raise
            raise ExecutionError(f"--address {args.address}: cannot reach a Ray cluster there ({exc.reason}); "
                                 f"give a running cluster's address (e.g. 'auto' or 'host:6379'), or leave "
                                 f"--address out to start a local one") from None
        except HwnasError as exc:  # stopped while evaluating: say what is kept and how to go on
            stored = getattr(exc, "stored", None)
            if stored is None or not getattr(exc, "resumable", True):
                raise
            again = resume_command(self.parser, args, run_dir, "search")
            message = (f"{exc.said(CLI_WORDS)}; {counted(stored, 'evaluation')} {'is' if stored == 1 else 'are'} "
                       f"stored in {run_dir}; ")
            # a config error's fix is most likely in the config, which --resume refuses; a plugin's
            # (a PluginError is a ConfigError too) is in its code, and the run resumes once it is fixed
            if isinstance(exc, ConfigError) and not isinstance(exc, PluginError):
                message += (f"a changed config cannot resume them: fix the config and search into a new --out "
                            f"(with the config unchanged, continue with: {again})")
            else:
                message += f"fix this and continue with: {again}"
            try:
                told = type(exc)(message)
            except Exception:  # noqa: BLE001 - a plugin's error class may take other arguments
                told = HwnasError(message)
            raise told from None
        print_search_summary(summary, config, plugins=getattr(args, "plugin", None) or [])
        # a script (CI, a sweep) must notice a run with nothing to pick: its outputs are still written
        return 1 if summary.evaluations and summary.failed == summary.evaluations else 0


def _table_config(args: argparse.Namespace):
    from ..table import arch_column_of, parse_costs, table_search_config

    missing = [flag for flag, v in (("--space", args.space), ("--table", args.table),
                                    ("--accuracy-column", args.accuracy_column), ("--cost", args.cost)) if not v]
    if missing:
        raise ConfigError(f"hwnas search needs a config file, or a table search with {', '.join(missing)} "
                          f"(e.g. --space nb201 --table t.csv --accuracy-column acc --cost latency_ms=lat)")
    return table_search_config(space=args.space, table=args.table,
                               arch_column=arch_column_of(args.table, args.arch_column),
                               accuracy_column=args.accuracy_column, costs=parse_costs(args.cost),
                               strategy=args.strategy or "nsga2", evaluations=args.evaluations or 100,
                               seed=args.seed or 0)


def _check_latency_flag(config, args: argparse.Namespace) -> None:
    """Refuse ``--latency`` where no cost model would read it (it would be ignored silently)."""
    from ..components import DEFAULT_COST_MODELS

    if args.config is None:
        raise ConfigError(f"--latency {args.latency}: a table search reads latency_ms from the table's column "
                          f"(--cost latency_ms=COLUMN) and neither times nor predicts it; drop --latency")
    models = config.cost.get("models", list(DEFAULT_COST_MODELS))
    if isinstance(models, list) and not {"ort", "lut"} & set(models):
        raise ConfigError(f"--latency {args.latency}: [cost] models = {models} in {config.source} has no latency "
                          f"model to switch (ort or lut); drop --latency or add \"ort\" to [cost] models")
