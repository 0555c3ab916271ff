"""The fidelity check's statistics and verdicts (:mod:`hwnas.profile.fidelity`)."""

import numpy as np
import pytest

from hwnas.cost.lut_table import LatencyTable
from hwnas.profile.fidelity import error_sources, level_shift_warning, tau_gap, tau_gap_line
from hwnas.profile.report import format_report


def test_error_sources_separate_table_error_from_measurement_noise():
    rng = np.random.default_rng(0)
    true = np.exp(rng.uniform(-3, 0, 4000))
    first, second = (true * np.exp(rng.normal(0, 0.01, true.size)) for _ in range(2))
    exact = error_sources(true * 1.05, first, second)  # a constant offset is no ranking error
    assert exact["measurement_noise_pct"] == pytest.approx(1.0, rel=0.05) and exact["table_error_pct"] < 0.2
    off = error_sources(true * np.exp(rng.normal(0, 0.02, true.size)), first, second)
    assert off["table_error_pct"] == pytest.approx(2.0, rel=0.05)


def test_tau_gap_tells_a_closer_table_from_one_as_close_as_a_remeasurement():
    rng = np.random.default_rng(2)
    groups = {"exact": [], "remeasured": []}
    for _ in range(3):  # three checks of 100 networks each
        true = np.exp(rng.uniform(-3, 0, 100))
        first, second, third = (true * np.exp(rng.normal(0, 0.05, true.size)) for _ in range(3))
        groups["exact"].append((true, first, second))
        groups["remeasured"].append((third, first, second))
    exact, remeasured = (tau_gap(g, resamples=300) for g in groups.values())
    assert exact["low"] > 0 and "above the ceiling" in tau_gap_line(exact)
    assert remeasured["low"] < 0 < remeasured["high"] and "not distinguishable" in tau_gap_line(remeasured)
    worse = tau_gap([(p * np.exp(rng.normal(0, 0.1, p.size)), a, b) for p, a, b in groups["exact"]], resamples=300)
    assert worse["high"] < 0 and "below the ceiling" in tau_gap_line(worse)


def test_a_level_shift_between_the_measurements_is_flagged(table):
    rng = np.random.default_rng(1)
    true = np.exp(rng.uniform(-3, 0, 200))
    first = true * np.exp(rng.normal(0, 0.01, true.size))
    steady = error_sources(true, first, true * np.exp(rng.normal(0, 0.01, true.size)))
    slow = error_sources(true, first, 1.35 * true * np.exp(rng.normal(0, 0.01, true.size)))
    assert abs(steady["level_shift_pct"]) < 1 and level_shift_warning(steady) is None
    assert slow["level_shift_pct"] == pytest.approx(35, abs=1)
    # the offset itself is no ranking error, but the user is told to measure again
    assert slow["table_error_pct"] < 0.5 and "reads +35 % against measurement 1" in level_shift_warning(slow)
    # the tiny build's own 3-pass measurements may well differ in level: report on fixed sources
    def report(sources):
        return format_report(LatencyTable(meta=table.meta, entries=table.entries, calibration=table.calibration,
                                          fidelity={**table.fidelity, "error_sources": sources},
                                          device_report=table.device_report))

    assert "WARNING" not in report(steady)
    assert "WARNING: measurement 2 reads +35 %" in report(slow)
