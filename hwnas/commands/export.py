"""``hwnas export``: an evaluated architecture, with its trained weights, to ONNX."""

from __future__ import annotations

import argparse

from .base import COMMANDS, Command


@COMMANDS.register("export")
class ExportCommand(Command):
    help = "export an evaluated architecture (trained weights) to ONNX"

    def configure(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("run_dir")
        p.add_argument("arch", help="canonical architecture string (from front.csv) or evaluation id")
        p.add_argument("-o", "--output", required=True,
                       help="ONNX file to write (a file name, not a directory; missing folders are created)")
        p.add_argument("--untrained", action="store_true", help="allow an architecture without stored weights")

    def run(self, args: argparse.Namespace) -> int:
        from ..export import export_run_arch, how_to_feed
        from ..front import latency_figures
        from ..outputs import load_run
        from ..report import stopped_early

        ev, path = export_run_arch(args.run_dir, args.arch, args.output, untrained=args.untrained)

        latency = ev.metrics.get("latency_ms") if ev else None
        figures = latency_figures(ev.metrics) if ev else None
        extra = (f" ({figures} in the run)" if figures else
                 f" (latency_ms in the run: {latency:.4f})" if latency is not None else "")
        print(f"wrote {path}{extra}")
        # a trained candidate's weights may be from fewer epochs than the rest of the front's
        if ev is not None and "epochs" in ev.metrics and (stopped := stopped_early(ev, load_run(args.run_dir))):
            print(stopped)
        for line in how_to_feed(path) if path.is_file() else []:  # scaled input at a fixed batch: how to run it
            print(line)
        return 0
