"""Compress models of a run and re-measure them: the engine behind ``hwnas compress``.

For every parent (a front model, or one named architecture) with its trained weights, each
:class:`Chain` of compressors is applied (shared prefixes once: ``prune0.5`` is fine-tuned
once for both ``prune0.5`` and ``prune0.5+int8-qdq``), every result is scored on the
validation split with ONNX Runtime, and then all parents and variants are timed together in
one interleaved :func:`hwnas.cost.measure_latency` call on the run's target, so each variant's
``latency_ratio`` to its parent is as fair as this machine allows. A variant that fails to build,
quantize or run is recorded as failed with its reason; the others go on.

Outputs in the run directory: ``compressed.csv`` (rows of earlier calls for other variants are
kept; those of a parent compressed again are re-timed beside it, see
:mod:`hwnas.compress.results`), ``compressed/<parent>-<variant>.onnx`` and ``compressed.png``.
The ONNX files and ``compressed.csv`` are written together at the end (:func:`_commit`); Ctrl-C
(or ``kill``) while parents are compressed saves the ones that finished (timed together first) and
drops the one in progress; Ctrl-C during that timing saves nothing, as untimed variants have no ratio.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

from ..exceptions import CompressError, ConfigError, HwnasError, SpaceError, TargetError
from ..interrupts import held_interrupts
from ..search.objectives import labelled_for_task
from ..wording import counted
from .base import COMPRESSORS, CompressContext, Compressor, Subject, VariantFailure
from .results import (COMPRESSED_CSV, COMPRESSED_DIR, COMPRESSED_LOCK, COMPRESSED_PNG, ORIGINAL, STALE, Row,
                      built_from, compare_with_parents, compared_objectives, kept_variants, merge_rows,
                      plot_compressed, read_compressed, redone_keys, search_scale, write_compressed)


@dataclass(frozen=True)
class Chain:
    """Compressors applied in order to make one variant, e.g. prune 0.5 then static INT8."""

    steps: tuple[Compressor, ...]

    @property
    def variant(self) -> str:
        """File-name-safe variant name, e.g. ``prune0.5+int8-qdq``."""
        return "+".join(step.label for step in self.steps)

    @property
    def method(self) -> str:
        """The compressors' names, e.g. ``prune+quantize``."""
        return "+".join(step.name for step in self.steps)

    @property
    def settings(self) -> str:
        """Every step with all its settings, e.g. ``prune(ratio=0.5,...) quantize(mode=static,...)``."""
        return " ".join(step.describe() for step in self.steps)


def build_chains(prune_ratios: Sequence[float] = (), quant_schemes: Sequence[str] = (), *,
                 stack: bool = True, prune_options: dict[str, Any] | None = None,
                 quant_options: dict[str, Any] | None = None) -> list[Chain]:
    """The chains one ``hwnas compress`` call runs.

    Args:
        prune_ratios: one ``prune`` variant per ratio.
        quant_schemes: names in :data:`hwnas.compress.quantize.QUANT_SCHEMES` (``int8``...).
        stack: also quantize every pruned variant.
        prune_options: ``prune`` options besides the ratio (``importance``, ``round_to``,
            ``finetune_epochs``, ``finetune_lr``).
        quant_options: ``quantize`` options besides the scheme's (``per_channel``,
            ``calibration_samples``).

    Returns:
        Pruned, then quantized, then pruned-and-quantized chains.

    Raises:
        ConfigError: nothing asked, a ratio outside (0, 1), duplicate values or a bad option;
            RegistryError: an unknown scheme (with close matches).

    Example:
        >>> [c.variant for c in build_chains([0.5], ["int8-qdq"])]
        ['prune0.5', 'int8-qdq', 'prune0.5+int8-qdq']
    """
    from .quantize import QUANT_SCHEMES

    if not prune_ratios and not quant_schemes:
        raise ConfigError("nothing to compress: pass --prune RATIOS (e.g. 0.25,0.5) and/or --quantize int8")
    for label, values in (("--prune", list(prune_ratios)), ("--quantize", list(quant_schemes))):
        if len(set(values)) != len(values):
            raise ConfigError(f"{label} {','.join(map(str, values))} repeats a value; give each once")
    prune_cls, quant_cls = COMPRESSORS.get("prune"), COMPRESSORS.get("quantize")
    prunes = [prune_cls(r, **(prune_options or {})) for r in prune_ratios]
    quants = [quant_cls(**{**settings, **(quant_options or {})})
              for scheme in quant_schemes for settings in QUANT_SCHEMES.get(scheme)]
    chains = [Chain((p,)) for p in prunes] + [Chain((q,)) for q in quants]
    if stack:
        chains += [Chain((p, q)) for p in prunes for q in quants]
    # schemes may overlap (``int8`` is ``int8-qdq`` and ``int8-qoperator``): each variant once
    unique: dict[str, Chain] = {}
    for chain in chains:
        same = unique.setdefault(chain.variant, chain)
        if same.settings != chain.settings:  # e.g. ratios 0.25 and 0.2500001: one file name, one row
            raise ConfigError(f"{same.settings} and {chain.settings} would both be saved as variant "
                              f"{chain.variant!r}; give values that differ in their first 6 digits")
    return list(unique.values())


@dataclass
class Parent:
    """A model of the run to compress: its evaluation and its trained module."""

    arch: str
    evaluation_id: int | None
    module: torch.nn.Module
    recipe: dict[str, Any]


@dataclass
class CompressResult:
    """What one call did: every row of ``compressed.csv`` (all calls), this call's rows, the
    earlier calls' variants of this call's parents, re-timed in this call's session (or stale),
    and whether Ctrl-C cut the call short (the parents that finished are saved)."""

    rows: list[Row]
    new_rows: list[Row]
    run_dir: Path
    #: the run's objectives the variants are measured on (:func:`~hwnas.compress.results.compared_objectives`)
    objectives: list[Any]
    kept_rows: list[Row] = field(default_factory=list)
    #: (earlier row, this call's row) of a variant made again with other settings: the earlier is replaced
    replaced: list[tuple[Row, Row]] = field(default_factory=list)
    #: (parents finished, parents asked) when Ctrl-C stopped the call early; None when it ran through
    interrupted: tuple[int, int] | None = None
    #: each parent's metrics in the search: the scale fronts and plots compare rows on
    scale: dict[str, dict[str, float]] = field(default_factory=dict)
    #: the run's task is a regression (``accuracy_pct`` is 100·R², reported as R²)
    regression: bool = False
    #: the run's plugin modules, which the suggested ``hwnas pick`` needs too
    plugins: list[str] = field(default_factory=list)


def select_parents(run, space, *, archs: Sequence[str] = (), front: bool = False) -> list[Parent]:
    """The run's models to compress, with their trained weights loaded.

    Args:
        run: a :class:`hwnas.outputs.Run`.
        space: the run's search space.
        archs: canonical architecture strings or evaluation ids.
        front: add every model of the run's front (feasible, non-dominated).

    Raises:
        CompressError: no parent asked, ``front`` on a run whose front is empty, an
            architecture the run did not evaluate successfully, or missing weights (naming the
            file and the fix).
        ConfigError: an evaluation id the run does not have.
        SpaceError: a string that is no architecture of the space (prefixed with ``--arch``).
    """
    from ..evaluation import not_usable, unsuccessful, weights_name
    from ..outputs import WEIGHTS_DIR, front_indices

    if not archs and not front:
        raise CompressError("which models? pass --front (every front model) or --arch ARCH (repeatable)")
    ok = {ev.arch: ev for ev in run.evaluations if ev.ok}
    chosen: list[str] = []
    if front:
        on_front = front_indices(run.evaluations, run.objectives, run.config.budgets)
        if not on_front and not ok:
            raise CompressError(f"no successful evaluation on the front of {run.path} (of {len(run.evaluations)} "
                                f"evaluations, {unsuccessful(run.evaluations)}); nothing in this run can be "
                                f"compressed: read why in the reason column of {run.path / 'evaluations.csv'} and "
                                f"search again into a new --out")
        if not on_front:
            raise CompressError(f"no successful evaluation on the front of {run.path} (none of its {len(ok)} "
                                f"successful evaluations is within its budgets); name one of them with --arch")
        chosen += [run.evaluations[i].arch for i in on_front]
    for text in archs:
        try:
            arch = run.resolve_arch(space, text)
        except SpaceError as exc:
            raise SpaceError(f"--arch {text!r}: {exc}") from None
        if arch not in ok:
            ev = next((e for e in run.evaluations if e.arch == arch), None)
            why = f" ({not_usable(ev)})" if ev is not None else ""
            # digits that resolved are an evaluation id (resolve_arch's rule): name the id and its arch
            named = (f"evaluation id {ev.id} ({arch!r})" if ev is not None and text.strip().lstrip("+-").isdigit()
                     else f"architecture {text!r}")
            raise CompressError(f"{named} was not evaluated successfully in {run.path}{why}; "
                                f"choose one from {run.path / 'front.csv'} or evaluations.csv")
        chosen.append(arch)
    from ..export import missing_weights, trained_module

    parents = []
    for arch in dict.fromkeys(chosen):
        path = run.path / WEIGHTS_DIR / weights_name(arch)
        if not path.is_file():
            why, fix = missing_weights(run, ok[arch], path)
            raise CompressError(f"{arch!r} has no trained weights in {run.path} ({why}); {fix}")
        module = trained_module(space, arch, path)
        parents.append(Parent(arch, ok[arch].id, module.eval(), dict(space.train_recipe(space.parse(arch)))))
    return parents


def run_trainer_options(estimator: Mapping[str, Any]) -> dict[str, Any]:
    """The ``proxy-trainer`` options of a run's ``[estimator]`` table, for fine-tuning.

    Every training estimator wraps ``proxy-trainer`` and passes its options through, so a
    ``successive-halving`` or ``zero-cost-filtered`` run fine-tunes with its own batch size,
    learning rate and seed, not ``proxy-trainer``'s defaults.

    Example:
        >>> run_trainer_options({"name": "successive-halving", "rungs": [1, 3], "lr": 0.01})
        {'lr': 0.01}
    """
    from ..estimate.trainer import ProxyTrainer
    from ..registry import option_names

    accepted = option_names(ProxyTrainer) or set()
    return {k: v for k, v in estimator.items() if k in accepted and k != "task"}


def compress_lacks(config) -> str | None:
    """What a run's config lacks for compressing: ``"no [task]"`` (a table-backed run, with no
    models), ``"no [cost] target"`` (nowhere to time the variants), or None. The one rule, which
    ``hwnas pick --include-compressed`` asks too."""
    if not config.task:
        return "no [task]"
    return None if "target" in config.cost else "no [cost] target"


def _not_compressible(run, lacks: str) -> ConfigError:
    """The refusal of a run whose config ``lacks`` what compressing needs (:func:`compress_lacks`)."""
    table = " (a table-backed run: its architectures are rows of a table, with no models)" if not run.config.task else ""
    return ConfigError(f"{run.path}: compressing needs the run's [task] data and [cost] target; this run's "
                       f"config has {lacks}{table}; compress a run searched with both, e.g. examples/digits.toml")


def compress_run(run_dir: str | Path, chains: Sequence[Chain], *, archs: Sequence[str] = (),
                 front: bool = False, progress: Callable[[str], None] | None = None) -> CompressResult:
    """Compress models of a run, re-measure everything and write the outputs.

    Args:
        run_dir: a ``hwnas search`` output directory with ``weights/``.
        chains: what to make of each parent (see :func:`build_chains`).
        archs: architectures (or evaluation ids) to compress.
        front: compress every front model.
        progress: called with one line per parent when it is done.

    Returns:
        Every row of ``compressed.csv`` (earlier calls' rows for other variants included), this
        call's rows, and the earlier variants of this call's parents, re-timed in this session.

    Raises:
        HwnasError subclasses for bad input (see :func:`select_parents`); StoreError for a
        directory without a run; ConfigError for a run without task data.

    Example:
        >>> from hwnas.compress import build_chains, compress_run
        >>> result = compress_run("runs/digits", build_chains([0.5], ["int8"]), front=True)  # doctest: +SKIP
        >>> sorted({r["method"] for r in result.new_rows})                                   # doctest: +SKIP
        ['original', 'prune', 'prune+quantize', 'quantize']
    """
    from ..cost import require_provider
    from ..outputs import load_run

    run = load_run(run_dir)
    # before the components: a table run's table may have moved, which is not the reason
    if lacks := compress_lacks(run.config):
        raise _not_compressible(run, lacks)
    parts = run.components()
    try:
        require_provider(parts.target)  # every variant is timed there: say so now, not once per variant
    except TargetError as exc:  # a run searched from a remote table (a phone's, a GPU box's) cannot switch target
        raise TargetError(f"{str(exc).rstrip('.')}; compress times every variant on the run's own target: run "
                          f"`hwnas compress` on a machine where target {parts.target.name} runs, with the run "
                          f"folder {run.path} copied there") from None
    for step in {step.describe(): step for chain in chains for step in chain.steps}.values():
        step.check_target(parts.target, parts.task)  # e.g. INT8 on a float16 target: before any parent is pruned
    parents = select_parents(run, parts.space, archs=archs, front=front)
    trainer_options = run_trainer_options(run.config.estimator)
    out_dir = run.path / COMPRESSED_DIR
    measured: list[tuple[Row, bytes]] = []  # every graph to time: this call's rows, then kept ones
    new_rows: list[Row] = []
    bits = 16 if parts.target.dtype == "float16" else 32
    finished = 0
    try:
        for n, parent in enumerate(parents, 1):
            start = time.perf_counter()
            context = CompressContext(parts.task, parts.target, trainer_options, parent.recipe,
                                      seed=int(trainer_options.get("seed", 0)))
            root = Subject(parent.module, context.export(parent.module), weight_bits=bits, activation_bits=bits)
            done: dict[tuple[str, ...], tuple[Subject | None, str | None, float]] = {(): (root, None, 0.0)}
            for chain in [Chain(())] + list(chains):
                subject, reason, seconds = _apply_chain(chain, root, context, done)
                row = _row(parent, chain, subject, reason, seconds, context, out_dir)
                new_rows.append(row)
                if row["status"] == "ok":
                    measured.append((row, subject.onnx(context)))
            finished = n
            if progress is not None:
                failed = sum(r["status"] != "ok" for r in new_rows if r["parent_arch"] == parent.arch)
                progress(f"[{n}/{len(parents)}] {parent.arch}: {counted(chains, 'variant')} "
                         f"({failed} failed) in {time.perf_counter() - start:.1f} s")
    except KeyboardInterrupt:
        if not finished:
            raise  # nothing finished: nothing written, compressed.csv and compressed/ as they were
        # the parents that finished are timed and saved; the interrupted one is dropped
        kept_parents = {p.arch for p in parents[:finished]}
        new_rows = [r for r in new_rows if r["parent_arch"] in kept_parents]
        measured = [(r, graph) for r, graph in measured if r["parent_arch"] in kept_parents]
        if progress is not None:  # the timing takes seconds in silence: a second Ctrl-C would drop them all
            progress(f"interrupted: timing the {finished} finished parent(s) beside their variants to save them; "
                     f"Ctrl-C again drops them")
    stopped = finished < len(parents)  # Ctrl-C during the parents: the finished ones are timed and saved
    from ..export import with_preprocessing  # the scaling the parent was trained with, as export records it

    files = [(run.path / str(r["onnx"]), with_preprocessing(graph, parts.task.preprocessing))
             for r, graph in measured if r.get("onnx")]
    csv_path = run.path / COMPRESSED_CSV
    scale = search_scale(run)
    objectives, note = compared_objectives(run.objectives)
    if note and progress is not None:
        progress(f"note: {note}")
    with _run_lock(run.path, progress):  # another call on this run commits first: its rows are read, kept
        rows, kept, replaced, stopped = _time_and_commit(run, parts, csv_path, new_rows, measured, files, stopped)
        try:
            plot_compressed(run.path / COMPRESSED_PNG, rows, labelled_for_task(objectives, parts.task.is_regression),
                            scale)
        except KeyboardInterrupt:  # the table and files are saved; the plot follows on the next call
            stopped = True
    return CompressResult(rows, new_rows, run.path, objectives, kept, replaced,
                          interrupted=(finished, len(parents)) if stopped else None, scale=scale,
                          regression=parts.task.is_regression, plugins=list(run.plugins or ()))


def _run_lock(run_dir: Path, progress: Callable[[str], None] | None):
    """Hold ``compressed.lock`` of the run (:func:`hwnas.locks.held`) while ``compressed.csv`` is
    read, its variants timed and the result committed, so two ``hwnas compress`` calls on one run
    both keep their rows (the second waits, saying so, then merges with the first's)."""
    from ..locks import held

    def wait(pid: str) -> None:
        if progress is not None:
            progress(f"waiting for another hwnas compress on {run_dir} (pid {pid}) to save its variants")

    return held(run_dir / COMPRESSED_LOCK, wait)


def _time_and_commit(run, parts, csv_path: Path, new_rows: list[Row], measured: list[tuple[Row, bytes]],
                     files: list[tuple[Path, bytes]], stopped: bool
                     ) -> tuple[list[Row], list[Row], list[tuple[Row, Row]], bool]:
    """Read ``compressed.csv``, time this call's graphs with the kept ones of its parents, and
    commit; (every row, kept rows, replaced rows, whether a signal came). Runs under :func:`_run_lock`."""
    old = read_compressed(csv_path) if csv_path.is_file() else []
    # a ratio is only meaningful within one timing session: re-time what is kept of a re-measured parent
    kept = kept_variants(old, new_rows)
    # a kept variant built on one this call makes again with other settings is no variant of the new one
    outdated = {id(row): before for before, _ in _replaced(old, new_rows) for row in built_from(kept, before)}
    for row in kept:
        path = run.path / str(row.get("onnx") or "")
        if id(row) in outdated:
            before = outdated[id(row)]
            row.update(status=STALE, reason=f"built from {before['variant']} made with {before.get('settings')}, "
                                            f"which this call replaced; compress {row['variant']} again to build it "
                                            f"from the new {before['variant']}")
        elif row.get("onnx") and path.is_file():
            measured.append((row, path.read_bytes()))
        else:
            row.update(status=STALE, reason=f"not re-timed beside its re-measured parent: {path} is missing; "
                                            f"compress it again for a ratio")
    _time_all(measured, parts.target, parts.task.input_shape)  # Ctrl-C here: nothing is saved (untimed)
    # a graph that failed under timing is no variant: its file is not written, so an earlier
    # call's successful row of that variant keeps the model it describes
    for r in new_rows:
        if r["status"] != "ok":
            r.pop("onnx", None)
    named = {run.path / str(r["onnx"]) for r in new_rows if r.get("onnx")}
    files = [(path, graph) for path, graph in files if path in named]
    compare_with_parents(new_rows + kept)
    rows = merge_rows(old, new_rows)
    redone = redone_keys(old, new_rows)
    for r in new_rows:  # a failed remake never replaces an earlier call's successful row
        if (r["parent_arch"], r["variant"]) not in redone:
            r["reason"] = f"{r['reason']}; compressed.csv keeps the earlier successful row"
    return rows, kept, _replaced(old, new_rows), _commit(csv_path, rows, files) or stopped


def _replaced(old: Sequence[Row], new_rows: Sequence[Row]) -> list[tuple[Row, Row]]:
    """(earlier row, this call's row) of each variant this call made again with other settings."""
    redone = redone_keys(old, new_rows)
    made = {key: r for r in new_rows if (key := (r["parent_arch"], r["variant"])) in redone}
    return [(r, made[key]) for r in old if (key := (r["parent_arch"], r["variant"])) in made
            and r.get("settings", "") != made[key].get("settings", "")]


def _commit(csv_path: Path, rows: Sequence[Row], files: Sequence[tuple[Path, bytes]]) -> bool:
    """Write this call's ONNX files and ``compressed.csv`` together: each is written beside its
    place first, then all are moved into place with Ctrl-C, ``kill`` and a hang-up held off (noted,
    not acted on), so no row ever names a file that holds another model.

    Returns:
        Whether such a signal came while the files were moved (the caller stops after the commit).
    """
    import os

    csv_path.parent.joinpath(COMPRESSED_DIR).mkdir(exist_ok=True)
    staged = []
    try:
        for path, graph in files:
            staged.append((path.with_name(path.name + ".part"), path))
            staged[-1][0].write_bytes(graph)
        staged.append((csv_path.with_name(csv_path.name + ".part"), csv_path))
        write_compressed(staged[-1][0], rows)
        with held_interrupts() as came:
            for part, path in staged:
                os.replace(part, path)
        return bool(came)
    finally:
        for part, _ in staged:
            part.unlink(missing_ok=True)


def _apply_chain(chain: Chain, root: Subject, context: CompressContext,
                 done: dict[tuple[str, ...], tuple[Subject | None, str | None, float]]
                 ) -> tuple[Subject | None, str | None, float]:
    """Apply a chain, reusing results of its prefixes; (subject, failure reason, seconds)."""
    keys = tuple(step.describe() for step in chain.steps)
    for i in range(1, len(keys) + 1):
        if keys[:i] in done:
            continue
        before, reason, seconds = done[keys[:i - 1]]
        if before is None:
            done[keys[:i]] = (None, reason, seconds)
            continue
        start = time.perf_counter()
        try:
            after = chain.steps[i - 1].apply(before, context)
            if after.onnx_bytes is None:  # exported once here, then scored, saved and timed
                after = after.with_(onnx_bytes=context.export(after.module))
            done[keys[:i]] = (after, None, seconds + time.perf_counter() - start)
        except HwnasError:
            raise
        except VariantFailure as exc:  # a one-line reason of its own, no exception type
            done[keys[:i]] = (None, f"{chain.steps[i - 1].label}: {exc}", seconds + time.perf_counter() - start)
        except (Exception, MemoryError) as exc:  # noqa: BLE001 - a failing variant is data; the others go on
            reason = f"{chain.steps[i - 1].label}: {type(exc).__name__}: {exc}".splitlines()[0][:500]
            done[keys[:i]] = (None, reason, seconds + time.perf_counter() - start)
    return done[keys]


def _row(parent: Parent, chain: Chain, subject: Subject | None, reason: str | None, seconds: float,
         context: CompressContext, out_dir: Path) -> Row:
    """One row: identity, static metrics (or the failure), the ONNX file it will be saved as."""
    from ..evaluation import weights_name
    from .measure import static_metrics

    variant = chain.variant or ORIGINAL
    row: Row = {"parent_id": parent.evaluation_id, "parent_arch": parent.arch, "variant": variant,
                "method": chain.method or ORIGINAL, "settings": chain.settings, "compress_s": round(seconds, 3)}
    if subject is not None:
        try:
            row.update(static_metrics(subject, context))
        except (Exception, MemoryError) as exc:  # noqa: BLE001 - e.g. ORT cannot load a quantized graph
            subject, reason = None, f"{variant}: {type(exc).__name__}: {exc}".splitlines()[0][:500]
    row.update(status="ok" if subject is not None else "failed", reason=reason or "")
    if subject is not None and chain.steps:  # the file is written with compressed.csv (_commit)
        path = out_dir / f"{Path(weights_name(parent.arch)).stem}-{variant}.onnx"
        row["onnx"] = str(path.relative_to(out_dir.parent))
    return row


def _time_all(measured: list[tuple[Row, bytes]], target: Any, input_shape: tuple[int, ...]) -> None:
    """Time every measured graph in one interleaved call and fill the latency columns in place."""
    from ..cost import CostMeasurementError
    from .measure import latency_metrics

    if not measured:
        return
    try:
        results = latency_metrics([graph for _, graph in measured], target, input_shape)
    except CostMeasurementError:
        # one graph that ran for accuracy fails under timing: find it alone, then time the rest
        # together again (graphs timed alone are timed in sessions of their own: no fair ratio)
        good = []
        for i, (row, graph) in enumerate(measured):
            try:
                latency_metrics([graph], target, input_shape)
                good.append(i)
            except CostMeasurementError as exc:
                row.update(status="failed", reason=str(exc).splitlines()[0][:500])
        timed = latency_metrics([measured[i][1] for i in good], target, input_shape) if good else []
        results = [{} for _ in measured]
        for i, latency in zip(good, timed):
            results[i] = latency
    info = target.describe()
    when = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    for (row, _), latency in zip(measured, results):
        row.update(latency)
        # a quantized graph holds int8 weights whatever float dtype the target exports (a kept row
        # read back from compressed.csv has its weight_bits too)
        bits = int(float(row.get("weight_bits") or 32))
        row.update(target=info["name"], runtime=info["runtime"], runtime_version=info["runtime_version"],
                   execution_provider=info["execution_provider"], intra_op_threads=info["intra_op_threads"],
                   batch_size=info["batch_size"], dtype=f"int{bits}" if bits <= 8 else info["dtype"], measured_at=when,
                   latency_estimator=f"ort interleaved, min of {target.passes} pass medians")

