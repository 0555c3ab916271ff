"""The report text of a table (:mod:`hwnas.profile.report`)."""

from hwnas.cost.lut_table import LatencyTable
from hwnas.profile.fidelity import tau_gap_line
from hwnas.profile.report import format_report


def test_report_sums_the_op_types_beyond_the_eighth_into_one_line(table):
    # graph_optimization = "basic" leaves Relu, HardSwish, Add, ... as op types of their own
    ops = [{"op": f"Op{i}", "nodes": 2, "ms_per_run": 0.01, "share_pct": 10.0} for i in range(10)]
    text = format_report(LatencyTable(table.meta, table.entries, table.calibration,
                                      device_report={**table.device_report, "op_breakdown": ops}))
    shares = [float(line.rsplit(None, 2)[-2]) for line in text.splitlines() if " node" in line]
    assert sum(shares) == 100.0 and "2 other op types" in text


def test_report_counts_one_node_in_the_singular(table):
    ops = [{"op": "Conv", "nodes": 3, "ms_per_run": 0.03, "share_pct": 75.0},
           {"op": "Gemm", "nodes": 1, "ms_per_run": 0.01, "share_pct": 25.0}]
    text = format_report(LatencyTable(table.meta, table.entries, table.calibration,
                                      device_report={**table.device_report, "op_breakdown": ops}))
    assert "  3 nodes 0.0300 ms" in text and "   1 node 0.0100 ms" in text and "1 nodes" not in text


def test_report_gives_no_tau_verdict_from_too_few_networks(table):
    report = format_report(table)  # 4 fidelity networks, 5 calibration networks
    assert "table τ minus noise ceiling: too few networks (4) for a verdict; check it with --fidelity 10" in report
    assert not any(verdict in report for verdict in ("distinguishable", "above the ceiling", "below the ceiling"))
    assert (f"too few calibration networks: {len(table.calibration['coef'])} coefficients fitted on 5 networks"
            in report)
    assert "too few networks" in tau_gap_line({"gap": float("nan"), "low": float("nan"), "high": float("nan")})


def test_the_too_few_calibration_networks_warning_counts_the_two_networks_the_build_adds(table):
    # the table was built with --calibration 3: 5 networks, the smallest and largest added; asking
    # for NETWORKS_PER_COEF per coefficient means that many networks, so --calibration that − 2
    from hwnas.profile.fit import NETWORKS_PER_COEF

    needed = NETWORKS_PER_COEF * len(table.calibration["coef"])
    assert len(table.calibration["networks"]) == 5
    assert f"build with --calibration {needed - 2} or more (the build adds the space's smallest and largest)" in (
        format_report(table))
