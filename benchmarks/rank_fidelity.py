"""Rank-fidelity figures for the built-in datasets: ``hwnas fidelity`` on digits and Fashion-MNIST.

Runs the command with the settings behind the README figures (chosen so each dataset takes
about 25 minutes on one contended CPU core; see ``fidelity.json`` in each output folder for
the load and the wall time) and prints both summaries as Markdown tables. Interrupted runs
continue where they stopped (``--resume``).

Usage:
    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/rank_fidelity.py [--datasets digits,fashion_mnist]
        [--out runs]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: dataset -> (config, hwnas fidelity flags)
RUNS = {
    "digits": (ROOT / "examples" / "digits.toml", ["--archs", "30", "--epochs", "1,3,10", "--ceiling"]),
    "fashion_mnist": (ROOT / "examples" / "fashion_mnist.toml", ["--archs", "24", "--epochs", "1,2,5", "--ceiling"]),
    # 300 training images, ~900 validation images, widths 0.25-1: a reference that agrees with itself
    # (see the config); its architectures drawn with seed 1, not the seed-0 pilot's
    "digits_wide": (ROOT / "examples" / "digits_fidelity.toml",
                    ["--archs", "40", "--seed", "1", "--epochs", "1,3,10,30", "--ceiling"]),
    # widths 0.25-1 and 5000 validation images: a reference that agrees with itself (see the config)
    "fashion_mnist_wide": (ROOT / "examples" / "fashion_mnist_fidelity.toml",
                           ["--archs", "16", "--epochs", "1,2,5", "--ceiling"]),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default=",".join(RUNS), help=f"comma-separated, from {', '.join(RUNS)}")
    ap.add_argument("--out", default="runs", help="parent folder of fidelity-<dataset>/ (default runs)")
    args = ap.parse_args()
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = [d for d in datasets if d not in RUNS]
    if unknown or not datasets:
        ap.error(f"--datasets {args.datasets!r}: choose from {', '.join(RUNS)}")

    from hwnas.cli import main as hwnas
    from hwnas.fidelity import FIDELITY_CSV

    for name in datasets:
        config, flags = RUNS[name]
        out = Path(args.out) / f"fidelity-{name.replace('_', '-')}"
        argv = ["fidelity", str(config), *flags, "--out", str(out)]
        if (out / "fidelity.json").exists() and (out / FIDELITY_CSV).exists():  # stopped before its first row: afresh
            argv.append("--resume")
        print("hwnas " + " ".join(argv), flush=True)
        code = hwnas(argv)
        if code:
            return code
        meta = json.loads((out / "fidelity.json").read_text())
        print(f"\n### {name}: reference {meta['settings']['reference']}, "
              f"{meta['settings']['reference_seconds_per_arch']:.1f} s per architecture; "
              f"wall {meta['wall_s'] / 60:.1f} min over {len(meta['history'])} invocation(s), load average "
              f"{max(h.get('load_average_before', [0])[0] for h in meta['history']):.1f} at the busiest start\n")
        print("| signal | kind | Spearman | Kendall | n | s / arch |\n|---|---|---:|---:|---:|---:|")
        with open(out / "fidelity_summary.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                print(f"| {row['signal']} | {row['kind']} | {float(row['spearman']):.3f} | "
                      f"{float(row['kendall']):.3f} | {row['n']} | {float(row['seconds_per_arch']):.3g} |")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
