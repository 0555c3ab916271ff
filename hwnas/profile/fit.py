"""Fitting a table's calibration: the linear network model over the layers' sums and the
per-layer residual corrections, and the warning when too few networks were fitted.

The calibration ``latency = a * sum_ms + sum_g a_g * sum_ms:g + b * n_layers + sum_k d_k *
max(0, memory_m - C_k) + c`` (extra scales for layer groups such as squeeze-excite blocks, a
per-layer boundary cost, the cost of memory beyond what stays cached, a constant; see
:func:`calibration_features` and :func:`fit_calibration`) is fitted on the calibration
networks (relative least squares), then per-layer corrections of its residuals (ridge
regression, penalty by cross-validation, shared by similar layers;
:class:`~hwnas.cost.lut_calibration.ResidualRidge`): what a layer costs inside a network but not
alone. Applying a calibration is :mod:`hwnas.cost.lut_calibration`'s.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

from ..cost.lut_calibration import ResidualRidge, calibrated, fit_linear, memory_m, signature_groups
from ..cost.lut_table import LatencyTable
from ..wording import counted

#: Most memory thresholds a calibration may add, and the shares of each layer's activations the
#: network's memory may count besides its weights (see :func:`fit_calibration`).
MAX_MEMORY_THRESHOLDS = 4
ACTIVATION_SHARES = (0.0, 0.5, 1.0)
#: Fewest calibration networks per calibration coefficient before the report warns that the fit
#: is underdetermined.
NETWORKS_PER_COEF = 5


@dataclasses.dataclass(frozen=True)
class _Fit:
    """One candidate calibration: linear features and coefficients, the activation share of its
    memory terms, per-layer residual weights with their ridge penalty, and its cross-validated
    error (``cv_scores``: mean squared relative error per penalty; ``cv_pct``: the best, as an
    RMSE in %)."""

    names: list[str]
    coef: list[float]
    activation_share: float
    residual_weights: np.ndarray
    penalty: float
    cv_scores: dict[float, float]
    cv_pct: float


def fit_calibration(table: LatencyTable, space, archs: Sequence[str], feats: Sequence[dict[str, float]],
                    measured_ms: Sequence[float], seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit the calibration on the calibration networks and store per-layer residual weights in the entries.

    The linear part uses :func:`calibration_features`, plus, when they help, the memory beyond
    up to :data:`MAX_MEMORY_THRESHOLDS` thresholds (``memory_m_over:<C>``, see
    :func:`~hwnas.cost.lut_calibration.feature_value`), added one at a time from the 5 %-quantiles of the
    networks' memory while the cross-validated error of the whole fit (linear part and per-layer
    residual weights) falls by at least 1 %. The memory counts the weights and a share of the
    activations (:data:`ACTIVATION_SHARES`); the share with the lowest cross-validated error is
    kept. Xeon VM, 1000 calibration networks, table's own error on 300 other networks (two
    data sets): 0.77 / 0.90 % with two thresholds on weights alone, 0.67 / 0.78 % with up to
    four, 0.65 / 0.73 % with up to four and half of the activations, 0.59 / 0.68 % with the
    per-layer corrections shared by layer groups (:func:`~hwnas.cost.lut_calibration.signature_groups`).

    Returns:
        The calibration (``model``, ``features``, ``coef``, ending in ``residual_ms`` with
        coefficient 1, and ``activation_share``) and a description of the residual fit and the
        threshold choice.
    """
    signatures = {s.key: s for s in space.all_layer_signatures()}
    keys = sorted(table.entries)
    column = {k: i for i, k in enumerate(keys)}
    layer_ms = np.zeros((len(archs), len(keys)))
    for row, arch in enumerate(archs):
        for sig in space.layer_signatures(space.parse(arch)):
            layer_ms[row, column[sig.key]] += table.entries[sig.key]["latency_ms"]
    y = np.asarray(measured_ms, float)
    base = calibration_features(feats)
    groups, membership = signature_groups([signatures[k] for k in keys])
    ridge = ResidualRidge(layer_ms, y, membership, seed=seed)

    def attempt(share: float, extra: list[str]) -> _Fit:
        names = base[:-1] + extra + base[-1:]  # const last
        coef = fit_linear(feats, names, y, share)
        fitted = {"model": "linear", "features": names, "coef": coef, "activation_share": share}
        linear = np.array([calibrated(fitted, f) for f in feats])
        weights, lam, scores = ridge.fit(y - linear)
        return _Fit(names, coef, share, weights, lam, scores, 100 * min(scores.values()) ** 0.5)

    def thresholds_for(share: float) -> tuple[_Fit, list[str], dict[str, float]]:
        memory = np.array([memory_m(f, share) for f in feats])
        grid = sorted({float(f"{c:.3g}") for c in np.percentile(memory, range(5, 100, 5))} if memory.max() > 0
                      else set())
        chosen, best = [], attempt(share, [])
        tried = {"none": round(best.cv_pct, 3)}
        for _ in range(MAX_MEMORY_THRESHOLDS):
            options = {c: attempt(share, chosen + [f"memory_m_over:{c:g}"]) for c in grid
                       if f"memory_m_over:{c:g}" not in chosen}
            tried.update({" + ".join(chosen + [f"memory_m_over:{c:g}"]): round(fit.cv_pct, 3)
                          for c, fit in options.items()})
            if not options:
                break
            c = min(options, key=lambda c: options[c].cv_pct)
            if options[c].cv_pct > best.cv_pct * 0.99:  # under 1 % better: not worth a feature
                break
            chosen, best = chosen + [f"memory_m_over:{c:g}"], options[c]
        return best, chosen, tried

    shares = ACTIVATION_SHARES if any(f.get("activations_m", 0.0) > 0 for f in feats) else (0.0,)
    by_share = {share: thresholds_for(share) for share in shares}
    best, chosen, tried = min(by_share.values(), key=lambda found: found[0].cv_pct)
    for key, w in zip(keys, best.residual_weights):
        table.entries[key]["residual_weight"] = round(float(w), 6)
    residual = {"model": "ridge per layer and layer group", "groups": len(groups), "lambda": best.penalty,
                "cv_rmse_pct": {f"{k:g}": round(100 * v ** 0.5, 3) for k, v in best.cv_scores.items()},
                "memory_thresholds": {"activation_share": best.activation_share, "chosen": chosen,
                                      "cv_rmse_pct": tried,
                                      "cv_rmse_pct_by_share": {f"{s:g}": round(found[0].cv_pct, 3)
                                                               for s, found in by_share.items()}}}
    return {"model": "linear", "features": best.names + ["residual_ms"], "coef": best.coef + [1.0],
            "activation_share": best.activation_share}, residual


def calibration_features(features: Sequence[dict[str, float]]) -> list[str]:
    """Feature names of the linear calibration, chosen from the calibration networks.

    ``sum_ms``, ``n_layers`` and ``const``, plus ``sum_ms:<group>`` for each layer group whose
    count varies between networks, except the most frequent one (it is ``sum_ms`` minus the
    others). Groups present once in every network (stem, head) get no own scale: their sums
    take only one value per width and would be confounded with ``const``.
    """
    counts: dict[str, set[float]] = {}
    totals: dict[str, float] = {}
    for f in features:
        for name in {k for feats in features for k in feats if k.startswith("n:")}:
            counts.setdefault(name[2:], set()).add(f.get(name, 0.0))
            totals[name[2:]] = totals.get(name[2:], 0.0) + f.get(name, 0.0)
    varying = sorted((g for g, values in counts.items() if len(values) > 1), key=lambda g: (-totals[g], g))
    return ["sum_ms"] + [f"sum_ms:{g}" for g in sorted(varying[1:])] + ["n_layers", "const"]


def calibration_size_warning(calibration: Mapping[str, Any]) -> str | None:
    """A line when the calibration was fitted on fewer than :data:`NETWORKS_PER_COEF` networks per coefficient."""
    coefficients, networks = len(calibration.get("coef", [])), len(calibration.get("networks", []))
    if not coefficients or networks >= NETWORKS_PER_COEF * coefficients:
        return None
    return (f"too few calibration networks: {counted(coefficients, 'coefficient')} fitted on "
            f"{counted(networks, 'network')} (fewer than {NETWORKS_PER_COEF} per coefficient), so the predictions are "
            f"unreliable; build with --calibration {max(1, NETWORKS_PER_COEF * coefficients - 2)} or more (the build "
            f"adds the space's smallest and largest)")
