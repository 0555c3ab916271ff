"""The fidelity check's statistics: how a table's predictions agree with measurements of the
same networks, the table's own error set against measurement noise, its Kendall τ against the
noise ceiling, and the lines that give their verdicts.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

#: Overall level difference between two measurements of the same networks beyond which the
#: machine, not the table, changed between them: a slow phase of a shared machine reads 30 % or
#: more, while two steady measurements agree within about 1 %.
LEVEL_SHIFT_PCT = 5.0
#: Fewest fidelity networks the report draws a τ verdict from.
MIN_TAU_NETWORKS = 10


def agreement(reference: Sequence[float], other: Sequence[float]) -> dict[str, float]:
    """Mean absolute % error, share within ±5/±10 %, max error and Kendall τ of ``other`` vs ``reference``."""
    from scipy.stats import kendalltau

    ref, oth = np.asarray(reference, float), np.asarray(other, float)
    err = 100.0 * np.abs(oth - ref) / ref
    tau = kendalltau(ref, oth).statistic if len(ref) > 1 else float("nan")
    return {"n": int(len(ref)), "mean_abs_pct": float(err.mean()), "median_abs_pct": float(np.median(err)),
            "p95_abs_pct": float(np.percentile(err, 95)), "max_abs_pct": float(err.max()),
            "within_5_pct": float(np.mean(err <= 5.0)), "within_10_pct": float(np.mean(err <= 10.0)),
            "kendall_tau": float(tau), "mean_signed_pct": float(np.mean(100.0 * (oth - ref) / ref))}


def error_sources(predicted: Sequence[float], first: Sequence[float], second: Sequence[float]) -> dict[str, float]:
    """Split the table's disagreement with measurement into its own error and measurement noise.

    With ``first = true * e1`` and ``second = true * e2`` (independent noise of equal size) and
    ``predicted = true * ep``: var(log first - log second) = 2 s_m^2 and
    var(log predicted - log measured) = s_p^2 + s_m^2, so the table's own error s_p (relative, in
    %) can be set next to one measurement's noise s_m. Kendall τ against a noise ceiling on 100
    networks wobbles by about ±0.003 between samples; these two figures say directly whether the
    table is closer to the true latency than one measurement is (s_p < s_m).

    Returns:
        ``measurement_noise_pct`` (s_m) and ``table_error_pct`` (s_p; 0 when the table's
        disagreement is all measurement noise). Offsets common to all networks are ignored
        there and reported as ``level_shift_pct``: how much slower (+) the second measurement
        reads than the first overall (median ratio, in %); beyond :data:`LEVEL_SHIFT_PCT` the
        machine changed speed between them and the figures describe the machine, not the table.
    """
    p, a, b = (np.log(np.asarray(v, float)) for v in (predicted, first, second))
    noise = float(np.var(a - b)) / 2
    table = (float(np.var(p - a)) + float(np.var(p - b))) / 2 - noise
    return {"measurement_noise_pct": 100 * noise ** 0.5, "table_error_pct": 100 * max(table, 0.0) ** 0.5,
            "level_shift_pct": 100 * float(np.expm1(np.median(b - a)))}


def tau_gap(groups: Sequence[tuple[Sequence[float], Sequence[float], Sequence[float]]], *,
            resamples: int = 1000, seed: int = 0) -> dict[str, float]:
    """How far the table's Kendall τ is from the noise ceiling, with a bootstrap interval.

    For each group of networks (one fidelity check: ``predicted``, ``first``, ``second``), the
    gap is the table's mean τ against the two measurements minus the τ between them; over
    several groups it is the mean of their gaps. τ on 100 networks wobbles by about ±0.003, so
    the interval (networks resampled within each group, the three τ of a resample computed on
    the same networks) says whether a gap is the table's or the sample's.

    Returns:
        ``gap`` and its 95 % interval ``low`` .. ``high``.
    """
    from scipy.stats import kendalltau

    def tau(x: np.ndarray, y: np.ndarray) -> float:  # nan, without scipy's warning, for a constant resample
        return float(kendalltau(x, y).statistic) if min(len(set(x)), len(set(y))) > 1 else float("nan")

    def gap(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        return (tau(p, a) + tau(p, b)) / 2 - tau(a, b)

    data = [tuple(np.asarray(v, float) for v in group) for group in groups]
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(resamples):
        picks = [rng.integers(0, len(p), len(p)) for p, _, _ in data]
        samples.append(np.mean([gap(p[i], a[i], b[i]) for (p, a, b), i in zip(data, picks)]))
    low, high = np.nanpercentile(samples, [2.5, 97.5]) if not np.all(np.isnan(samples)) else (np.nan, np.nan)
    return {"gap": float(np.mean([gap(*group) for group in data])), "low": float(low), "high": float(high)}


def tau_gap_line(result: Mapping[str, float], networks: int | None = None) -> str:
    """One line saying where the table's τ stands against the noise ceiling.

    With fewer than :data:`MIN_TAU_NETWORKS` networks, or τ undefined (nan), it says so instead
    of a verdict.
    """
    values = [result.get(k, float("nan")) for k in ("gap", "low", "high")]
    if (networks is not None and networks < MIN_TAU_NETWORKS) or not all(np.isfinite(values)):
        return (f"table τ minus noise ceiling: too few networks ({networks if networks is not None else '?'}) for "
                f"a verdict; check it with --fidelity {MIN_TAU_NETWORKS} or more")
    if result["low"] > 0:
        verdict = "above the ceiling"
    elif result["high"] < 0:
        verdict = "below the ceiling"
    else:
        verdict = "not distinguishable from the ceiling on these networks"
    return (f"table τ minus noise ceiling {result['gap']:+.4f} (95 % bootstrap interval {result['low']:+.4f} .. "
            f"{result['high']:+.4f}): {verdict}")


def level_shift_warning(sources: dict[str, float]) -> str | None:
    """A line telling the user to measure again when the two measurements differ in level."""
    level = sources.get("level_shift_pct", 0.0)
    if abs(level) <= LEVEL_SHIFT_PCT:
        return None
    return (f"measurement 2 reads {level:+.0f} % against measurement 1 overall: the machine changed speed "
            f"between them (a slow phase), so these figures measure the machine, not the table; "
            f"run it again on a quiet machine")
