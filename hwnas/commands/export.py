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
        from ..export import export_run_arch

        ev, path = export_run_arch(args.run_dir, args.arch, args.output, untrained=args.untrained)
        from ..front import latency_figures

        latency = ev.metrics.get("latency_ms") if ev else None
        figures = latency_figures(ev.metrics) if ev else None
        extra = (f" ({figures} in the run)" if figures else
                 f" (latency_ms in the run: {latency:.4f})" if latency is not None else "")
        print(f"wrote {path}{extra}")
        from ..export import preprocessing_summary, read_preprocessing

        summary = preprocessing_summary(read_preprocessing(path))
        if summary:  # the network's input is the scaled, standardised data it was trained on
            print(summary)
        if path.is_file():  # the graph is fixed at the batch its latency was measured at: more at once fails in ORT
            import onnx

            graph = onnx.load(str(path), load_external_data=False).graph
            dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
            print(f"input shape: {tuple(dims)}, batch fixed at {dims[0]} (the run's target batch_size): feed "
                  f"{dims[0]} sample(s) per run")
        return 0
