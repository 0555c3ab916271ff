"""``hwnas fidelity``: rank fidelity of every cheap accuracy signal against longer training.

Writes ``fidelity.csv`` (one row per architecture: every signal and its seconds),
``fidelity_summary.csv`` (signal, kind, spearman, kendall, n, seconds_per_arch, and note: why a
figure is not to be read, or blank),
``fidelity.png`` and ``fidelity.json`` (what was run, on what, and each invocation's wall time
and load: ``wall_s`` is their sum) to ``--out``, and prints the
summary as a Markdown table. ``fidelity.csv`` is rewritten after every architecture, so an
interrupted run continues with ``--resume``, which also extends a finished one: another
``--archs`` (a sample of N architectures is the first N of any larger one), more ``--epochs``
budgets, ``--proxies`` or ``--ceiling`` reuse every finished value and compute only what is
missing.

Example:
    hwnas fidelity examples/digits.toml --archs 40 --epochs 1,3,10 --out runs/fidelity-digits
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from ..exceptions import ConfigError
from ..interrupts import kill_as_interrupt
from .base import COMMANDS, Command, check_at_least, int_list, names, resume_command


def _epoch_list(text: str) -> list[int]:
    """argparse type of ``--epochs``: comma-separated positive epoch counts (``"1,3,10"``)."""
    try:
        return int_list(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r} needs comma-separated positive epoch counts, "
                                         f"e.g. 1,3,10") from None


@COMMANDS.register("fidelity")
class FidelityCommand(Command):
    help = "rank fidelity (Spearman, Kendall) of zero-cost proxies, short training and predictors"

    def configure(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("config", help="run config (TOML) with a proxy-trainer [estimator]")
        p.add_argument("--archs", type=int, default=40, help="architectures to sample (default 40)")
        p.add_argument("--epochs", type=_epoch_list, default=[1, 3, 10],
                       help="training budgets; the largest is the reference (default 1,3,10)")
        p.add_argument("--proxies", type=names, default=None,
                       help="comma-separated zero-cost proxies (default: all)")
        p.add_argument("--seed", type=int, default=0, help="architecture sampling seed (default 0)")
        p.add_argument("--folds", type=int, default=5, help="cross-validation folds of the predictors (default 5)")
        p.add_argument("--proxy-batch", type=int, default=None,
                       help="inputs in the proxies' batch (default 64, or the whole training split when smaller)")
        p.add_argument("--ceiling", action="store_true",
                       help="also retrain the reference budget with the next seed (noise ceiling)")
        p.add_argument("--out", default="runs/fidelity", help="output folder (default runs/fidelity)")
        p.add_argument("--resume", action="store_true", help="reuse the rows of an interrupted run in --out")
        p.add_argument("--quiet", action="store_true", help="no line per architecture")

    def run(self, args: argparse.Namespace) -> int:
        import torch

        from ..config import load_config
        from ..cost.device import cpu_model
        from ..outputs import check_folder_to_write, replace_file
        from ..fidelity import (
            FIDELITY_CSV,
            check_arguments,
            format_summary,
            kept_rows,
            read_columns,
            read_rows,
            run_fidelity,
            write_fidelity,
            write_rows,
        )

        config = load_config(args.config)
        out = check_folder_to_write(args.out, "--out", "the fidelity outputs, e.g. --out runs/fidelity")
        check_at_least(args, {"seed": 0})
        check_arguments(config, archs=args.archs, epochs=args.epochs, proxies=args.proxies, folds=args.folds,
                        proxy_batch_size=args.proxy_batch)
        flags = {"config": str(Path(args.config).resolve()),
                 "config_sha1": hashlib.sha1(Path(args.config).read_bytes()).hexdigest(),
                 # what the rows depend on: the config's values (a comment or a reordering is no change)
                 "config_values_sha1": hashlib.sha1(json.dumps(config.to_dict(), sort_keys=True,
                                                               default=str).encode()).hexdigest(),
                 "archs": args.archs, "epochs": sorted(set(args.epochs)),
                 "proxies": args.proxies, "seed": args.seed, "folds": args.folds, "proxy_batch": args.proxy_batch,
                 "ceiling": args.ceiling}
        done, done_columns, history = None, [], []
        if args.resume:
            meta_path = out / "fidelity.json"
            if not meta_path.exists() or not (out / FIDELITY_CSV).exists():
                raise ConfigError(f"--resume: {out} has no fidelity.json and {FIDELITY_CSV} to resume; "
                                  f"drop --resume or point --out at an interrupted run")
            previous = json.loads(meta_path.read_text())
            before = previous["flags"]
            # The rows depend on these; --archs, --epochs, --proxies, --ceiling and --folds may
            # change (a sample of N is the first N of a larger one; absent columns are computed).
            same_config = next(k for k in ("config_values_sha1", "config_sha1", "config") if k in before)
            changed = sorted(k for k in (same_config, "seed", "proxy_batch") if before.get(k) != flags[k])
            if changed:
                raise ConfigError(f"--resume: {out} was run with other settings ({', '.join(changed)}: "
                                  f"{[before.get(k) for k in changed]}); rerun with the same flags or another --out")
            done, done_columns = read_rows(out / FIDELITY_CSV), read_columns(out / FIDELITY_CSV)
            history = previous.get("history") or [  # a file written before histories were kept
                {k: previous[k] for k in ("started", "load_average_before", "wall_s", "load_average_after")
                 if k in previous}]
        elif (out / FIDELITY_CSV).exists():
            raise ConfigError(f"--out {out} already holds a fidelity study ({FIDELITY_CSV}); pass --resume to "
                              f"continue or extend it, or choose another --out")
        # One entry per invocation: when, how long, under what load, and with which flags.
        session = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "flags": flags, "reused_rows": len(done or {}),
                   "load_average_before": os.getloadavg()}
        meta = {"flags": flags, "torch": torch.__version__, "threads": torch.get_num_threads(),
                "machine": cpu_model(), "cpus": os.cpu_count(),  # the model name, not "x86_64"
                "history": [*history, session]}
        start = time.perf_counter()

        def save_meta(**extra) -> None:  # written with the first row: a refused argument leaves no file
            session.update(wall_s=time.perf_counter() - start, load_average_after=os.getloadavg())
            meta.update(extra, wall_s=sum(h.get("wall_s") or 0.0 for h in meta["history"]))
            with replace_file(out / "fidelity.json") as fh:  # with the rows: never half a file
                fh.write(json.dumps(meta, indent=2))

        def save_rows(rows, columns) -> None:  # every row of the file kept, with every column it had
            out.mkdir(parents=True, exist_ok=True)
            save_meta()  # first: a kill between the two leaves settings without rows, which a new run replaces
            write_rows(out / FIDELITY_CSV, *kept_rows(rows, columns, done or {}, done_columns))

        try:
            with kill_as_interrupt():
                result = run_fidelity(config, archs=args.archs, epochs=args.epochs, proxies=args.proxies,
                                      seed=args.seed, folds=args.folds, proxy_batch_size=args.proxy_batch,
                                      ceiling=args.ceiling, done=done,
                                      progress=None if args.quiet else lambda line: print(line, flush=True),
                                      on_row=save_rows)
        except KeyboardInterrupt:
            if not (out / FIDELITY_CSV).exists():
                print(f"\ninterrupted before the first architecture finished; nothing is stored in {out}",
                      file=sys.stderr)
                return 130
            save_meta()
            print(f"\ninterrupted; every finished architecture is in {out / FIDELITY_CSV}. Continue with:\n  "
                  f"{resume_command(self.parser, args, out, 'fidelity')}", file=sys.stderr)
            return 130
        paths = write_fidelity(out, result)
        write_rows(out / FIDELITY_CSV, *kept_rows(result.rows, result.columns, done or {}, done_columns))
        save_meta(settings=result.settings)
        print(f"rank fidelity against {result.reference} ({len(result.rows)} architectures; the reference trains one "
              f"in {result.settings['reference_seconds_per_arch']:.3g} s, median):")
        print(format_summary(result))
        print("wrote " + ", ".join(str(p) for p in paths) + f", {out / 'fidelity.json'}")
        return 0
