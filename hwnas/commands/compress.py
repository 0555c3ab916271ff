"""``hwnas compress``: prune and quantize models of a run, re-measure them, write compressed.csv."""

from __future__ import annotations

import argparse
import sys

from ..exceptions import ConfigError
from ..interrupts import kill_as_interrupt
from ..wording import counted
from .base import COMMANDS, Command, names, unfinished_search_note


def _ratios(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--prune {text!r} is not a comma-separated list of fractions; use e.g. --prune 0.25,0.5") from None


@COMMANDS.register("compress")
class CompressCommand(Command):
    help = "prune / INT8-quantize front models and re-measure them on the run's target"

    def configure(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("run_dir")
        p.add_argument("--front", action="store_true", help="compress every model of the run's front")
        p.add_argument("--arch", action="append", default=[], metavar="ARCH",
                       help="an architecture (canonical string or evaluation id) to compress; repeatable")
        p.add_argument("--prune", default="", metavar="RATIOS",
                       help="fractions of channels to remove, comma-separated, each in (0, 1), e.g. 0.25,0.5")
        p.add_argument("--quantize", default="", metavar="SCHEMES",
                       help="int8 (static; QDQ and QOperator both measured), int8-qdq, int8-qoperator, int8-dynamic "
                            "(measured too; on CPUs usually far slower than float, so not recommended)")
        p.add_argument("--finetune-epochs", type=int, default=3, metavar="N",
                       help="proxy-trainer epochs after pruning (0: only recalibrate batch norm; default 3)")
        p.add_argument("--finetune-lr", type=float, metavar="LR", help="fine-tuning peak lr (default: the run's)")
        p.add_argument("--importance", default="l1", help="channel ranking: l1 or l2 norm of filters (default l1)")
        p.add_argument("--round-to", type=int, default=16, metavar="N",
                       help="keep channel counts at multiples of N (default 16: ORT's AVX-512 channel block)")
        p.add_argument("--per-channel", action="store_true", help="per-channel weight scales for INT8")
        p.add_argument("--calibration-samples", type=int, metavar="N",
                       help="training samples that calibrate static INT8 (default 256, or the whole training "
                            "split when smaller)")
        p.add_argument("--no-stack", action="store_true", help="do not also quantize the pruned variants")
        p.add_argument("--max-accuracy-drop", type=float, default=1.0, metavar="PTS",
                       help="accuracy points (>= 0) a variant may lose to be reported as a parent's best (default 1)")

    def run(self, args: argparse.Namespace) -> int:
        from ..compress import build_chains, compress_run
        from ..report import print_compress_summary

        if not args.max_accuracy_drop >= 0:  # also refuses nan
            raise ConfigError(f"--max-accuracy-drop {args.max_accuracy_drop:g} must be >= 0 (the accuracy points "
                              f"a variant may lose); e.g. --max-accuracy-drop 1")
        chains = build_chains(
            _ratios(args.prune), names(args.quantize), stack=not args.no_stack,
            prune_options={"importance": args.importance, "round_to": args.round_to,
                           "finetune_epochs": args.finetune_epochs, "finetune_lr": args.finetune_lr},
            quant_options={"per_channel": args.per_channel, "calibration_samples": args.calibration_samples})
        if args.front:  # the front of a search that has not finished is not the run's front
            from ..outputs import load_run

            note = unfinished_search_note(load_run(args.run_dir), args.run_dir, "the front compressed here is that of",
                                          "compress again")
            if note:
                print(note, file=sys.stderr)
        try:
            with kill_as_interrupt():
                result = compress_run(args.run_dir, chains, archs=args.arch, front=args.front,
                                      progress=lambda line: print(line, file=sys.stderr, flush=True))
        except KeyboardInterrupt:
            print("\ninterrupted before anything was saved (variants are saved once timed beside their parents); "
                  "compressed.csv and compressed/ are as they were", file=sys.stderr)
            return 130
        print_compress_summary(result, max_accuracy_drop_pts=args.max_accuracy_drop)
        if result.interrupted:
            done, asked = result.interrupted
            rest = "compress the others with --arch" if done < asked else "all of them"
            print(f"\ninterrupted; {done} of {counted(asked, 'parent')} finished, "
                  f"{'its variants' if done == 1 else 'their variants'} saved in compressed.csv ({rest})",
                  file=sys.stderr)
            return 130
        return 0
