"""Console reports of the CLI (plain text, one fact per line)."""

from __future__ import annotations

import shlex
from typing import Mapping, Sequence

from .config import RunConfig
from .evaluation import Evaluation, weights_name
from .outputs import EVALUATIONS_CSV, FRONT_CSV, PARETO_PNG, WEIGHTS_DIR, Run
from .search.objectives import BUDGETS, METRIC_COLUMNS, OBJECTIVES, budgets_text, format_budget
from .wording import counted


def _metrics_line(metrics: Mapping[str, float], regression: bool = False) -> str:
    """``column=value`` pairs: the built-in metrics, then a plugin's objectives and budgeted
    metrics; on a regression ``accuracy_pct`` (100·R²) is shown as ``R²``."""
    declared = [*METRIC_COLUMNS, *(OBJECTIVES.get(n).column for n in OBJECTIVES.names()),
                *(BUDGETS.get(n).column for n in BUDGETS.names())]
    shown = [c for c in dict.fromkeys(declared) if c in metrics and c not in ("latency_spread_pct", "epochs")]
    return "  ".join(f"R²={metrics[c] / 100:.4g}" if regression and c == "accuracy_pct" else f"{c}={metrics[c]:.4g}"
                     for c in shown)


def _hwnas(plugins: Sequence[str] | None) -> str:
    """``hwnas --plugin MODULE `` for a suggested command: a run's plugin parts are unknown without them."""
    return "hwnas " + "".join(f"--plugin {shlex.quote(m)} " for m in plugins or ())


def print_search_summary(summary, config: RunConfig, plugins: Sequence[str] = ()) -> None:
    """Print what a search did and where its outputs are (``plugins``: the ``--plugin`` modules
    the search was given, which the suggested ``hwnas pick`` needs too)."""
    over = (f"{summary.over_budget} over budget and not trained, " if summary.over_budget else "")
    # the rest succeeded over a budget (a zero-cost score, or --train-over-budget): without this
    # count the line's parts did not add up to its total
    evaluated_over = summary.evaluations - summary.failed - summary.over_budget - summary.feasible
    if evaluated_over > 0:
        over += f"{evaluated_over} evaluated but over budget, "
    # stored as failed, but not broken: a pre-filter chose not to train them
    skipped = f"{summary.prefiltered} skipped by the pre-filter, " if summary.prefiltered else ""
    print(f"evaluations: {summary.evaluations} ({summary.new_evaluations} new this session, "
          f"{summary.failed - summary.prefiltered} failed, {skipped}{over}{summary.feasible} within budgets) "
          f"in {summary.wall_s:.1f} s")
    if summary.asked is not None and summary.evaluations < summary.asked:
        if summary.space_size is not None and summary.evaluations >= summary.space_size:
            print(f"space ran out: all {counted(summary.evaluations, 'architecture')} of the space are evaluated "
                  f"({summary.asked} budgeted)")
        else:
            print(f"the strategy found no new architecture after {counted(summary.evaluations, 'distinct one')} "
                  f"({summary.asked} budgeted)")
    front = summary.front
    if front:
        acc = [e.metrics["accuracy_pct"] for e in front if "accuracy_pct" in e.metrics]
        lat = [e.metrics["latency_ms"] for e in front if "latency_ms" in e.metrics]
        line = f"front: {len(front)} architecture{'s' if len(front) > 1 else ''}"
        if acc and summary.regression:  # accuracy_pct is 100·R² there
            line += f"; best R² {max(acc) / 100:.3f}"
        elif acc:
            line += f"; best accuracy {max(acc):.2f} %"
        if len(lat) > 1:  # no ratio to a zero latency (a table's 0 for an empty cell)
            ratio = f" ({max(lat) / min(lat):.1f}x)" if min(lat) > 0 else ""
            line += f"; latency {min(lat):.4f}-{max(lat):.4f} ms{ratio}"
        elif lat:
            line += f"; latency {lat[0]:.4f} ms"
        print(line)
    else:
        print("front: empty (no successful evaluation" + (" within the budgets)" if config.budgets else ")"))
    d = summary.run_dir
    print(f"front:       {d / FRONT_CSV}\nall:         {d / EVALUATIONS_CSV}\nplot:        {d / PARETO_PNG}")
    if front:
        print(f"next:        {_hwnas(plugins)}pick {shlex.quote(str(d))}"
              + "".join(f" --{k.replace('_', '-')} {format_budget(v)}" for k, v in config.budgets.items()))
    elif not summary.evaluations:
        print("next:        the strategy proposed nothing; check its options, or the space's size")
    elif summary.failed == summary.evaluations:  # hwnas pick would only say there is nothing to pick
        what = "failed or was skipped by the pre-filter" if summary.prefiltered else "failed"
        print(f"next:        every evaluation {what}; read why in the reason column of {d / EVALUATIONS_CSV}")
    elif summary.space_size is not None and summary.evaluations >= summary.space_size:  # none left to find
        print("next:        no architecture of the space meets the budgets; search again (a new --out) with higher ones")
    else:  # the space may hold architectures within the budgets that the search did not reach
        print("next:        no evaluation meets the budgets; search again (a new --out) with more --evaluations "
              "(the space may hold some that do), or with higher budgets")


def _how_picked(run: Run, budgets: Mapping[str, float]) -> str:
    """``best error under max_latency_ms=0.1`` (:func:`hwnas.front.optimised_order`), or the knee."""
    from .front import optimised_order

    if not budgets:
        return "knee of the front"
    return f"best {optimised_order(run.objectives)[0].name} under {budgets_text(budgets)}"


def _run_budgets_applied(run: Run, budgets: Mapping[str, float], asked: Mapping[str, float] | None) -> str | None:
    """``budgets: max_latency_ms=5 is the run's own (tighter than --max-latency-ms 6) ...``: the line
    saying which of the ``budgets`` applied came from the run rather than the flags ``asked``, or
    None when every one is as asked (``asked`` None: not known, nothing said)."""
    if asked is None:
        return None
    own = run.config.budgets
    notes = [f"{name}={format_budget(bound)} is the run's own"
             + (f" (tighter than {BUDGETS.get(name).flag} {format_budget(asked[name])})" if name in asked else "")
             for name, bound in budgets.items() if name in own and bound == own[name]
             and (name not in asked or asked[name] != bound)]
    if not notes:
        return None
    return f"budgets: {', '.join(notes)}; pick always keeps the budgets the run was searched with"


def print_pick(ev: Evaluation, run: Run, budgets: Mapping[str, float], regression: bool = False, *,
               asked: Mapping[str, float] | None = None) -> None:
    """Print a picked architecture and, when the run saved its trained weights, how to export it
    (a table-backed run or a zero-cost one has no trained model to export). ``budgets`` are those
    applied, ``asked`` those given on the command line: the run's own that differ are named."""
    from .front import MEASURED_COLUMNS, latency_figures

    print(f"picked ({_how_picked(run, budgets)}): evaluation {ev.id}")
    if applied := _run_budgets_applied(run, budgets, asked):
        print(applied)
    print(f"arch: {ev.arch}")
    print(_metrics_line(ev.metrics, regression))
    if stopped := stopped_early(ev, run):
        print(stopped)
    if latency_figures(ev.metrics):  # "judged on the measured" only where a budget is on such a metric
        on_measured = any(BUDGETS.get(name).column in MEASURED_COLUMNS for name in budgets)
        print(latency_figures(ev.metrics) + (" (budgets judged on the measured)" if on_measured else ""))
    if (run.path / WEIGHTS_DIR / weights_name(ev.arch)).is_file():
        print(f"export: {_hwnas(run.plugins)}export {shlex.quote(str(run.path))} {shlex.quote(ev.arch)} -o model.onnx")


def stopped_early(ev: Evaluation, run: Run) -> str | None:
    """A ``successive-halving`` candidate stopped below the last rung: its error (and its saved
    weights) come from fewer epochs than the rest of the front's, which the metrics line hides."""
    estimator = run.config.estimator
    if estimator.get("name") != "successive-halving" or "epochs" not in ev.metrics:
        return None
    import inspect

    from .estimate.multi_fidelity import SuccessiveHalvingTrainer

    rungs = estimator.get("rungs") or inspect.signature(SuccessiveHalvingTrainer).parameters["rungs"].default
    epochs, last = float(ev.metrics["epochs"]), float(rungs[-1])
    if epochs >= last:
        return None
    return (f"epochs: {epochs:g} of the last rung's {last:g}: successive halving stopped it early, so its "
            f"error_pct (and its exported weights) are from {epochs:g}-epoch training")


def _change(row: Mapping[str, object], regression: bool) -> str:
    """A variant's accuracy change beside its parent: points, or R² on a regression."""
    change = float(row["accuracy_change_pts"])
    return f"R² {change / 100:+.4f}" if regression else f"accuracy {change:+.2f} pts"


def print_compress_summary(result, *, max_accuracy_drop_pts: float = 1.0) -> None:
    """Print, per parent of this call, its best variant (earlier calls' variants of it included,
    re-timed in this session), then both fronts' hypervolumes and the files."""
    from .compress.results import (COMPRESSED_CSV, COMPRESSED_DIR, COMPRESSED_PNG, STALE, best_variants, built_from,
                                   fronts, hypervolumes)

    new = result.new_rows
    failed = [r for r in new if r["status"] != "ok"]
    slower = [r for r in new if r.get("slower_than_parent") is True]
    variants = [r for r in new if r["variant"] != "original"]
    print(f"variants: {len(variants)} ({len(failed)} failed, {len(slower)} slower than their parent: "
          f"never recommended)")
    kept = result.kept_rows
    stale = [r for r in kept if r["status"] == STALE]
    outdated = {id(r): before for before, _ in result.replaced for r in built_from(stale, before)}
    missing = len(stale) - len(outdated)
    if kept:
        print(f"earlier variants of these parents: {len(kept) - len(stale)} re-timed beside them"
              + (f", {missing} stale (ONNX file missing: no ratio, never recommended)" if missing else "")
              + (f", {len(outdated)} stale (built from a replaced variant: never recommended)" if outdated else ""))
    print(f"best variant per parent (fastest, losing <= {max_accuracy_drop_pts:g} "
          + ("points of 100·R²):" if result.regression else "accuracy points):"))
    for arch, row in best_variants([*new, *kept], max_accuracy_drop_pts=max_accuracy_drop_pts).items():
        if row is None:
            print(f"  {arch}: none")
        else:
            print(f"  {arch}: {row['variant']}  latency x{row['latency_ratio']:.2f}  "
                  f"{_change(row, result.regression)}  macs {row['macs']:.3g}")
    for before, now in result.replaced:
        shown = ("" if not isinstance(before.get("accuracy_pct"), float) else f", R² {before['accuracy_pct'] / 100:.4f}"
                 if result.regression else f", accuracy {before['accuracy_pct']:.2f} %")
        derived = [r["variant"] for r in built_from(stale, before)]
        print(f"replaced: {before['parent_arch']} {before['variant']} made earlier with {before.get('settings')}"
              f"{shown}; now {now.get('settings')}"
              + (f"; stale now, as built from the earlier {before['variant']}: {', '.join(map(str, derived))} "
                 f"(compress them again to rebuild them from the new one)" if derived else ""))
    hv = hypervolumes(result.rows, result.objectives, result.scale)
    # one parent sits at a corner of the scale its variants span: its hypervolume is near 0 whatever they are
    lone = len(fronts(result.rows, result.objectives, result.scale)[0]) == 1
    print(f"hypervolume: original front {hv['original']:.4f}, after compression {hv['combined']:.4f} (on the search's "
          f"figures, each variant at the ratios measured beside its parent"
          + ("; the original front is one architecture, so the two figures say only that its variants add "
             "trade-offs: compare them by their latency and accuracy above)" if lone else ")"))
    for r in failed:
        print(f"failed: {r['parent_arch']} {r['variant']}: {r['reason']}")
    d = result.run_dir
    print(f"table:       {d / COMPRESSED_CSV}\nmodels:      {d / COMPRESSED_DIR}/\nplot:        {d / COMPRESSED_PNG}")
    print(f"next:        {_hwnas(result.plugins)}pick {shlex.quote(str(d))} --include-compressed")


def print_pick_variant(row: Mapping[str, object], scaled: Mapping[str, float], run: Run,
                       budgets: Mapping[str, float], regression: bool = False, *,
                       asked: Mapping[str, float] | None = None) -> None:
    """Print a picked compressed variant (a row of compressed.csv) on the run's scale
    (``scaled``: what it was picked on) and where its ONNX file is (``asked``: as for
    :func:`print_pick`)."""
    print(f"picked ({_how_picked(run, budgets)}): compressed variant {row['variant']} of evaluation {row['parent_id']}")
    if applied := _run_budgets_applied(run, budgets, asked):
        print(applied)
    print(f"arch: {row['parent_arch']}")
    print(f"settings: {row['settings']}")
    print(_metrics_line(scaled, regression) + f"  model_size_mb={row['model_size_mb']:.4g}")
    parent = next((ev.metrics for ev in run.evaluations if ev.arch == row["parent_arch"]), {})
    applied = [name for name, key in (("latency", "latency_ms"), ("accuracy", "accuracy_pct")) if key in parent]
    print(f"measured beside its parent: latency x{row['latency_ratio']:.2f}, {_change(row, regression)}; "
          + (f"the {' and '.join(applied)} above {'are' if len(applied) > 1 else 'is'} the parent's from this run "
             f"with {'these changes' if len(applied) > 1 else 'this change'} applied, the rest the variant's own"
             if applied else "the metrics above are the variant's own"))
    print(f"onnx: {run.path / str(row['onnx'])}")
