"""Rank fidelity: do cheap accuracy signals order architectures the way longer training does?

For a seeded sample of distinct architectures of a config's space, :func:`run_fidelity`
computes every cheap signal and the reference, then the Spearman and Kendall rank correlations
of each signal with the reference:

* every zero-cost proxy (:data:`hwnas.estimate.zero_cost.PROXIES`), on the initialisation
  training starts from;
* ``proxy-trainer`` runs at each shorter epoch budget (each a full run with its own schedule,
  not a prefix of the longest one);
* ``predictor``: a random forest on the genome, and ``predictor+zc``: on the genome and the
  proxy scores, each cross-validated (k-fold, out-of-fold predictions) on the reference
  accuracies of the sample. Their cost per architecture excludes the reference training of
  the other folds that they learn from;
* optionally the noise ceiling: the longest run again with the next trainer seed. No cheap
  signal can rank better than the reference agrees with itself.

Seconds are timed after an untimed warm-up of each architecture (one training step and an
evaluation), so the first budget run does not also pay the set-up of the network's shapes.

The reference is the validation accuracy after the longest epoch budget. Higher is better for
every signal. Everything is seeded: the sample (``seed``), the proxy batch and every
initialisation (the ``[estimator] seed``).

Example:
    >>> from hwnas.config import load_config
    >>> result = run_fidelity(load_config("examples/digits.toml"), archs=4, epochs=[1, 2])  # doctest: +SKIP
    >>> [row["signal"] for row in result.summary][:2]                                       # doctest: +SKIP
    ['synflow', 'naswot']
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .config import RunConfig
from .exceptions import ConfigError, HwnasError
from .wording import counted

#: Files :func:`write_fidelity` writes.
FIDELITY_CSV, SUMMARY_CSV, FIDELITY_PNG = "fidelity.csv", "fidelity_summary.csv", "fidelity.png"

SUMMARY_COLUMNS = ("signal", "kind", "spearman", "kendall", "n", "seconds_per_arch", "note")

#: Rows in a leaf of the predictors' forest: a fold that learns from fewer than twice as many
#: architectures cannot split, so its forest predicts the fold's mean.
MIN_SAMPLES_LEAF = 2


@dataclass
class FidelityResult:
    """What :func:`run_fidelity` measured.

    Attributes:
        rows: one dict per architecture: ``arch``, ``genome``, every signal and its seconds.
        summary: one dict per signal (:data:`SUMMARY_COLUMNS`).
        signals: signal name -> its column in ``rows``.
        reference: the reference column (``accuracy_pct_<L>ep``).
        columns: the column order of ``rows``.
        settings: what was run (for ``fidelity.json``).
    """

    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    signals: dict[str, str]
    reference: str
    columns: list[str]
    settings: dict[str, Any] = field(default_factory=dict)


def _acc(e: int) -> str:
    return f"accuracy_pct_{e}ep"


def _train_s(e: int) -> str:
    return f"train_s_{e}ep"


def sample_architectures(space, count: int, seed: int) -> list[str]:
    """``count`` distinct, non-degenerate canonical architectures drawn uniformly with ``seed``.

    Raises:
        ConfigError: the space has fewer (bounded sampling).
    """
    rng = np.random.default_rng(seed)
    found: list[str] = []
    seen: set[str] = set()
    tries = 200 * count + 100
    for _ in range(tries):
        if len(found) == count:
            break
        arch = space.sample(rng)
        text = space.canonical(arch)
        if text in seen:
            continue
        seen.add(text)
        if space.degenerate(arch) is None:
            found.append(text)
    if len(found) < count:
        raise ConfigError(f"space {space.name!r} gave only {counted(found, 'distinct usable architecture')} "
                          f"in {tries} draws; ask for fewer with --archs {len(found)}")
    return found


def rank_fidelity(signal: Sequence[float], reference: Sequence[float]) -> tuple[float, float, int]:
    """Spearman and Kendall (tau-b) of ``signal`` against ``reference`` over pairs where both
    are finite; NaN when fewer than 3 such pairs or either side is constant.

    Returns:
        ``(spearman, kendall, n)``.

    Example:
        >>> [round(v, 4) for v in rank_fidelity([1, 2, 3, float("nan")], [10, 30, 20, 40])]
        [0.5, 0.3333, 3]
    """
    from scipy.stats import kendalltau, spearmanr

    s, r = np.asarray(signal, float), np.asarray(reference, float)
    keep = np.isfinite(s) & np.isfinite(r)
    n = int(keep.sum())
    if n < 3 or np.ptp(s[keep]) == 0 or np.ptp(r[keep]) == 0:
        return float("nan"), float("nan"), n
    return float(spearmanr(s[keep], r[keep]).statistic), float(kendalltau(s[keep], r[keep]).statistic), n


def oof_predictions(features: np.ndarray, targets: np.ndarray, *, folds: int, seed: int) -> np.ndarray:
    """Out-of-fold predictions of a random forest (``k``-fold, shuffled with ``seed``).

    Rows with a non-finite target get NaN; non-finite features are replaced by the column
    minimum (a failed proxy reads as the worst score).

    Raises:
        ConfigError: fewer finite targets than folds.
    """
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.model_selection import KFold, cross_val_predict

    x = np.array(features, dtype=float)
    for j in range(x.shape[1]):
        col = x[:, j]
        bad = ~np.isfinite(col)
        if bad.any():
            col[bad] = np.min(col[~bad]) if (~bad).any() else 0.0
    y = np.asarray(targets, float)
    keep = np.isfinite(y)
    if keep.sum() < max(folds, 2):
        raise ConfigError(f"the predictor needs at least --folds {folds} architectures with a reference "
                          f"accuracy; {int(keep.sum())} have one; use more --archs or fewer --folds")
    model = RandomForestRegressor(n_estimators=100, min_samples_leaf=MIN_SAMPLES_LEAF, random_state=seed, n_jobs=1)
    out = np.full(len(y), np.nan)
    out[keep] = cross_val_predict(model, x[keep], y[keep], cv=KFold(folds, shuffle=True, random_state=seed))
    return out


def predictor_note(n: int, folds: int) -> str:
    """Why a predictor's rank figures over ``n`` architectures and ``folds`` folds mean nothing, or "".

    A fold's forest learns from the other folds' architectures, each tree from a bootstrap
    sample of them, which holds about 63 % of them once (4 of 6); a tree with fewer than
    ``2 * MIN_SAMPLES_LEAF`` distinct rows cannot split and predicts their mean, so with too
    few the out-of-fold predictions only tell the folds apart.

    Example:
        >>> predictor_note(5, 2)[:40]
        'too few architectures: with 5 in 2 folds'
        >>> predictor_note(5, 5)[:40]
        'too few architectures: with 5 in 5 folds'
        >>> predictor_note(14, 2)
        ''
    """
    def smallest_train(k: int) -> int:
        return k - math.ceil(k / folds)  # KFold's largest fold is left out

    def distinct(k: int) -> float:  # expected distinct rows of a bootstrap sample of k rows
        return k * (1 - (1 - 1 / k) ** k) if k else 0.0

    if distinct(smallest_train(n)) >= 2 * MIN_SAMPLES_LEAF:
        return ""
    need = next(k for k in range(n + 1, n + 4 * MIN_SAMPLES_LEAF * folds + 2)
                if distinct(smallest_train(k)) >= 2 * MIN_SAMPLES_LEAF)
    return (f"too few architectures: with {n} in {folds} folds a fold's forest learns from as few as "
            f"{smallest_train(n)}, each tree from about {distinct(smallest_train(n)):.1f} distinct of them, too few "
            f"to split, and predicts their mean, so this figure ranks folds, not architectures; use --archs "
            f"{need} or more")


def _trainer_options(config: RunConfig) -> dict[str, Any]:
    name = config.estimator.get("name")
    if name != "proxy-trainer":
        raise ConfigError(f"{config.source}: hwnas fidelity trains with [estimator] name = \"proxy-trainer\" "
                          f"(its options set the recipe), but the config names {name!r}; use a proxy-trainer config")
    return {k: v for k, v in config.estimator.items() if k not in ("name", "epochs")}


#: The most epochs a budget may have (proxy-trainer's own limit).
MAX_EPOCHS = 1000


def check_epochs(epochs: Sequence[int]) -> list[int]:
    """Sorted distinct epoch budgets; the last is the reference.

    Raises:
        ConfigError: fewer than two budgets, or one outside [1, :data:`MAX_EPOCHS`].
    """
    values = sorted({int(e) for e in epochs})
    if len(values) < 2 or values[0] < 1 or values[-1] > MAX_EPOCHS:
        raise ConfigError(f"--epochs {','.join(map(str, epochs))} needs at least two distinct budgets in "
                          f"[1, {MAX_EPOCHS}], e.g. 1,3,10 (the largest is the reference)")
    return values


def check_arguments(config: RunConfig, *, archs: int, epochs: Sequence[int], proxies: Sequence[str] | None,
                    folds: int, proxy_batch_size: int | None = None) -> tuple[list[int], list[str], dict[str, Any]]:
    """Check what :func:`run_fidelity` is given before any work (or file) is done.

    Returns:
        The sorted epoch budgets, the proxy names and the trainer's options.

    Raises:
        ConfigError: a bad argument, or a config that does not train with proxy-trainer.
        RegistryError: an unknown proxy (with "did you mean").
    """
    from .estimate.zero_cost import PROXIES

    if isinstance(archs, bool) or not isinstance(archs, int) or archs < max(folds, 3):
        raise ConfigError(f"--archs {archs!r} must be an integer >= {max(folds, 3)} (at least --folds and 3)")
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ConfigError(f"--folds {folds!r} must be an integer >= 2")
    if proxy_batch_size is not None and (isinstance(proxy_batch_size, bool) or not isinstance(proxy_batch_size, int)
                                         or proxy_batch_size < 2):
        raise ConfigError(f"--proxy-batch {proxy_batch_size!r} must be an integer >= 2 (inputs in the proxies' "
                          f"batch), e.g. 64")
    budgets = check_epochs(epochs)
    proxies = list(PROXIES.names() if proxies is None else proxies)
    for name in proxies:
        PROXIES.get(name)
    return budgets, proxies, _trainer_options(config)


def run_fidelity(config: RunConfig, *, archs: int = 40, epochs: Sequence[int] = (1, 3, 10),
                 proxies: Sequence[str] | None = None, seed: int = 0, folds: int = 5, proxy_batch_size: int | None = None,
                 ceiling: bool = False, done: Mapping[str, Mapping[str, Any]] | None = None,
                 progress: Callable[[str], None] | None = None,
                 on_row: Callable[[list[dict[str, Any]], list[str]], None] | None = None) -> FidelityResult:
    """Measure every cheap signal and the reference on ``archs`` sampled architectures.

    Args:
        config: a run config whose estimator is ``proxy-trainer`` (its recipe is used at every
            epoch budget; its seed seeds the initialisation and the proxy batch).
        archs: architectures to sample (distinct, non-degenerate).
        epochs: training budgets; the largest is the reference.
        proxies: proxy names (default: all registered).
        seed: architecture sampling seed (and the predictors' fold seed).
        folds: k of the predictors' cross-validation.
        proxy_batch_size: inputs in the proxies' batch; None: 64, or the whole training split when
            it is smaller (:func:`hwnas.estimate.zero_cost.proxy_batch`).
        ceiling: also train the reference budget with the next seed (the noise ceiling).
        done: rows of an earlier run with the same config, seed and proxy batch, by
            architecture: their values are kept and only the columns they lack (another
            proxy, budget or the ceiling) are computed.
        progress: called with one line per architecture.
        on_row: called with the rows so far and the columns after each architecture (to save
            partial results).

    Returns:
        The rows and the summary.

    Raises:
        ConfigError: a bad argument or a config that does not train with proxy-trainer.
        HwnasError: the task or space cannot be built.
    """
    from .components import build_space, check_recipe_overrides
    from .data import load_task
    from .estimate import ProxyTrainer
    from .estimate.zero_cost import proxy_batch, score_model
    from .registry import construct

    budgets, proxies, options = check_arguments(config, archs=archs, epochs=epochs, proxies=proxies, folds=folds,
                                                proxy_batch_size=proxy_batch_size)
    longest = budgets[-1]
    train_seed = int(options.get("seed", 0))
    task = load_task(config.task, source=config.source)
    space = build_space(config, task)
    check_recipe_overrides(config, space, options)
    where = f"{config.source} [estimator]"
    trainers = {e: construct(ProxyTrainer, task, options={**options, "epochs": e}, where=where, label="proxy-trainer")
                for e in budgets}
    if ceiling:
        trainers["ceiling"] = construct(ProxyTrainer, task, options={**options, "epochs": longest, "seed": train_seed + 1},
                                        where=where, label="proxy-trainer")
    # Untimed before an architecture's timed runs: one training batch and the whole validation
    # split, so that no budget (the first one run) pays the one-off set-up of its layer shapes.
    first = trainers[budgets[0]]
    n_warm = min(first.batch_size, len(task.x_train))
    warmer = construct(ProxyTrainer, _warm_task(task, n_warm), options={**options, "epochs": 1}, where=where,
                       label="proxy-trainer")
    batch = proxy_batch(task, proxy_batch_size, seed=train_seed, option="--proxy-batch")
    proxy_batch_size = len(batch.targets)  # the default's, as used
    sample = sample_architectures(space, archs, seed)

    columns = ["arch", "genome"]
    for name in proxies:
        columns += [name, f"{name}_s"]
    for e in budgets:
        columns += [_acc(e), _train_s(e)]
    ceiling_col = f"accuracy_pct_{longest}ep_seed{train_seed + 1}"
    ceiling_s = f"train_s_{longest}ep_seed{train_seed + 1}"
    if ceiling:
        columns += [ceiling_col, ceiling_s]
    columns += ["predictor_accuracy_pct", "predictor_zc_accuracy_pct", "failures"]

    rows: list[dict[str, Any]] = []
    done = dict(done or {})
    for i, text in enumerate(sample):
        arch = space.parse(text)
        # A row of an interrupted (or smaller) run keeps its values; only absent columns are computed.
        row = _coerce(done[text]) if text in done else {
            "arch": text, "genome": " ".join(str(int(v)) for v in space.encode(arch)), "failures": ""}
        failures = [row["failures"]] if row["failures"] else []
        todo_proxies = [name for name in proxies if name not in row]
        todo_trainers = {key: t for key, t in trainers.items() if (ceiling_col if key == "ceiling" else _acc(key)) not in row}
        if not todo_proxies and not todo_trainers:
            rows.append(row)
            continue
        model = space.build(arch)
        spent = 0.0
        for name in todo_proxies:
            start = time.perf_counter()
            try:
                row[name] = score_model(name, model, batch, seed=train_seed)
            except (FloatingPointError, RuntimeError) as exc:  # undefined for this net: a missing value
                row[name], failures = float("nan"), failures + [f"{name}: {exc}".splitlines()[0][:200]]
            row[f"{name}_s"] = time.perf_counter() - start
            spent += row[f"{name}_s"]
        if todo_trainers:
            try:
                warmer.estimate(text, space.build(arch), space.train_recipe(arch))
            except Exception:  # noqa: BLE001 - the timed run below fails the same way and records it
                pass
        for key, trainer in todo_trainers.items():
            acc_col, s_col = (_acc(key), _train_s(key)) if key != "ceiling" else (ceiling_col, ceiling_s)
            start = time.perf_counter()
            try:
                row[acc_col] = trainer.estimate(text, space.build(arch), space.train_recipe(arch))["accuracy_pct"]
            except HwnasError:
                raise
            except (Exception, MemoryError) as exc:  # this architecture fails to train: a missing value
                row[acc_col] = float("nan")
                failures = failures + [f"{key}: {type(exc).__name__}: {exc}".splitlines()[0][:200]]
            row[s_col] = time.perf_counter() - start
            spent += row[s_col]
        row["failures"] = "; ".join(failures)
        rows.append(row)
        if progress:
            accs = " ".join(f"{e}ep R² {row[_acc(e)] / 100:.3f}" if task.is_regression else f"{e}ep {row[_acc(e)]:.1f}%"
                            for e in budgets)  # accuracy_pct is 100·R² on regression
            progress(f"[{i + 1}/{len(sample)}] {text}  {accs}  ({spent:.1f} s)")
        if on_row:
            on_row(rows, columns)

    reference = _acc(longest)
    ref = np.array([r[reference] for r in rows], float)
    failed = [r for r, v in zip(rows, ref) if not np.isfinite(v)]
    if failed and len(rows) - len(failed) < max(folds, 2):  # the predictors' own message would blame --archs
        why = next((f for f in failed[0]["failures"].split("; ") if f.startswith(f"{longest}: ")),
                   failed[0]["failures"] or "no accuracy")
        raise ConfigError(f"the reference training ({reference}) failed on {len(failed)} of {len(rows)} "
                          f"architectures, too many to rank them (first: {why}); every reason is in fidelity.csv's "
                          f"failures column: fix the [estimator] recipe in {config.source}")
    genomes = np.array([[int(v) for v in r["genome"].split()] for r in rows], float)
    zc = np.array([[r[name] for name in proxies] for r in rows], float).reshape(len(rows), len(proxies))
    seconds: dict[str, float] = {}
    for col, features in (("predictor_accuracy_pct", genomes), ("predictor_zc_accuracy_pct", np.hstack([genomes, zc]))):
        start = time.perf_counter()
        preds = oof_predictions(features, ref, folds=folds, seed=seed)
        seconds[col] = (time.perf_counter() - start) / len(rows)
        for r, p in zip(rows, preds):
            r[col] = float(p)

    signals: dict[str, tuple[str, str, float]] = {}  # name -> (column, kind, seconds per arch)
    for name in proxies:
        signals[name] = (name, "proxy", _typical(rows, f"{name}_s"))
    zc_cost = sum(_typical(rows, f"{name}_s") for name in proxies)
    for e in budgets[:-1]:
        signals[f"train-{e}ep"] = (_acc(e), "training", _typical(rows, _train_s(e)))
    signals["predictor"] = ("predictor_accuracy_pct", "predictor", seconds["predictor_accuracy_pct"])
    if proxies:  # without any (--proxies ""), it learns from the genome alone: the predictor row again
        signals["predictor+zc"] = ("predictor_zc_accuracy_pct", "predictor",
                                   seconds["predictor_zc_accuracy_pct"] + zc_cost)
    if ceiling:
        signals[f"train-{longest}ep-seed{train_seed + 1}"] = (ceiling_col, "noise ceiling", _typical(rows, ceiling_s))
    summary = []
    for name, (col, kind, cost) in signals.items():
        rho, tau, n = rank_fidelity([r[col] for r in rows], ref)
        note = predictor_note(int(np.isfinite(ref).sum()), folds) if kind == "predictor" else ""
        summary.append({"signal": name, "kind": kind, "spearman": rho, "kendall": tau, "n": n,
                        "seconds_per_arch": cost, "note": note})
    settings = {"config": config.source, "archs": archs, "epochs": budgets, "proxies": proxies, "seed": seed,
                "folds": folds, "proxy_batch_size": proxy_batch_size, "ceiling": ceiling,
                "trainer": {**options, "seed": train_seed}, "task": dict(config.task), "space": dict(config.space),
                "regression": task.is_regression,  # accuracy_pct columns hold 100·R² then
                "reference": reference, "reference_seconds_per_arch": _typical(rows, _train_s(longest))}
    return FidelityResult(rows, summary, {k: v[0] for k, v in signals.items()}, reference, columns, settings)


def _warm_task(task, samples: int):
    """``task`` with only its first ``samples`` training samples, every other field kept as it is
    (a field added to :class:`~hwnas.data.Task` later is kept too)."""
    return replace(task, x_train=task.x_train[:samples], y_train=task.y_train[:samples])


def _typical(rows: Sequence[Mapping[str, Any]], column: str) -> float:
    """The median of a column of seconds: the first architecture of a session also pays one-off
    warm-up (about a second of library set-up), which a mean would spread over every signal."""
    values = [float(r[column]) for r in rows if r.get(column) not in (None, "") and not math.isnan(float(r[column]))]
    return float(np.median(values)) if values else float("nan")


def _coerce(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row read back from CSV: numbers as floats, blanks as NaN."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k in ("arch", "genome", "failures"):
            out[k] = v or ""
        else:
            out[k] = float(v) if v not in (None, "") else float("nan")
    return out


def read_rows(path: Path) -> dict[str, dict[str, Any]]:
    """Rows of an earlier ``fidelity.csv`` by architecture (for ``--resume``)."""
    import csv

    with open(path, newline="") as fh:
        return {row["arch"]: row for row in csv.DictReader(fh)}


def read_columns(path: Path) -> list[str]:
    """The columns of an earlier ``fidelity.csv``, in order."""
    import csv

    with open(path, newline="") as fh:
        return list(next(csv.reader(fh), []))


def kept_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], done: Mapping[str, Mapping[str, Any]],
              done_columns: Sequence[str]) -> tuple[list[Mapping[str, Any]], list[str]]:
    """What ``fidelity.csv`` holds after a session: this session's rows, then the earlier file's
    rows it has not reached (or that a smaller ``--archs`` leaves out), with every column of
    either (a budget or proxy no longer asked keeps its values): nothing computed is lost."""
    visited = {r["arch"] for r in rows}
    return ([*rows, *(r for a, r in done.items() if a not in visited)],
            [*columns, *(c for c in done_columns if c not in columns)])


def write_rows(path: Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Write ``fidelity.csv`` (NaN as blank)."""
    from .outputs import write_csv

    clean = [{k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]
    write_csv(path, clean, columns)


def write_fidelity(out: Path, result: FidelityResult) -> list[Path]:
    """Write ``fidelity.csv``, ``fidelity_summary.csv`` and ``fidelity.png`` into ``out``.

    Returns:
        The paths written.
    """
    from .outputs import write_csv

    out.mkdir(parents=True, exist_ok=True)
    write_rows(out / FIDELITY_CSV, result.rows, result.columns)
    summary = [{**s, "spearman": f"{s['spearman']:.4f}", "kendall": f"{s['kendall']:.4f}",
                "seconds_per_arch": f"{s['seconds_per_arch']:.4g}"} for s in result.summary]
    write_csv(out / SUMMARY_CSV, summary, SUMMARY_COLUMNS)
    plot_fidelity(out / FIDELITY_PNG, result)
    return [out / FIDELITY_CSV, out / SUMMARY_CSV, out / FIDELITY_PNG]


def format_summary(result: FidelityResult) -> str:
    """The summary as a Markdown table, then a line per note (a figure not to read)."""
    # kind tells the signals from the noise ceiling, which is no signal but their upper bound
    lines = ["| signal | kind | Spearman | Kendall | n | s / arch |", "|---|---|---:|---:|---:|---:|"]
    for s in result.summary:
        lines.append(f"| {s['signal']} | {s['kind']} | {s['spearman']:.3f} | {s['kendall']:.3f} | {s['n']} | "
                     f"{s['seconds_per_arch']:.3g} |")
    notes = {}  # one line per distinct note, naming the signals it is about
    for s in result.summary:
        if s.get("note"):
            notes.setdefault(s["note"], []).append(s["signal"])
    lines += [f"note: {', '.join(names)}: {note}" for note, names in notes.items()]
    return "\n".join(lines)


def plot_fidelity(path: Path, result: FidelityResult) -> None:
    """Bar chart of Spearman/Kendall per signal, then one rank scatter per signal."""
    import matplotlib
    from scipy.stats import rankdata

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [s["signal"] for s in result.summary]
    panels = len(names) + 1
    cols = 4
    rows_n = math.ceil(panels / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(4 * cols, 3.4 * rows_n), dpi=100, squeeze=False)
    flat = axes.ravel()
    ax = flat[0]
    y = np.arange(len(names))
    ax.barh(y - 0.2, [s["spearman"] for s in result.summary], 0.4, label="Spearman")
    ax.barh(y + 0.2, [s["kendall"] for s in result.summary], 0.4, label="Kendall")
    ax.axvline(0.85, color="k", ls="--", lw=0.8, label="0.85: strong rank agreement")  # the bar the README reads
    ax.set_yticks(y, [f"{s['signal']} (see note)" if s.get("note") else s["signal"] for s in result.summary],
                  fontsize=8)
    ax.invert_yaxis()
    # both bars: a negative Spearman is usually further from 0 than its Kendall
    ax.set_xlim(min(-0.2, np.nanmin([s[k] for s in result.summary for k in ("spearman", "kendall")] + [0]) - 0.05),
                1.0)
    ax.legend(fontsize=7, loc="best", framealpha=0.9)
    ax.set_title(f"rank fidelity vs {result.reference}", fontsize=9)
    ref = np.array([r[result.reference] for r in result.rows], float)
    accuracy_label = "validation 100·R²" if result.settings.get("regression") else "accuracy (%)"
    for k, s in enumerate(result.summary, start=1):
        ax = flat[k]
        sig = np.array([r[result.signals[s["signal"]]] for r in result.rows], float)
        keep = np.isfinite(sig) & np.isfinite(ref)
        ax.scatter(rankdata(sig[keep]), ref[keep], s=12, alpha=0.7)
        # a noted figure (too few architectures for the predictor) is not to be read; say so where it is shown
        flag = "\nnot to read: see the note in fidelity_summary.csv" if s.get("note") else ""
        ax.set_title(f"{s['signal']}: rho={s['spearman']:.2f} tau={s['kendall']:.2f}{flag}", fontsize=9)
        ax.set_xlabel(f"rank of {s['signal']}", fontsize=8)
        ax.set_ylabel(accuracy_label if k % cols == 0 or k == 1 else "", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in flat[panels:]:
        ax.axis("off")
    fig.suptitle(f"{result.settings.get('config', '')}: {len(result.rows)} architectures, reference "
                 f"{result.reference}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
