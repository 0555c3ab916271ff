"""How a latency table's per-layer latencies add up to a whole network's latency.

Layers timed alone pay per-call overhead, layout conversions and unfused boundaries that vanish
inside a network (on the development machine the raw sum overestimated whole networks by
35-80 %), so a table carries a calibration: a linear model in named features of the network
(:func:`feature_value`) fitted on whole networks measured in the same interleaved session as the
layers (:mod:`hwnas.profile`), e.g.
``latency_ms = a * sum_ms + a_se * sum_ms:ir-se + b * n_layers + c``, plus per-layer corrections
of what it leaves over (:class:`ResidualRidge`, the ``residual_ms`` feature).

Features: ``sum_ms`` (all layers), ``sum_ms:<group>``, ``n_layers``, ``n:<group>``, ``const``,
``weights_m``, ``activations_m``, ``memory_m_over:<C>`` (see :func:`feature_value`) and
``residual_ms`` (see :class:`ResidualRidge`). :meth:`hwnas.cost.lut_table.LatencyTable.features`
computes them for one network; :func:`calibrated` applies a calibration to them.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from ..space.base import shape_text

#: Calibration models a table may name: the plain sum, or linear in named features.
CALIBRATIONS = ("sum", "linear")
#: Calibration features :meth:`~hwnas.cost.lut_table.LatencyTable.features` gives by name, and
#: prefixes of per-group ones.
_FEATURES = ("sum_ms", "n_layers", "const", "residual_ms", "weights_m", "activations_m")
_FEATURE_PREFIXES = ("sum_ms:", "n:")


def known_feature(name: str) -> bool:
    """Whether a calibration may name ``name`` (see :meth:`~hwnas.cost.lut_table.LatencyTable.features`
    and :func:`feature_value`)."""
    if name.startswith("memory_m_over:"):
        try:
            return math.isfinite(float(name.split(":", 1)[1]))
        except ValueError:
            return False
    return name in _FEATURES or name.startswith(_FEATURE_PREFIXES)


def feature_value(features: Mapping[str, float], name: str, activation_share: float = 0.0) -> float:
    """One calibration feature of a network; 0 for a group it lacks.

    ``memory_m_over:<C>`` is ``max(0, memory_m - C)`` with ``memory_m = weights_m +
    activation_share * activations_m``: the memory a network cycles through per inference beyond
    C million numbers. Timed alone, a layer's weights and buffers stay in the cache from run to
    run; inside a network whose memory exceeds the cache, every layer fetches them again. On a
    2 MB-L2 Xeon VM the calibration's residuals grew from 0.7 % to 2.8 % s.d. past 0.2 M weights;
    thresholds on weights alone halved them, and counting half of each layer's activations
    (input plus its largest intermediate tensor) cut the table's own error by another ~5 %.
    """
    if name.startswith("memory_m_over:"):
        return max(0.0, memory_m(features, activation_share) - float(name.split(":", 1)[1]))
    return features.get(name, 0.0)


def memory_m(features: Mapping[str, float], activation_share: float) -> float:
    """A network's memory in millions of numbers: its weights plus ``activation_share`` of its activations."""
    return features.get("weights_m", 0.0) + activation_share * features.get("activations_m", 0.0)


def calibrated(calibration: Mapping[str, Any], features: Mapping[str, float]) -> float:
    """Apply a calibration (``{"model": "linear", "features": [...], "coef": [...]}``, or the plain sum)."""
    if calibration.get("model", "sum") == "sum":
        return float(features["sum_ms"])
    share = calibration.get("activation_share", 0.0)
    return float(sum(c * feature_value(features, name, share)
                     for name, c in zip(calibration["features"], calibration["coef"])))


def fit_linear(features: Sequence[Mapping[str, float]], names: Sequence[str],
               measured_ms: Sequence[float], activation_share: float = 0.0) -> list[float]:
    """Least squares in *relative* error of ``measured ≈ sum_i coef_i * features[names_i]``.

    Relative weighting (each row divided by its measured latency) makes small and large
    networks count alike, which is what a ±x % fidelity target asks for.
    """
    y = np.asarray(measured_ms, dtype=float)
    x = np.array([[feature_value(f, n, activation_share) for n in names] for f in features], dtype=float)
    coef, *_ = np.linalg.lstsq(x / y[:, None], np.ones_like(y), rcond=None)
    return [float(v) for v in coef]


def signature_groups(signatures: Sequence[Any]) -> tuple[list[str], np.ndarray]:
    """Groups of layer signatures that share a correction: the op, each field value of an op,
    and each pair of field values (the input size counts as a field), e.g. ``ir:k=7`` or
    ``ir:k=7&s=2``.

    Returns:
        The group names and a signatures x groups 0/1 membership matrix.
    """
    members: list[set[str]] = []
    for sig in signatures:
        fields = sorted([(str(n), str(v)) for n, v in sig.fields] + [("in", shape_text(sig.input_shape))])
        names = {sig.op} | {f"{sig.op}:{n}={v}" for n, v in fields}
        names |= {f"{sig.op}:{a}={v}&{b}={w}" for i, (a, v) in enumerate(fields) for b, w in fields[i + 1:]}
        members.append(names)
    groups = sorted(set().union(*members)) if members else []
    column = {g: j for j, g in enumerate(groups)}
    matrix = np.zeros((len(signatures), len(groups)))
    for i, names in enumerate(members):
        matrix[i, [column[g] for g in names]] = 1.0
    return groups, matrix


class ResidualRidge:
    """Per-layer corrections of what the linear calibration leaves over, by ridge regression.

    A layer timed alone misses what it costs inside a network (fusion with neighbours, cache
    state, layout), and each entry carries its own measurement noise; both are per layer, so
    the calibration networks' residuals are regressed on each layer's share of the network:
    ``measured - linear = sum_layers weight_layer * latency_layer`` (relative to the measured
    latency, like :func:`fit_linear`). The ridge penalty is chosen by k-fold cross-validation
    on the calibration networks, so a layer seen in few networks keeps a weight near 0.

    With ``groups`` (see :func:`signature_groups`) a layer's weight is its own plus its groups'
    (``ir:k=7``, ``ir:k=7&s=2``, ...), all under the same penalty: a layer seen in few networks
    then borrows the correction of layers like it instead of shrinking to 0. On the Xeon VM
    (1000 calibration networks, 300 test networks, two data sets) this cut the table's own
    error from 0.65 / 0.73 % to 0.59 / 0.68 %.

    The layers' shares do not depend on the residual, so each fold's eigendecomposition is
    computed once and :meth:`fit` is cheap: a calibration search fits hundreds of residuals.

    Args:
        layer_ms: networks x layer signatures, the ms each signature contributes to each network
            (entry latency times its count).
        measured_ms: measured latency per network.
        groups: signatures x groups membership matrix (None: each layer on its own).
        lambdas: ridge penalties tried.
        folds: cross-validation folds.
        seed: seed of the fold split.
    """

    def __init__(self, layer_ms: np.ndarray, measured_ms: np.ndarray, groups: np.ndarray | None = None, *,
                 lambdas: Sequence[float] = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
                 folds: int = 5, seed: int = 0) -> None:
        self.measured = np.asarray(measured_ms, float)
        x = np.asarray(layer_ms, float) / self.measured[:, None]
        n_layers = x.shape[1]
        self.expand = np.eye(n_layers) if groups is None else np.hstack([np.eye(n_layers), groups])
        self.x = x @ self.expand
        self.lambdas = [float(lam) for lam in lambdas]
        order = np.random.default_rng(seed).permutation(len(x))
        self.splits = [(np.setdiff1d(order, test), test) for test in np.array_split(order, min(folds, len(x)))]
        self.bases = [self._basis(train) for train, _ in self.splits]
        self.full = self._basis(np.arange(len(x)))

    def _basis(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Eigenvalues and eigenvectors of the rows' Gram matrix, and the rows' design."""
        values, vectors = np.linalg.eigh(self.x[rows].T @ self.x[rows])
        return np.clip(values, 0.0, None), vectors, self.x[rows]

    @staticmethod
    def _solve(basis: tuple[np.ndarray, np.ndarray, np.ndarray], target: np.ndarray, lam: float) -> np.ndarray:
        values, vectors, design = basis
        return vectors @ ((vectors.T @ (design.T @ target)) / (values + lam))

    def fit(self, residual_ms: np.ndarray) -> tuple[np.ndarray, float, dict[float, float]]:
        """Weights for ``residual_ms`` (measured minus linear prediction, per network).

        Returns:
            The weight per signature (column of ``layer_ms``), the chosen penalty, and the
            cross-validated mean squared relative error per penalty (``0.0``: no correction).
        """
        y = np.asarray(residual_ms, float) / self.measured
        scores = {0.0: float(np.mean(y ** 2))}
        for lam in self.lambdas:
            err = [y[test] - self.x[test] @ self._solve(basis, y[train], lam)
                   for (train, test), basis in zip(self.splits, self.bases)]
            scores[lam] = float(np.mean(np.concatenate(err) ** 2))
        best = min(scores, key=scores.get)
        weights = self._solve(self.full, y, best) if best > 0 else np.zeros(self.x.shape[1])
        return self.expand @ weights, best, scores
