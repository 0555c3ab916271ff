"""``compressed.csv``: one row per parent (re-measured) and per compressed variant, and what is
read from it: the best variant of each parent, the fronts before and after, and their plot.

A variant is *recommended* when it was built and measured and is faster than its parent in
the same interleaved measurement (``latency_ratio < 1``); a slower one keeps its row, with
``slower_than_parent = True``, and is never recommended or picked.

Latency ratios are only ever taken inside one timing session (the machine's speed drifts
between sessions): each ``hwnas compress`` call re-times its parents beside their variants, and
when a parent is compressed again, the variants kept from earlier calls are re-timed in the
same session (their ONNX files are in ``compressed/``), so every ``ok`` row of a parent shares
its ``measured_at`` and its ratios. A kept variant whose ONNX file is gone cannot be re-timed:
it keeps its row and its earlier numbers with status :data:`STALE` and no ratio, so it is never
recommended or picked. Rows of parents this call does not touch keep their own session's ratios.
A kept variant built from one this call makes again with other settings (``prune0.5+int8-qdq``
when ``prune0.5`` is replaced) no longer matches its base: it is :data:`STALE` too
(:func:`built_from`), until it is compressed again.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Mapping, Sequence

from ..front import MEASURED_COLUMNS, hypervolume, non_dominated
from ..search.objectives import Objective, minimisation_matrix

COMPRESSED_CSV = "compressed.csv"
COMPRESSED_PNG = "compressed.png"
COMPRESSED_DIR = "compressed"
#: Held (``flock``) by a ``hwnas compress`` call from reading ``compressed.csv`` to writing it.
COMPRESSED_LOCK = "compressed.lock"

#: The variant name of a parent's own row (its float model, re-measured beside its variants).
ORIGINAL = "original"

#: Status of a variant kept from an earlier call that could not be re-timed beside its parent.
STALE = "stale"

COLUMNS = (
    "parent_id", "parent_arch", "variant", "method", "settings", "status", "recommended",
    "slower_than_parent", "latency_ratio", "accuracy_change_pts",
    "error_pct", "accuracy_pct", "latency_ms", "latency_spread_pct", "macs", "params", "peak_memory_mb",
    "model_size_mb", "weight_bits", "activation_bits", "onnx",
    "target", "runtime", "runtime_version", "execution_provider", "intra_op_threads", "batch_size", "dtype",
    "latency_estimator", "measured_at", "compress_s", "reason",
)
_FLOATS = ("latency_ratio", "accuracy_change_pts", "error_pct", "accuracy_pct", "latency_ms",
           "latency_spread_pct", "macs", "params", "peak_memory_mb", "model_size_mb", "weight_bits",
           "activation_bits", "compress_s")
_BOOLS = ("recommended", "slower_than_parent")

Row = dict[str, object]


def compare_with_parents(rows: Sequence[Row]) -> None:
    """Fill ``latency_ratio``, ``accuracy_change_pts``, ``slower_than_parent`` and ``recommended``.

    Each variant is compared with the ``original`` row of its parent (in place).
    """
    parents = {r["parent_arch"]: r for r in rows if r["variant"] == ORIGINAL and r["status"] == "ok"}
    for r in rows:
        parent = parents.get(r["parent_arch"])
        if r["status"] != "ok" or parent is None:
            r.update(recommended=False, slower_than_parent="", latency_ratio="", accuracy_change_pts="")
            continue
        ratio = float(r["latency_ms"]) / float(parent["latency_ms"])
        original = r["variant"] == ORIGINAL
        r.update(latency_ratio=ratio, accuracy_change_pts=float(r["accuracy_pct"]) - float(parent["accuracy_pct"]),
                 slower_than_parent=False if original else ratio >= 1.0,
                 recommended=False if original else ratio < 1.0)


def redone_keys(old: Sequence[Row], new: Sequence[Row]) -> set[tuple[object, object]]:
    """(parent, variant) of the new rows that replace the earlier call's: all of them but a
    failed remake of a variant that earlier calls made successfully (that one is kept)."""
    made = {(r["parent_arch"], r["variant"]) for r in old if r["status"] == "ok"}
    keys = [((r["parent_arch"], r["variant"]), r["status"] == "ok") for r in new]
    return {key for key, ok in keys if ok or key not in made}


def merge_rows(old: Sequence[Row], new: Sequence[Row]) -> list[Row]:
    """Rows of an earlier ``hwnas compress`` call that this one did not redo (:func:`redone_keys`),
    then the new rows that replace theirs."""
    redone = redone_keys(old, new)
    return ([r for r in old if (r["parent_arch"], r["variant"]) not in redone]
            + [r for r in new if (r["parent_arch"], r["variant"]) in redone])


def kept_variants(old: Sequence[Row], new: Sequence[Row]) -> list[Row]:
    """The measured variants of an earlier call that :func:`merge_rows` keeps for a parent this
    call re-measures: they must be re-timed in this call's session (or marked :data:`STALE`)."""
    redone = redone_keys(old, new)
    parents = {r["parent_arch"] for r in new if r["variant"] == ORIGINAL}
    return [r for r in old if r["parent_arch"] in parents and r["variant"] != ORIGINAL
            and r["status"] == "ok" and (r["parent_arch"], r["variant"]) not in redone]


def built_from(rows: Sequence[Row], base: Row) -> list[Row]:
    """The variants of ``rows`` that were built on top of ``base`` (same parent, a chain that
    starts with ``base``'s: ``prune0.5+int8-qdq`` is built from ``prune0.5``).

    Example:
        >>> rows = [{"parent_arch": "a", "variant": v} for v in ("prune0.5+int8-qdq", "prune0.25+int8-qdq")]
        >>> [r["variant"] for r in built_from(rows, {"parent_arch": "a", "variant": "prune0.5"})]
        ['prune0.5+int8-qdq']
    """
    prefix = f"{base['variant']}+"
    return [r for r in rows if r["parent_arch"] == base["parent_arch"] and str(r["variant"]).startswith(prefix)]


def compared_objectives(objectives: Sequence[Objective]) -> tuple[list[Objective], str | None]:
    """The run's objectives that compressed variants are measured on (the columns of
    :data:`COLUMNS`), for their fronts, hypervolumes and plot; ``error`` and ``latency_ms`` fill in
    when fewer than two remain. Returns them and a one-line note naming what was left out (or None).

    Example:
        >>> from hwnas.search.objectives import resolve_objectives
        >>> [o.name for o in compared_objectives(resolve_objectives(["error", "energy_mj"]))[0]]
        ['error', 'latency_ms']
    """
    from ..search.objectives import OBJECTIVES

    used = [o for o in objectives if o.column in COLUMNS]
    dropped = [o.name for o in objectives if o.column not in COLUMNS]
    for name in ("error", "latency_ms"):
        if len(used) < 2 and all(o.name != name for o in used):
            used.append(OBJECTIVES.get(name))
    note = (f"compressed.png and the hypervolumes compare on {', '.join(o.name for o in used)}: compress does not "
            f"measure {', '.join(dropped)} on the variants") if dropped else None
    return used, note


def write_compressed(path: Path, rows: Sequence[Row]) -> None:
    """Write ``compressed.csv`` (columns :data:`COLUMNS`, missing values blank)."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_compressed(path: Path) -> list[Row]:
    """Read ``compressed.csv`` with numbers as floats and flags as bools (blanks stay ``""``)."""
    from ..exceptions import CompressError

    rows = []
    with open(path, newline="") as fh:
        for line, raw in enumerate(csv.DictReader(fh), 2):
            row: Row = dict(raw)
            for c in _FLOATS:
                if row.get(c) not in (None, ""):
                    try:
                        row[c] = float(row[c])
                    except ValueError:
                        raise CompressError(f"{path} line {line}: {c} = {row[c]!r} is not a number; fix the cell, "
                                            f"or delete the file and compress again") from None
            for c in _BOOLS:
                if row.get(c) in ("True", "False"):
                    row[c] = row[c] == "True"
            rows.append(row)
    return rows


def best_variants(rows: Sequence[Row], *, max_accuracy_drop_pts: float = 1.0) -> dict[str, Row | None]:
    """For each parent, its fastest recommended variant losing at most ``max_accuracy_drop_pts``.

    Returns:
        parent arch -> the row, or None when no recommended variant stays within the drop.
    """
    best: dict[str, Row | None] = {}
    for r in rows:
        if r["variant"] == ORIGINAL and r["status"] == "ok":
            best.setdefault(str(r["parent_arch"]), None)
    for r in rows:
        if r.get("recommended") is True and float(r["accuracy_change_pts"]) >= -max_accuracy_drop_pts:
            key = str(r["parent_arch"])
            current = best.get(key)
            if current is None or float(r["latency_ratio"]) < float(current["latency_ratio"]):
                best[key] = r
    return best


#: Each parent's metrics in the search (architecture -> metrics): the scale rows of different
#: timing sessions are compared on (:func:`scaled_metrics`).
Scale = Mapping[str, Mapping[str, float]]


def search_scale(run) -> Scale:
    """The :data:`Scale` of a run (:class:`~hwnas.outputs.Run`): its successful evaluations' metrics."""
    return {ev.arch: ev.metrics for ev in run.evaluations if ev.ok}


def scaled_metrics(row: Mapping[str, object], scale: Scale | None) -> dict[str, float]:
    """A row's metrics on its parent's search-time scale (:func:`on_parent_scale`) when ``scale``
    knows the parent, else the row's own: rows timed in different ``hwnas compress`` calls are
    then compared through their ratios to their parents, never by another session's ms."""
    parent = (scale or {}).get(str(row.get("parent_arch")))
    return on_parent_scale(row, parent) if parent is not None else metrics_of(row)


def fronts(rows: Sequence[Row], objectives: Sequence[Objective],
           scale: Scale | None = None) -> tuple[list[Row], list[Row]]:
    """The original front (parents) and the combined front (parents + recommended), compared on
    ``scale`` (:func:`scaled_metrics`)."""
    originals = [r for r in rows if r["variant"] == ORIGINAL and r["status"] == "ok"]
    combined = originals + [r for r in rows if r.get("recommended") is True]
    return ([originals[i] for i in non_dominated([scaled_metrics(r, scale) for r in originals], objectives)],
            [combined[i] for i in non_dominated([scaled_metrics(r, scale) for r in combined], objectives)])


def metrics_of(row: Mapping[str, object]) -> dict[str, float]:
    """The numeric columns of a row (blanks and text dropped), for the front functions."""
    return {k: float(v) for k, v in row.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k in _FLOATS}


def on_parent_scale(variant: Mapping[str, object], parent: Mapping[str, float]) -> dict[str, float]:
    """A variant's metrics on the scale of its parent's search-time ``parent`` metrics.

    Latency ratios hold only within one timing session, and a search's latencies come from
    another session or from a table's prediction; so the variant's latency is the parent's
    search-time latency times the ratio measured beside it, and its accuracy (error) the
    parent's moved by the change measured beside it. Static counts (MACs, params, memory,
    size) are the variant's own. A parent re-measured after a table-driven search
    (``latency_ms_measured``) lends that figure times the ratio too, so budgets judge the
    variant on the measured scale, as they judge its parent.
    """
    metrics = metrics_of(variant)
    ratio, change = variant.get("latency_ratio"), variant.get("accuracy_change_pts")
    if isinstance(ratio, float):
        for column in ("latency_ms", *MEASURED_COLUMNS.values()):
            if column in parent:
                metrics[column] = parent[column] * ratio
    if isinstance(change, float):
        for key, sign in (("accuracy_pct", 1.0), ("error_pct", -1.0)):
            if key in parent:
                metrics[key] = parent[key] + sign * change
    return metrics


def hypervolumes(rows: Sequence[Row], objectives: Sequence[Objective], scale: Scale | None = None) -> dict[str, float]:
    """Hypervolume of the original and the combined front, on one normalisation and on ``scale``
    (:func:`scaled_metrics`).

    Each objective is scaled to [0, 1] between the best (ideal) and worst (nadir) value found on
    either front; the reference point is 1.1 in every objective.

    Returns:
        ``{"original": hv, "combined": hv}`` (both 0 without parents).
    """
    original, combined = fronts(rows, objectives, scale)
    if not original:
        return {"original": 0.0, "combined": 0.0}
    original, combined = [scaled_metrics(r, scale) for r in original], [scaled_metrics(r, scale) for r in combined]
    both = minimisation_matrix(original + combined, objectives)
    ideal, nadir = both.min(axis=0), both.max(axis=0)
    return {name: hypervolume(points, objectives, ideal=ideal, nadir=nadir)
            for name, points in (("original", original), ("combined", combined))}


def plot_compressed(path: Path, rows: Sequence[Row], objectives: Sequence[Objective],
                    scale: Scale | None = None) -> None:
    """Scatter of parents and variants on the first two objectives, both fronts drawn, on ``scale``
    (:func:`scaled_metrics`: the search's latencies times the ratios measured beside each parent)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_obj, y_obj = (objectives[1], objectives[0]) if len(objectives) > 1 else (objectives[0], objectives[0])
    original, combined = fronts(rows, objectives, scale)

    def xy(points: Sequence[Mapping[str, object]]) -> tuple[list[float], list[float]]:
        pts = sorted((m[x_obj.column], m[y_obj.column]) for m in (scaled_metrics(p, scale) for p in points))
        return [p[0] for p in pts], [p[1] for p in pts]

    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    ok = [r for r in rows if r["status"] == "ok" and r["variant"] != ORIGINAL]
    slower = [r for r in ok if r.get("slower_than_parent") is True]
    faster = [r for r in ok if r.get("recommended") is True]
    # dynamic INT8 can be 10x slower than its parent: clip the x axis to keep the fronts readable
    x_max = 1.15 * max(xy(original + faster)[0], default=1.0)
    off = sum(scaled_metrics(r, scale)[x_obj.column] > x_max for r in slower)
    if slower:
        label = f"slower than parent ({len(slower)}" + (f", {off} beyond the right edge)" if off else ")")
        ax.scatter(*xy(slower), s=14, marker="x", c="darkgray", label=label)
    if faster:
        ax.scatter(*xy(faster), s=14, c="tab:blue", alpha=0.6, label=f"compressed, faster ({len(faster)})")
    ax.plot(*xy(original), "s--", c="k", ms=4, label=f"original front ({len(original)})")
    ax.plot(*xy(combined), "o-", c="tab:red", ms=5, label=f"front after compression ({len(combined)})")
    ax.set_xlabel(x_obj.label)
    ax.set_ylabel(y_obj.label)
    if scale:
        ax.set_title("the search's figures; variants at the latency ratio and accuracy change measured "
                     "beside their parent", fontsize=7)
    if x_obj.column in ("macs", "params"):
        ax.set_xscale("log")
    else:
        ax.set_xlim(0.0, x_max)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
