"""``hwnas profile``: build a latency table for a target and space, with fidelity and device reports."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..exceptions import ConfigError
from .base import COMMANDS, Command, check_at_least


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
                       help="random networks the calibration is fitted on, besides the space's smallest and "
                            "largest (default 1000)")
        p.add_argument("--fidelity", type=int, default=100,
                       help="other random networks the table is checked on (0: no check; default 100)")
        p.add_argument("--seed", type=int, default=0, help="seed of the network sampling (default 0)")
        p.add_argument("--passes", type=int, help="timing passes (default: the target's, at least 40)")
        p.add_argument("--runs-per-pass", type=int, help="runs per pass (default: the target's)")
        p.add_argument("--no-device-report", action="store_true", help="skip the profiler and batch report")
        p.add_argument("--export-workers", type=int, default=os.cpu_count() or 1,
                       help="processes exporting the ONNX models before timing (default: the CPU count)")

    def run(self, args: argparse.Namespace) -> int:
        from ..components import build_space
        from ..config import load_config, max_local_processes
        from ..cost import load_target, require_provider
        from ..cost.lut_paths import local_table_path, own_table_path
        from ..cost.target import MAX_PASSES, MAX_RUNS, targets_dir
        from ..data import load_task
        from ..exceptions import SpaceError, TargetError
        from ..outputs import check_file_to_write
        from ..profile import build_table, format_report
        from ..space import SPACES
        from ..space.base import SearchSpace

        check_at_least(args, {"calibration": 1, "fidelity": 0, "seed": 0, "passes": 2, "runs_per_pass": 1,
                              "export_workers": 1})
        for flag, value, most in (("--passes", args.passes, MAX_PASSES), ("--runs-per-pass", args.runs_per_pass, MAX_RUNS),
                                  ("--export-workers", args.export_workers, max_local_processes())):
            if value is not None and value > most:
                raise ConfigError(f"{flag} {value} is out of range; use an integer <= {most}")
        if args.out:  # checked before minutes of work, not when the table is written
            check_file_to_write(args.out, "--out", "the table's file name", "<space>-<C>x<H>x<W>.json")
            _check_table_out(Path(args.out))
        if args.space and args.space not in SPACES.names():
            raise ConfigError(f"--space {args.space!r} is not a known space; use one of {', '.join(SPACES.names())}")
        if args.space and SPACES.get(args.space).all_layer_signatures is SearchSpace.all_layer_signatures:
            raise SpaceError(_NO_TABLE.format(space=args.space))
        target = load_target(args.target)
        try:
            require_provider(target)  # before exporting a thousand models
        except TargetError as exc:  # a phone's or a GPU box's target: its table is built there
            raise TargetError(f"{str(exc).rstrip('.')}; or build the table on a machine where target {target.name} "
                              f"runs (this same command there) and bring it back: put it in "
                              f"latency_tables/{target.name}/<that device>/ here with \"remote\": true in its "
                              f"meta, or name it in a config's [cost.lut] path") from None
        config = load_config(args.task or default_task_config())
        if args.space and args.space != config.space["name"]:
            raise ConfigError(f"--space {args.space!r} differs from [space] name = {config.space['name']!r} in "
                              f"{config.source}; pass a --task config whose [space] is {args.space!r}")
        if not config.task:  # load_task would give the default dataset's input size, silently
            raise ConfigError(f"--task {config.source} has no [task]; the table's input size comes from it; add one "
                              f"(e.g. [task] dataset = \"digits\")")
        space = build_space(config, load_task(config.task, source=config.source))
        try:
            space.all_layer_signatures()
        except SpaceError:
            raise SpaceError(_NO_TABLE.format(space=space.name)) from None
        out = Path(args.out) if args.out else local_table_path(target, space)  # never a remote table
        if not args.out:
            _check_default_table(out, space, config.source, target)
        table = build_table(target, space, calibration=args.calibration, fidelity=args.fidelity, seed=args.seed,
                            passes=args.passes, runs_per_pass=args.runs_per_pass,
                            device_report=not args.no_device_report, export_workers=args.export_workers)
        table.meta["task_config"] = str(config.source)
        table.save(out)
        print(format_report(table))
        print(f"wrote {out}")
        own = own_table_path(space, str(config.source))
        # a table of another target than the config's would be refused by its searches: say what to change
        shown = (target.name if Path(target.source).resolve().parent == targets_dir().resolve()
                 else str(Path(target.source).resolve()))
        also = "" if _config_target_name(config) == target.name else f" once its [cost] target is \"{shown}\""
        if own is not None and out.resolve() == own.resolve():
            print(f"a search of {config.source} finds it there by itself{also}")
        elif own is not None and own.is_file():  # read ahead of this one
            print(f"note: a search of {config.source} reads its own table {own} first; rebuild that one with "
                  f"--out {own}, or remove it to use {out}")
        elif args.out:  # not where searches look by themselves; a config's relative path is read from its folder
            print(f"a search reads it with [cost.lut] path = \"{out.resolve()}\" in its config ({config.source})"
                  + (f" and [cost] target = \"{shown}\"" if also else ""))
        return 0


def _config_target_name(config) -> str | None:
    """The name of the config's ``[cost] target`` (None: none, or one that does not load)."""
    from ..cost import load_target
    from ..exceptions import HwnasError

    given = (config.cost or {}).get("target")
    try:
        return load_target(given).name if given else None
    except HwnasError:
        return None


_NO_TABLE = ("space {space!r} does not describe its layers, so it cannot have a latency table; profile a space "
             "that does (mbv3), or time every candidate of a {space} search with `hwnas search ... --latency measure`")


def _check_default_table(out: Path, space, source, target) -> None:
    """Refuse to overwrite the default table of another space configuration (a config that narrows
    the space's choices would replace the table every search of the full space reads), or of other
    target settings under a bundled target's name (a copy of targets/<name>.toml whose threads or
    batch were changed but not its name would replace the table of the target it was copied from)."""
    import shlex

    from ..cost.lut_paths import beside_config
    from ..cost.lut_table import MATCHED_SETTINGS, LatencyTable, space_differences
    from ..cost.target import targets_dir
    from ..exceptions import LatencyTableError

    try:
        meta = LatencyTable.load(out).meta
    except LatencyTableError:  # none, or unreadable: nothing worth keeping
        return
    # only a copy of a bundled target: a user's own target file, edited, rebuilds its own table (as the search's hint says)
    bundled = targets_dir() / f"{target.name}.toml"
    copied = bundled.is_file() and not (target.source and Path(target.source).resolve() == bundled.resolve())
    settings = [f"{k} = {meta[k]!r}, not {getattr(target, k)!r}" for k in MATCHED_SETTINGS
                if k in meta and meta[k] != getattr(target, k)]
    if copied and settings:
        raise ConfigError(f"{out} holds the table of target {target.name!r} built with {'; '.join(settings)} and "
                          f"would be overwritten; give the target {target.source} a name of its own "
                          f"(name = \"...\"), or write this table elsewhere with --out")
    differ = space_differences(meta["space"], space)
    if differ:
        suggestion = shlex.quote(str(beside_config(space, str(source))))
        raise ConfigError(f"{out} holds the table of another {space.name} configuration ({', '.join(differ)} differ "
                          f"from {source}'s [space]) and would be overwritten; write this one elsewhere, e.g. "
                          f"--out {suggestion} (a search of {source} finds it there)")


def _check_table_out(out: Path) -> None:
    """Refuse an ``--out`` that is not a ``.json`` name, or an existing file that is not a latency
    table (it would be overwritten minutes later)."""
    import json

    from ..cost.lut_table import FORMAT

    if out.suffix != ".json":
        raise ConfigError(f"--out {out}: a latency table is a .json file; e.g. --out {out.with_suffix('.json')}")
    if out.exists():
        try:
            is_table = json.loads(out.read_text()).get("format") == FORMAT
        except (OSError, ValueError, AttributeError):
            is_table = False
        if not is_table:
            raise ConfigError(f"--out {out} exists and is not a latency table; it would be overwritten: "
                              f"choose another path, or delete it first")
