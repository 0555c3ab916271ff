"""The figures of `hwnas compress` on a run's front: latency ratio and accuracy change per model.

Compresses every front model of the run (unless --reuse: read the run's compressed.csv), then prints

* per front model: its best variant (fastest, faster than its parent, losing <= 1 accuracy
  point), latency ratio and accuracy change; and how many variants reach <= 0.7x at <= 1 point;
* the hypervolume of the original front and of the front after compression (same normalisation);
* every pruned model's MACs against its parent's, with its latency ratio; the quantized ones'
  latency ratios per scheme;
* with --mask-control: parents, the same channels zeroed in place (a mask), and the pruned graphs
  timed together: masks keep MACs and latency, removal cuts both;
* with --finetune-control: each parent fine-tuned unpruned for the same epochs, to separate the
  accuracy pruning costs from what the extra training adds.

Latencies are ratios inside one interleaved measurement (the parents are re-timed beside their
variants); absolute values on a shared 2-core machine drift by ~10 %.

Usage:
    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/compress_front.py runs/digits \
        --prune 0.25,0.5 --quantize int8 --mask-control --finetune-control
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys

import torch

from hwnas.compress import build_chains, compress_run, read_compressed
from hwnas.compress.results import COMPRESSED_CSV, ORIGINAL, best_variants, hypervolumes, search_scale
from hwnas.exceptions import CompressError
from hwnas.outputs import load_run, front_indices


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", help="a run directory of hwnas search (its front is compressed)")
    ap.add_argument("--prune", default="0.25,0.5",
                    help="fractions of channels to remove, comma-separated (default 0.25,0.5)")
    ap.add_argument("--quantize", default="int8",
                    help="INT8 schemes, comma-separated, as hwnas compress --quantize (default int8)")
    ap.add_argument("--finetune-epochs", type=int, default=3, help="proxy-trainer epochs after pruning (default 3)")
    ap.add_argument("--round-to", type=int, default=16, help="keep channel counts at multiples of N (default 16)")
    ap.add_argument("--reuse", action="store_true", help="print from the run's compressed.csv, compress nothing")
    ap.add_argument("--max-drop", type=float, default=1.0, help="accuracy points a 'best' variant may lose")
    ap.add_argument("--mask-control", action="store_true",
                    help="also time parents with half their filters zeroed (masks) beside prune0.5")
    ap.add_argument("--finetune-control", action="store_true",
                    help="also fine-tune each parent unpruned for --finetune-epochs")
    args = ap.parse_args()

    try:
        ratios = [float(v) for v in args.prune.split(",") if v.strip()]
    except ValueError:
        ap.error(f"--prune {args.prune!r} is not a comma-separated list of fractions, e.g. 0.25,0.5")
    schemes = [v.strip() for v in args.quantize.split(",") if v.strip()]
    run = load_run(args.run_dir)
    front = [run.evaluations[i].arch for i in front_indices(run.evaluations, run.objectives, run.config.budgets)]
    if args.reuse and not (run.path / COMPRESSED_CSV).is_file():
        raise CompressError(f"--reuse: {run.path} has no {COMPRESSED_CSV}; run `hwnas compress {args.run_dir} "
                            f"--front --prune 0.25,0.5 --quantize int8` first, or drop --reuse")
    if not args.reuse:
        chains = build_chains(ratios, schemes, prune_options={"round_to": args.round_to,
                                                             "finetune_epochs": args.finetune_epochs})
        compress_run(run.path, chains, front=True, progress=lambda s: print(s, file=sys.stderr, flush=True))
    rows = [r for r in read_compressed(run.path / COMPRESSED_CSV) if r["parent_arch"] in front]
    parents = {r["parent_arch"]: r for r in rows if r["variant"] == ORIGINAL and r["status"] == "ok"}
    variants = [r for r in rows if r["variant"] != ORIGINAL]
    if not parents:
        raise CompressError(f"{run.path / COMPRESSED_CSV} holds no measured model of the run's front; "
                            f"compress it with `hwnas compress {args.run_dir} --front ...`")

    print(f"run: {run.path}  front models: {len(front)}  variants: {len(variants)} "
          f"({sum(r['status'] != 'ok' for r in variants)} failed, "
          f"{sum(r.get('slower_than_parent') is True for r in variants)} slower than their parent)")
    print(f"latency: {next(iter(parents.values()))['latency_estimator']} on {run.config.cost.get('target')}, "
          f"measured {next(iter(parents.values()))['measured_at']}")

    print(f"\n== best variant per front model (fastest faster-than-parent variant losing <= {args.max_drop:g} pts)")
    print(f"{'parent arch':44s} {'ms':>7s} {'acc %':>6s}  {'best variant':24s} {'lat x':>6s} {'acc pts':>8s} "
          f"{'MACs x':>7s}   {'fastest variant (any accuracy)':30s}")
    best = best_variants(rows, max_accuracy_drop_pts=args.max_drop)
    for arch in front:
        p = parents.get(arch)
        if p is None:
            print(f"{arch:44s}  (not compressed)")
            continue
        fastest = min((r for r in variants if r["parent_arch"] == arch and r.get("recommended") is True),
                      key=lambda r: r["latency_ratio"], default=None)
        b = best.get(arch)
        left = (f"{b['variant']:24s} {b['latency_ratio']:6.2f} {b['accuracy_change_pts']:+8.2f} "
                f"{b['macs'] / p['macs']:7.2f}" if b else f"{'none':24s} {'':6s} {'':8s} {'':7s}")
        right = (f"{fastest['variant']} x{fastest['latency_ratio']:.2f} {fastest['accuracy_change_pts']:+.2f} pts"
                 if fastest else "none faster")
        print(f"{arch:44s} {p['latency_ms']:7.4f} {p['accuracy_pct']:6.2f}  {left}   {right}")
    good = [r for r in variants if r.get("recommended") is True and r["latency_ratio"] <= 0.7
            and r["accuracy_change_pts"] >= -1.0]
    print(f"variants with latency <= 0.7x and accuracy loss <= 1 pt: {len(good)} "
          f"(of {len(front)} parents: {len({r['parent_arch'] for r in good})})")

    hv = hypervolumes(rows, run.objectives, search_scale(run))  # as hwnas compress prints them
    print(f"\n== hypervolume ({', '.join(o.column for o in run.objectives)}; on the search's figures, each variant "
          f"at its ratios to its parent; normalised over both fronts, ref 1.1)")
    print(f"original front: {hv['original']:.4f}   front after compression: {hv['combined']:.4f}   "
          f"gain: {hv['combined'] - hv['original']:+.4f}"
          + ("  (a front of one architecture sits at a corner of the scale its variants span: the figures say "
             "only that the variants add trade-offs)" if len(front) == 1 else ""))

    print("\n== pruned models: MACs and latency against their parent")
    pruned = [r for r in variants if r["method"] == "prune" and r["status"] == "ok"]
    for name in sorted({r["variant"] for r in pruned}):
        group = [r for r in pruned if r["variant"] == name]
        mac = [r["macs"] / parents[r["parent_arch"]]["macs"] for r in group]
        lat = [r["latency_ratio"] for r in group]
        print(f"{name:10s} MACs x{min(mac):.2f}-{max(mac):.2f} (median {statistics.median(mac):.2f})   "
              f"latency x{min(lat):.2f}-{max(lat):.2f} (median {statistics.median(lat):.2f})   "
              f"fewer MACs: {sum(m < 1 for m in mac)}/{len(group)}   faster: {sum(x < 1 for x in lat)}/{len(group)}")
    for r in pruned:
        p = parents[r["parent_arch"]]
        print(f"  {r['parent_arch']:44s} {r['variant']:10s} MACs {p['macs']:>9.0f} -> {r['macs']:>9.0f}  "
              f"params {p['params']:>7.0f} -> {r['params']:>7.0f}  latency {p['latency_ms']:.4f} -> "
              f"{r['latency_ms']:.4f} ms (x{r['latency_ratio']:.2f}, pass spread {r['latency_spread_pct']:.0f} %)")

    print("\n== quantized models: latency ratio against their parent")
    for name in sorted({r["variant"] for r in variants if "int8" in r["variant"]}):
        group = [r for r in variants if r["variant"] == name and r["status"] == "ok"]
        lat = [r["latency_ratio"] for r in group]
        acc = [r["accuracy_change_pts"] for r in group]
        if lat:
            print(f"{name:26s} latency x{min(lat):.2f}-{max(lat):.2f} (median {statistics.median(lat):.2f})  "
                  f"faster than parent: {sum(x < 1 for x in lat)}/{len(lat)}  accuracy {min(acc):+.2f}..{max(acc):+.2f} pts")

    if args.mask_control:
        mask_control(run, front, rows)
    if args.finetune_control:
        finetune_control(run, front, parents, pruned, args.finetune_epochs)
    return 0


def _parent_module(run, space, arch):
    from hwnas.evaluation import weights_name

    module = space.build(space.parse(arch))
    module.load_state_dict(torch.load(run.path / "weights" / weights_name(arch), weights_only=True))
    return module.eval()


def mask_control(run, front, rows) -> None:
    """Zero the lowest-L1 half of every conv's filters in place (a mask) and time it beside the pruned graph."""
    from hwnas.components import build_components
    from hwnas.cost import count_macs_params, export_onnx, measure_latency

    parts = build_components(run.config, with_estimator=False)
    shape, target = parts.task.input_shape, parts.target
    pruned = {r["parent_arch"]: r for r in rows if r["variant"] == "prune0.5" and r["status"] == "ok"}
    if not pruned:
        print("\n== masks vs removal: no prune0.5 variant to compare with (compress with --prune 0.5)")
        return
    graphs, labels = [], []
    for arch in front:
        if arch not in pruned:
            continue
        parent = _parent_module(run, parts.space, arch)
        masked = copy.deepcopy(parent)
        with torch.no_grad():
            for m in masked.modules():
                if isinstance(m, torch.nn.Conv2d) and m.out_channels > 1:
                    norms = m.weight.abs().flatten(1).sum(1)
                    m.weight[norms.argsort()[: m.out_channels // 2]] = 0.0
        graphs += [export_onnx(parent, shape), export_onnx(masked, shape),
                   (run.path / str(pruned[arch]["onnx"])).read_bytes()]
        labels.append((arch, count_macs_params(parent, shape)[0], count_macs_params(masked, shape)[0],
                       pruned[arch]["macs"]))
    times = measure_latency(graphs, target, shape)
    print("\n== masks vs removal (half the filters of every conv zeroed in place vs prune0.5; one interleaved call)")
    print(f"{'parent arch':44s} {'parent ms':>9s} {'masked x':>8s} {'pruned x':>8s}  MACs parent / masked / pruned")
    for k, (arch, mac_p, mac_m, mac_r) in enumerate(labels):
        p, m, r = (t.latency_ms for t in times[3 * k:3 * k + 3])
        print(f"{arch:44s} {p:9.4f} {m / p:8.2f} {r / p:8.2f}  {mac_p:.0f} / {mac_m:.0f} / {mac_r:.0f}")


def finetune_control(run, front, parents, pruned, epochs) -> None:
    """Each parent fine-tuned without pruning for the same epochs, scored with ONNX Runtime."""
    from hwnas.compress.base import CompressContext
    from hwnas.compress.measure import onnx_error_pct
    from hwnas.compress.prune import finetune
    from hwnas.components import build_components

    parts = build_components(run.config, with_estimator=False)
    options = dict(run.config.estimator)
    print(f"\n== fine-tuning control: parents trained {epochs} more epochs, unpruned (accuracy %, ONNX Runtime)")
    print(f"{'parent arch':44s} {'parent':>7s} {'+ft':>7s} " + " ".join(f"{v:>10s}" for v in sorted({r['variant'] for r in pruned})))
    for arch in front:
        if arch not in parents:
            continue
        space = parts.space
        module = _parent_module(run, space, arch)
        context = CompressContext(parts.task, parts.target, options, dict(space.train_recipe(space.parse(arch))))
        finetune(module, context, epochs=epochs, lr=None)
        acc = 100.0 - onnx_error_pct(context.export(module.eval()), parts.task, parts.target)
        mine = {r["variant"]: r["accuracy_pct"] for r in pruned if r["parent_arch"] == arch}
        print(f"{arch:44s} {parents[arch]['accuracy_pct']:7.2f} {acc:7.2f} " +
              " ".join(f"{mine.get(v, float('nan')):10.2f}" for v in sorted({r['variant'] for r in pruned})))


if __name__ == "__main__":
    from _script import run

    run(main)
