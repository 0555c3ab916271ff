"""``hwnas pick``: the best architecture under budgets, or the knee of the front."""

from __future__ import annotations

import argparse
import shlex
import sys

from ..config import check_budget
from ..evaluation import OVER_BUDGET, status_counts, unsuccessful
from ..exceptions import BudgetError, ConfigError, HwnasError
from ..search.objectives import BUDGETS
from ..wording import counted
from .base import COMMANDS, Command, add_budget_flags, budgets_from, unfinished_search_note


@COMMANDS.register("pick")
class PickCommand(Command):
    help = "pick the best architecture under budgets (the knee without)"

    def configure(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("run_dir")
        add_budget_flags(p)
        p.add_argument("--include-compressed", action="store_true",
                       help="also choose among the compressed variants of compressed.csv that are faster "
                            "than their parent (see hwnas compress)")

    def run(self, args: argparse.Namespace) -> int:
        from ..front import pick
        from ..outputs import load_run
        from ..report import print_pick, print_pick_variant

        run = load_run(args.run_dir)
        budgets = {name: check_budget(name, value, BUDGETS.get(name).flag) for name, value in budgets_from(args).items()}
        ok = [ev for ev in run.evaluations if ev.ok]
        if not run.evaluations:  # nothing finished yet: nothing failed
            from ..search.run_folder import writer

            if running := writer(run.path):  # a --resume now would be refused
                raise HwnasError(f"{args.run_dir}: holds no evaluation yet; its search is still running (pid "
                                 f"{running}): pick again when it has finished")
            raise HwnasError(f"{args.run_dir}: holds no evaluation yet (its search stopped before one finished); "
                             f"continue it with the same hwnas search command plus --out {args.run_dir} --resume")
        if not ok:
            over = status_counts(run.evaluations)[OVER_BUDGET]
            raise HwnasError(f"{args.run_dir}: no successful evaluation to pick from (of {len(run.evaluations)}, "
                             f"{unsuccessful(run.evaluations)}); " + (
                                 # not --train-over-budget: it trains them, but pick keeps to the run's budgets
                                 "search again (a new --out) with higher budgets or more evaluations"
                                 if over else "read why in the reason column of evaluations.csv"))
        recorded = {k for ev in ok for k in ev.metrics}
        for name in budgets:
            column = BUDGETS.get(name).column
            if column not in recorded:
                usable = [BUDGETS.get(n).flag for n in BUDGETS.names() if BUDGETS.get(n).column in recorded]
                raise ConfigError(f"{BUDGETS.get(name).flag}: {args.run_dir} recorded no {column}; "
                                  + (f"use {', '.join(usable)}" if usable else "it has no metric a budget applies to"))
        # the budgets a row is judged on: the run's own [budgets] always hold (front.csv leaves out
        # what breaks them), a flag only tightens one
        applied = {k: min(v, budgets.get(k, v)) for k, v in {**budgets, **run.config.budgets}.items()}
        compressed = _compressed_rows(run) if args.include_compressed else []
        variants = _pickable(run, compressed)

        rows = [ev.metrics for ev in ok] + [scaled for _, scaled in variants]
        try:
            chosen = pick(rows, run.objectives, budgets, required=run.config.budgets)
        except BudgetError as exc:
            slower = _slower_meeting(compressed, applied)
            from ..compress.results import COMPRESSED_CSV

            if not args.include_compressed and (run.path / COMPRESSED_CSV).is_file():
                # a compressed variant meets it: "raise the budget" alone hid it
                try:
                    recommended = [scaled for _, scaled in _pickable(run, _compressed_rows(run), quiet=True)]
                    pick([ev.metrics for ev in ok] + recommended, run.objectives, budgets, required=run.config.budgets)
                except HwnasError:  # none meets it (or compressed.csv is unreadable): the budget's own error
                    raise exc from None
                raise BudgetError(f"{exc}, or pass --include-compressed: a compressed variant in "
                                  f"{COMPRESSED_CSV} meets it") from None
            if not slower:
                raise
            named = ", ".join(slower[:3]) + (", ..." if len(slower) > 3 else "")
            raise BudgetError(f"{exc}, or take the onnx file of a variant in compressed.csv that meets it "
                              f"({counted(slower, 'variant')}: {named}), never picked as slower than its parent") from None
        note = unfinished_search_note(run, args.run_dir, "this pick is among", "pick again")
        if note:
            print(note, file=sys.stderr)
        shown = applied if budgets else {}
        regression = _is_regression(run)
        if chosen < len(ok):
            print_pick(ok[chosen], run, shown, regression, asked=budgets)
        else:
            print_pick_variant(*variants[chosen - len(ok)], run, shown, regression, asked=budgets)
        return 0


def _compressed_rows(run) -> list[tuple[dict, dict]]:
    """The rows of the run's ``compressed.csv`` (read once) whose parent is one of the run's
    successful evaluations, each with its metrics on the run's scale
    (:func:`~hwnas.compress.results.on_parent_scale`): a variant timed in another session than the
    search is compared with the run's rows through its ratio to its parent only. The parent is
    found by ``parent_arch``, as ``hwnas compress`` itself finds it
    (:func:`~hwnas.compress.results.search_scale`)."""
    from ..compress.pipeline import compress_lacks
    from ..compress.results import COMPRESSED_CSV, on_parent_scale, read_compressed, search_scale
    from ..exceptions import CompressError
    from ..export import untrained

    path = run.path / COMPRESSED_CSV
    if not path.is_file() and (lacks := compress_lacks(run.config)):
        raise CompressError(f"--include-compressed: {run.path} has no compressed variants and cannot have any: "
                            f"its config has {lacks} (a table-backed run has no models to compress); pick without "
                            f"--include-compressed")
    if not path.is_file() and (why := untrained(run.config)):
        # hwnas compress would refuse it too: it compresses trained weights, and none were saved
        raise CompressError(f"--include-compressed: {run.path} has no compressed variants and cannot have any: "
                            f"{why} to compress; pick without --include-compressed, or search with a training "
                            "estimator (e.g. proxy-trainer)")
    if not path.is_file():
        raise CompressError(f"--include-compressed: {path} does not exist; "
                            f"run 'hwnas compress {shlex.quote(str(run.path))} --front --prune 0.5' first")
    scale = search_scale(run)
    return [(r, on_parent_scale(r, scale[str(r.get("parent_arch"))])) for r in read_compressed(path)
            if str(r.get("parent_arch")) in scale]


def _pickable(run, compressed: list[tuple[dict, dict]], quiet: bool = False) -> list[tuple[dict, dict]]:
    """The recommended ``compressed`` rows (built, measured, faster than their parent) whose ONNX
    file is there, with their scaled metrics; those whose file is gone are said on stderr (unless
    ``quiet``)."""
    variants, missing = [], []
    for r, scaled in compressed:
        if r.get("recommended") is True:
            if not (run.path / str(r.get("onnx") or "")).is_file():  # nothing to deploy: never picked
                missing.append(f"{r['parent_arch']} {r['variant']}")
                continue
            variants.append((r, scaled))
    if missing and not quiet:
        print(f"hwnas: note: {counted(missing, 'compressed variant')} left out, their ONNX file is missing from "
              f"{run.path / 'compressed'} ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); "
              f"compress them again to include them", file=sys.stderr)
    return variants


def _slower_meeting(compressed: list[tuple[dict, dict]], budgets: dict) -> list[str]:
    """``parent_id variant`` of each built variant of ``compressed`` slower than its parent (never
    picked) that meets ``budgets`` on the run's scale: a memory or size budget that only INT8
    meets is then named."""
    from ..front import judged
    from ..search.objectives import is_feasible

    return [f"{r['parent_id']} {r['variant']}" for r, scaled in compressed
            if r.get("slower_than_parent") is True and r.get("status") == "ok" and is_feasible(judged(scaled), budgets)]


def _is_regression(run) -> bool:
    """Whether the run's task is a regression (its ``accuracy_pct`` is 100·R², printed as R²): as
    the search recorded it, or, for a run stored before it did, from the task's data (a run whose
    data is no longer there reads as classification rather than failing the pick)."""
    from ..data import load_task
    from ..exceptions import HwnasError

    if run.regression is not None or not run.config.task:
        return bool(run.regression)
    try:
        return load_task(run.config.task, source=str(run.path)).is_regression
    except HwnasError:
        return False

