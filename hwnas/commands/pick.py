"""``hwnas pick``: the best architecture under budgets, or the knee of the front."""

from __future__ import annotations

import argparse

from ..exceptions import HwnasError
from .base import COMMANDS, Command, add_budget_flags, budgets_from


@COMMANDS.register("pick")
class PickCommand(Command):
    help = "pick the best architecture under budgets (the knee without)"

    def configure(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("run_dir")
        add_budget_flags(p)

    def run(self, args: argparse.Namespace) -> int:
        from ..front import pick
        from ..outputs import load_run
        from ..report import print_pick

        run = load_run(args.run_dir)
        budgets = budgets_from(args)
        ok = [ev for ev in run.evaluations if ev.ok]
        if not ok:
            raise HwnasError(f"{args.run_dir}: no successful evaluation to pick from")
        chosen = ok[pick([ev.metrics for ev in ok], run.objectives, budgets)]
        print_pick(chosen, run, budgets)
        return 0
