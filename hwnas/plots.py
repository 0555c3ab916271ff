"""Plots of a run: the Pareto front over all evaluations (matplotlib, headless)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

from .evaluation import OVER_BUDGET, Evaluation, unsuccessful
from .search.objectives import BUDGETS, Objective, format_budget, is_feasible


def plot_front(path: Path, evaluations: Sequence[Evaluation], front: Sequence[int],
               objectives: Sequence[Objective], budgets: Mapping[str, float]) -> None:
    """Scatter of every successful evaluation on the first two objectives, front highlighted.

    With one objective the second axis is the evaluation order. Budget lines are drawn for
    budgets on the plotted metrics within one data span of the data; a budget farther out is
    named in the legend as beyond the plot instead, and one on a metric not plotted is named too.
    With more than two objectives the front (non-dominated over all of them) is drawn as points,
    not a line, and the title names the objectives not plotted.
    A run without a successful evaluation gets a plot that says so.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x_obj = objectives[1] if len(objectives) > 1 else None
    y_obj = objectives[0]
    ok = [ev for ev in evaluations if ev.ok]

    def xy(evs):
        xs = [ev.metrics.get(x_obj.column) if x_obj else ev.id for ev in evs]
        return xs, [ev.metrics.get(y_obj.column) for ev in evs]

    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    ax.set_xlabel(x_obj.label if x_obj else "evaluation")
    ax.set_ylabel(y_obj.label)
    if len(objectives) > 2:
        ax.set_title("not plotted: " + ", ".join(o.label for o in objectives[2:]), fontsize=9)
    if not ok:
        ax.text(0.5, 0.5, f"no successful evaluation ({unsuccessful(evaluations)}; reasons in evaluations.csv)"
                if evaluations else "no evaluation has finished yet",
                ha="center", va="center", transform=ax.transAxes)
        fig.savefig(path)
        plt.close(fig)
        return
    feas = [ev for ev in ok if is_feasible(ev.metrics, budgets)]
    infeas = [ev for ev in ok if not is_feasible(ev.metrics, budgets)]
    if infeas:
        ax.scatter(*xy(infeas), s=12, c="lightgray", label="over budget")
    untrained = [ev for ev in evaluations if ev.status == OVER_BUDGET and x_obj and x_obj.column in ev.metrics]
    if untrained:  # no accuracy to plot: their cost, as ticks along the top edge
        ax.scatter(xy(untrained)[0], [0.98] * len(untrained), marker="|", s=60, c="gray",
                   transform=ax.get_xaxis_transform(), label=f"over budget, not trained ({len(untrained)})")
    ax.scatter(*xy(feas), s=14, c="tab:blue", alpha=0.6, label="evaluated")
    fr = sorted((evaluations[i] for i in front), key=lambda ev: xy([ev])[0][0])
    # non-dominated over more than the two plotted objectives: a line through the points would
    # read as a trade-off curve they do not form
    many = len(objectives) > 2
    ax.plot(*xy(fr), "o" if many else "o-", c="tab:red", ms=5,
            label=f"Pareto front ({len(fr)}{f', over all {len(objectives)} objectives' if many else ''})")
    if untrained:  # the ticks are placed in axes height, which leaves the x range alone: widen it
        ax.dataLim.update_from_data_x(xy(untrained)[0], ignore=False)
        ax.autoscale_view()
    log_x = x_obj is not None and x_obj.column in ("macs", "params")
    xs = xy(ok + untrained)[0]
    ys = xy(ok)[1]
    for name, bound in budgets.items():
        column = BUDGETS.get(name).column
        if x_obj is not None and column == x_obj.column:
            line, values, log = ax.axvline, xs, log_x
        elif column == y_obj.column:
            line, values, log = ax.axhline, ys, False
        else:  # named, so that points grey "over budget" on neither axis's budget say why
            ax.plot([], [], ls="none", label=f"{name} = {format_budget(bound)} (metric not plotted)")
            continue
        if _near(bound, values, log):
            line(bound, ls="--", c="k", lw=1, label=f"{name} = {format_budget(bound)}")
        else:  # a line there would squash the data into a corner (and overflow a log axis)
            ax.plot([], [], ls="none", label=f"{name} = {format_budget(bound)} (beyond the plot)")
    if log_x:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _near(bound: float, values: Sequence[float | None], log: bool) -> bool:
    """True when ``bound`` lies within one data span of the plotted ``values``.

    The span is measured in decades on a log axis (at least one decade) and is the values'
    magnitude (or 1) when they are all equal, so a budget just past the data still widens the
    axis to show its line, while one far beyond it is left off.
    """
    finite = [float(v) for v in values if v is not None and math.isfinite(v) and (v > 0 or not log)]
    if not finite or not math.isfinite(bound) or (log and bound <= 0):
        return False
    scale = math.log10 if log else float
    lo, hi, at = scale(min(finite)), scale(max(finite)), scale(bound)
    span = max(hi - lo, 1.0) if log else (hi - lo) or abs(hi) or 1.0
    return lo - span <= at <= hi + span
