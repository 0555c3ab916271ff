"""``hwnas profile``: build a latency table for a target and space, with fidelity and device reports."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..exceptions import ConfigError
from .base import COMMANDS, Command


def default_task_config() -> Path:
    """The default task: the repository's ``examples/digits.toml``."""
    from ..cost.target import targets_dir

    return targets_dir().parent / "examples" / "digits.toml"


@COMMANDS.register("profile")
class ProfileCommand(Command):
    help = "measure a latency table for a target and space (+ fidelity and device report)"

    def configure(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--target", required=True, help="target name in targets/ or a .toml path")
        p.add_argument("--space", help="space name; must match the task config's [space] (default: its name)")
        p.add_argument("--task", help="run config giving the input size and [space] options "
                                      "(default: examples/digits.toml)")
        p.add_argument("--out", help="table file (default: latency_tables/<target>/<this device>/<space>-<CxHxW>.json)")
        p.add_argument("--calibration", type=int, default=1000,
                       help="random networks the calibration is fitted on (default 1000)")
        p.add_argument("--fidelity", type=int, default=100, help="other random networks the table is checked on")
        p.add_argument("--seed", type=int, default=0, help="seed of the network sampling")
        p.add_argument("--passes", type=int, help="timing passes (default: the target's, at least 40)")
        p.add_argument("--runs-per-pass", type=int, help="runs per pass (default: the target's)")
        p.add_argument("--no-device-report", action="store_true", help="skip the profiler and batch report")
        p.add_argument("--export-workers", type=int, default=os.cpu_count() or 1,
                       help="processes exporting the ONNX models before timing (default: the CPU count)")

    def run(self, args: argparse.Namespace) -> int:
        from ..components import build_space
        from ..config import load_config
        from ..cost import load_target
        from ..cost.lut import find_table
        from ..data import load_task
        from ..profile import build_table, format_report

        for key in ("calibration", "fidelity", "passes", "runs_per_pass", "export_workers"):
            value = getattr(args, key)
            low = 2 if key == "passes" else (1 if key in ("calibration", "runs_per_pass", "export_workers") else 0)
            if value is not None and value < low:
                raise ConfigError(f"--{key.replace('_', '-')} {value} is out of range; use an integer >= {low}")
        target = load_target(args.target)
        config = load_config(args.task or default_task_config())
        if args.space and args.space != config.space["name"]:
            raise ConfigError(f"--space {args.space!r} differs from [space] name = {config.space['name']!r} in "
                              f"{config.source}; pass a --task config whose [space] is {args.space!r}")
        space = build_space(config, load_task(config.task, source=config.source))
        out = find_table(target, space, args.out)
        table = build_table(target, space, calibration=args.calibration, fidelity=args.fidelity, seed=args.seed,
                            passes=args.passes, runs_per_pass=args.runs_per_pass,
                            device_report=not args.no_device_report, export_workers=args.export_workers)
        table.meta["task_config"] = str(config.source)
        table.save(out)
        print(format_report(table))
        print(f"wrote {out}")
        return 0
