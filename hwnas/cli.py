"""The ``hwnas`` command line: ``search``, ``pick``, ``export``, ``list``.

``main(argv) -> int`` is testable in-process. User errors print one line and return 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from .exceptions import HwnasError
from .search.objectives import BUDGETS


def _add_budget_flags(p: argparse.ArgumentParser) -> None:
    for name in BUDGETS.names():
        b = BUDGETS.get(name)
        p.add_argument(b.flag, dest=name, type=float, metavar=b.unit.upper(),
                       help=f"budget: {b.column} <= this ({b.unit})")


def _budgets(args: argparse.Namespace) -> dict[str, float]:
    return {n: getattr(args, n) for n in BUDGETS.names() if getattr(args, n) is not None}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hwnas", description="Hardware-aware neural architecture search.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("search", help="run (or resume) a search from a TOML config")
    p.add_argument("config", help="run config, e.g. examples/digits.toml")
    p.add_argument("--out", help="run directory (default: runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue the run stored in --out")
    p.add_argument("--evaluations", type=int, help="override [search] evaluations")
    p.add_argument("--seed", type=int, help="override [search] seed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_budget_flags(p)

    p = sub.add_parser("pick", help="pick the best architecture under budgets (the knee without)")
    p.add_argument("run_dir")
    _add_budget_flags(p)

    p = sub.add_parser("export", help="export an evaluated architecture (trained weights) to ONNX")
    p.add_argument("run_dir")
    p.add_argument("arch", help="canonical architecture string or evaluation id")
    p.add_argument("-o", "--output", required=True, help="ONNX file to write")
    p.add_argument("--untrained", action="store_true", help="allow an architecture without stored weights")

    sub.add_parser("list", help="list spaces, objectives, budgets, datasets, estimators, strategies, targets")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 user error, 130 interrupted)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return _COMMANDS[args.command](args)
    except HwnasError as exc:
        print(f"hwnas: error: {exc}", file=sys.stderr)
        return 2


def _search(args: argparse.Namespace) -> int:
    from .config import load_config, set_budgets
    from .search.runner import run_search

    config = load_config(args.config)
    set_budgets(config, _budgets(args), where="command line")
    for key in ("evaluations", "seed"):
        value = getattr(args, key)
        if value is not None:
            if value < (1 if key == "evaluations" else 0):
                raise HwnasError(f"--{key} {value} is out of range; use an integer >= {1 if key == 'evaluations' else 0}")
            config.search[key] = value
    run_dir = Path(args.out or Path("runs") / Path(args.config).stem)
    try:
        summary = run_search(config, run_dir, resume=args.resume, progress=not args.no_progress)
    except KeyboardInterrupt:
        print(f"\ninterrupted; every finished evaluation is stored in {run_dir}. Continue with:\n"
              f"  hwnas search {args.config} --out {run_dir} --resume", file=sys.stderr)
        return 130
    from .report import print_search_summary

    print_search_summary(summary, config)
    return 0


def _pick(args: argparse.Namespace) -> int:
    from .front import pick
    from .outputs import load_run
    from .report import print_pick

    run = load_run(args.run_dir)
    budgets = _budgets(args)
    ok = [ev for ev in run.evaluations if ev.ok]
    if not ok:
        raise HwnasError(f"{args.run_dir}: no successful evaluation to pick from")
    chosen = ok[pick([ev.metrics for ev in ok], run.objectives, budgets)]
    print_pick(chosen, run, budgets)
    return 0


def _export(args: argparse.Namespace) -> int:
    from .export import export_run_arch

    ev, path = export_run_arch(args.run_dir, args.arch, args.output, untrained=args.untrained)
    latency = ev.metrics.get("latency_ms") if ev else None
    extra = f" (latency_ms in the run: {latency:.4f})" if latency is not None else ""
    print(f"wrote {path}{extra}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from .cost import COST_MODELS
    from .cost.target import targets_dir
    from .data import DATASETS
    from .estimate import ESTIMATORS
    from .search.objectives import OBJECTIVES
    from .search.strategies import STRATEGIES
    from .space import SPACES

    rows = [("spaces", SPACES.names()), ("objectives", OBJECTIVES.names()), ("budgets", BUDGETS.names()),
            ("datasets", DATASETS.names()), ("estimators", ESTIMATORS.names()),
            ("cost models", COST_MODELS.names()), ("strategies", STRATEGIES.names()),
            ("targets", sorted(p.stem for p in targets_dir().glob("*.toml")))]
    for label, names in rows:
        print(f"{label:12s} {', '.join(names)}")
    return 0


_COMMANDS = {"search": _search, "pick": _pick, "export": _export, "list": _list}

def main_entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    main_entry()
