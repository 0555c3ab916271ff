"""Fitting a table's calibration (:mod:`hwnas.profile.fit`)."""

import copy

import numpy as np

from hwnas.cost.lut_calibration import calibrated
from hwnas.profile.fit import fit_calibration
from hwnas.profile.report import format_report


def test_calibration_finds_the_memory_threshold_and_activation_share(table, space):
    """Networks that pay for memory (weights plus all activations) beyond a threshold: the fit
    picks that share and a threshold near it, and predicts them closely."""
    table = copy.deepcopy(table)  # the fit writes residual weights into the entries
    archs = sorted({space.canonical(space.sample(np.random.default_rng(i))) for i in range(400)})
    sigs = [space.layer_signatures(space.parse(a)) for a in archs]
    feats = [table.features(s) for s in sigs]
    memory = np.array([f["weights_m"] + f["activations_m"] for f in feats])
    cut = float(np.median(memory))
    measured = np.array([f["sum_ms"] for f in feats]) * 0.8 + 0.01 + 40.0 * np.maximum(0.0, memory - cut)
    fitted, residual = fit_calibration(table, space, archs, feats, measured, seed=0)
    assert len(archs) > 20 and fitted["activation_share"] == 1.0
    assert residual["memory_thresholds"]["chosen"]
    feats = [table.features(s) for s in sigs]  # with the residual weights now in the entries
    predicted = np.array([calibrated(fitted, f) for f in feats])
    assert np.abs(predicted / measured - 1).max() < 0.02
    table.calibration = {**fitted, "networks": archs}
    assert "memory_m = millions of weights + 1 x millions of activations" in format_report(table)
