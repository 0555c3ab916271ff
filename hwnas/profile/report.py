"""The human-readable report of a latency table: its entries, calibration, fidelity check and
device report."""

from __future__ import annotations

import statistics

from ..cost.device import cores_text
from ..cost.lut_table import LatencyTable
from ..space.base import shape_text
from ..wording import counted
from .fidelity import level_shift_warning, tau_gap_line
from .fit import calibration_size_warning


def format_report(table: LatencyTable) -> str:
    """The human-readable fidelity and device report of a table."""
    m, lines = table.meta, []
    lines.append(f"latency table: {len(table.entries)} layers of {m['space']['name']} at input "
                 f"{shape_text(m['space']['input_shape'])} on {m['target']} "
                 f"(onnxruntime {m['runtime_version']}, {m['execution_provider']}, {m['intra_op_threads']} thread(s), "
                 f"batch {m['batch_size']}, {m['dtype']}), built {m['date']} in {m.get('build_s', 0):.0f} s")
    spreads = [e.get("spread_pct", 0.0) for e in table.entries.values()]
    lines.append(f"  entries: {min(e['latency_ms'] for e in table.entries.values()):.4f}-"
                 f"{max(e['latency_ms'] for e in table.entries.values()):.4f} ms, spread median "
                 f"{statistics.median(spreads):.1f} %")
    cal = table.calibration
    if cal.get("model") == "linear":
        terms = " ".join(f"{c:+.5g}*{n}" if n != "const" else f"{c:+.5g}" for n, c in zip(cal["features"], cal["coef"]))
        fit = f"  (fit: mean |err| {cal['fit']['mean_abs_pct']:.1f} %)" if "fit" in cal else ""
        lines.append(f"  calibration on {counted(cal.get('networks', []), 'network')}: latency_ms = {terms}{fit}")
        warning = calibration_size_warning(cal)
        if warning:
            lines.append(f"    {warning}")
        if any(n.startswith("memory_m_over:") for n in cal["features"]):
            lines.append(f"    memory_m = millions of weights + {cal.get('activation_share', 0.0):g} x millions of "
                         f"activations")
    f = table.fidelity
    if f:
        lines.append(f"  fidelity over {counted(f['networks'], 'other random network')} (|error| vs measured):")
        lines.append(f"    {'':32s} {'mean|err|':>9s} {'<=10%':>6s} {'<=5%':>6s} {'max':>6s} {'tau':>6s}")
        for label, key in (("table vs measurement 1", "table_vs_first"), ("table vs measurement 2", "table_vs_second"),
                           ("raw sum vs measurement 1", "raw_sum_vs_first"),
                           ("noise ceiling: meas. 2 vs 1", "noise_ceiling_second_vs_first")):
            r = f[key]
            lines.append(f"    {label:32s} {r['mean_abs_pct']:8.1f}% {100 * r['within_10_pct']:5.0f}% "
                         f"{100 * r['within_5_pct']:5.0f}% {r['max_abs_pct']:5.1f}% {r['kendall_tau']:6.3f}")
        if "error_sources" in f:  # tables built before it was reported lack it
            e = f["error_sources"]
            lines.append(f"    table's own error {e['table_error_pct']:.2f} % vs one measurement's noise "
                         f"{e['measurement_noise_pct']:.2f} % (relative standard deviations)")
            warning = level_shift_warning(e)
            if warning:
                lines.append(f"    WARNING: {warning}")
        if "tau_gap" in f:
            lines.append(f"    {tau_gap_line(f['tau_gap'], f.get('networks'))}")
    d = table.device_report
    if d:
        lines.append(f"device: {d['device']['cpu']} ({cores_text(d['device'])}), GPU: {d['device']['gpu'] or '-'}; "
                     f"{d['runtime']} {d['runtime_version']}, providers available: {', '.join(d['providers_available'])}; "
                     f"timed on {d['execution_provider']} with {d['intra_op_threads']} intra-op / "
                     f"{d['inter_op_threads']} inter-op thread(s)")
        lines.append(f"  per-op-type time of the reference network {d['reference_network']} (ORT profiler; profiled "
                     f"runs: times include profiler overhead, so they add up to more than its latency; read the "
                     f"shares):")
        shown, rest = d["op_breakdown"][:8], d["op_breakdown"][8:]
        for row in shown:
            lines.append(f"    {row['op']:24s} {counted(row['nodes'], 'node'):>9s} {row['ms_per_run']:.4f} ms  "
                         f"{row['share_pct']:5.1f} %")
        if rest:  # so that the printed shares still add up to 100 %
            lines.append(f"    {counted(rest, 'other op type'):24s} {counted(sum(r['nodes'] for r in rest), 'node'):>9s} "
                         f"{sum(r['ms_per_run'] for r in rest):.4f} ms  {sum(r['share_pct'] for r in rest):5.1f} %")
        lines.append("  latency vs batch size of the reference network:")
        for row in d["latency_vs_batch"]:
            lines.append(f"    batch {row['batch_size']:3d}: {row['latency_ms']:.4f} ms  ({row['per_sample_ms']:.4f} ms/sample, "
                         f"spread {row['spread_pct']:.0f} %)")
    return "\n".join(lines)
