"""Console reports of the CLI (plain text, one fact per line)."""

from __future__ import annotations

from typing import Mapping

from .config import RunConfig
from .evaluation import Evaluation
from .outputs import EVALUATIONS_CSV, FRONT_CSV, PARETO_PNG, Run
from .search.objectives import METRIC_COLUMNS


def _metrics_line(metrics: Mapping[str, float]) -> str:
    shown = [c for c in METRIC_COLUMNS if c in metrics and c not in ("latency_spread_pct", "epochs")]
    return "  ".join(f"{c}={metrics[c]:.4g}" for c in shown)


def print_search_summary(summary, config: RunConfig) -> None:
    """Print what a search did and where its outputs are."""
    print(f"evaluations: {summary.evaluations} ({summary.new_evaluations} new this session, "
          f"{summary.failed} failed, {summary.feasible} within budgets) in {summary.wall_s:.1f} s")
    front = summary.front
    if front:
        acc = [e.metrics["accuracy_pct"] for e in front if "accuracy_pct" in e.metrics]
        lat = [e.metrics["latency_ms"] for e in front if "latency_ms" in e.metrics]
        line = f"front: {len(front)} architectures"
        if acc:
            line += f"; best accuracy {max(acc):.2f} %"
        if lat:
            line += f"; latency {min(lat):.4f}-{max(lat):.4f} ms ({max(lat) / min(lat):.1f}x)"
        print(line)
    else:
        print("front: empty (no successful evaluation within the budgets)")
    d = summary.run_dir
    print(f"front:       {d / FRONT_CSV}\nall:         {d / EVALUATIONS_CSV}\nplot:        {d / PARETO_PNG}")
    print(f"next:        hwnas pick {d}" + "".join(f" --{k.replace('_', '-')} {v:g}" for k, v in config.budgets.items()))


def print_pick(ev: Evaluation, run: Run, budgets: Mapping[str, float]) -> None:
    """Print a picked architecture and how to export it."""
    how = ("best " + run.objectives[0].name + " under " + ", ".join(f"{k}={v:g}" for k, v in budgets.items())
           if budgets else "knee of the front")
    print(f"picked ({how}): evaluation {ev.id}")
    print(f"arch: {ev.arch}")
    print(_metrics_line(ev.metrics))
    print(f"export: hwnas export {run.path} '{ev.arch}' -o model.onnx")
