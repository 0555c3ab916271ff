"""``hwnas search``: run or resume a search from a TOML config."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..exceptions import ConfigError
from .base import COMMANDS, Command, add_budget_flags, budgets_from


@COMMANDS.register("search")
class SearchCommand(Command):
    help = "run (or resume) a search from a TOML config"

    def configure(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("config", help="run config, e.g. examples/digits.toml")
        p.add_argument("--out", help="run directory (default: runs/<config name>)")
        p.add_argument("--resume", action="store_true", help="continue the run stored in --out")
        p.add_argument("--evaluations", type=int, help="override [search] evaluations")
        p.add_argument("--seed", type=int, help="override [search] seed")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        add_budget_flags(p)

    def run(self, args: argparse.Namespace) -> int:
        from ..config import load_config, set_budgets
        from ..report import print_search_summary
        from ..search.runner import run_search

        config = load_config(args.config)
        set_budgets(config, budgets_from(args), where="command line")
        for key, low in (("evaluations", 1), ("seed", 0)):
            value = getattr(args, key)
            if value is not None:
                if value < low:
                    raise ConfigError(f"--{key} {value} is out of range; use an integer >= {low}")
                config.search[key] = value
        run_dir = Path(args.out or Path("runs") / Path(args.config).stem)
        try:
            summary = run_search(config, run_dir, resume=args.resume, progress=not args.no_progress)
        except KeyboardInterrupt:
            print(f"\ninterrupted; every finished evaluation is stored in {run_dir}. Continue with:\n"
                  f"  hwnas search {args.config} --out {run_dir} --resume", file=sys.stderr)
            return 130
        print_search_summary(summary, config)
        return 0
