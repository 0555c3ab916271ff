"""How layer latencies add up: the linear calibration's fit and the per-layer residual ridge."""

import numpy as np
import pytest

from hwnas.cost.lut_calibration import fit_linear


def test_fit_linear_recovers_coefficients():
    rng = np.random.default_rng(0)
    feats = [{"sum_ms:ir": a, "sum_ms:ir-se": b, "n_layers": float(n), "const": 1.0}
             for a, b, n in zip(rng.uniform(0.05, 0.3, 20), rng.uniform(0.0, 0.1, 20), rng.integers(6, 15, 20))]
    y = [0.9 * f["sum_ms:ir"] + 0.8 * f["sum_ms:ir-se"] - 0.004 * f["n_layers"] + 0.01 for f in feats]
    names = ["sum_ms:ir", "sum_ms:ir-se", "n_layers", "const"]
    assert fit_linear(feats, names, y) == pytest.approx([0.9, 0.8, -0.004, 0.01], abs=1e-9)


def test_residual_weights_learn_a_per_layer_effect_and_ignore_noise():
    import numpy as np

    from hwnas.cost.lut_calibration import ResidualRidge

    rng = np.random.default_rng(0)
    counts = rng.integers(0, 3, size=(120, 30)).astype(float)
    layer_ms = counts * rng.uniform(0.5, 2.0, size=30)  # ms each layer contributes to each network
    true = np.zeros(30)
    true[:5] = 0.3  # five layers cost 30 % more inside a network than alone
    measured = layer_ms.sum(axis=1) + layer_ms @ true
    residual = measured - layer_ms.sum(axis=1)
    weights, lam, scores = ResidualRidge(layer_ms, measured).fit(residual)
    assert lam > 0 and scores[lam] < 0.05 * scores[0.0]
    assert np.allclose(weights[:5], 0.3, atol=0.08) and np.abs(weights[5:]).max() < 0.08
    noise = rng.normal(0, 0.01, size=120) * measured  # residuals with no per-layer structure
    _, lam_noise, scores_noise = ResidualRidge(layer_ms, measured).fit(noise)
    assert scores_noise[lam_noise] >= 0.9 * scores_noise[0.0]  # nothing to learn: barely better than none


def test_residual_weights_of_a_rare_layer_borrow_from_its_group():
    import numpy as np

    from hwnas.cost.lut_calibration import ResidualRidge, signature_groups
    from hwnas.space.base import LayerSignature

    sigs = [LayerSignature("ir", (("k", k), ("e", e)), (8, 6, 6)) for k in (3, 5, 7) for e in (3, 4, 6, 8)]
    groups, membership = signature_groups(sigs)
    assert "ir:k=7" in groups and "ir:e=3&k=7" in groups and "ir:in=8x6x6" in groups
    assert membership[sigs.index(LayerSignature("ir", (("k", 7), ("e", 3)), (8, 6, 6))), groups.index("ir:k=7")] == 1
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 3, size=(300, len(sigs))).astype(float)
    rare = len(sigs) - 1  # k=7, e=8: in no calibration network
    counts[:, rare] = 0
    layer_ms = counts * rng.uniform(0.5, 2.0, size=len(sigs))
    true = np.array([0.2 if dict(s.fields)["k"] == 7 else 0.0 for s in sigs])  # k = 7 costs 20 % more in a network
    measured = (layer_ms.sum(axis=1) + layer_ms @ true) * (1 + rng.normal(0, 0.01, size=300))
    residual = measured - layer_ms.sum(axis=1)
    alone, _, _ = ResidualRidge(layer_ms, measured).fit(residual)
    grouped, _, scores = ResidualRidge(layer_ms, measured, membership).fit(residual)
    assert alone[rare] == 0 and grouped[rare] > 0.1  # unseen: no correction alone, its kernel's with groups
    assert np.abs(np.delete(grouped - true, rare)).max() < 0.05
