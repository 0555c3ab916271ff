"""The search loop: strategy proposes, evaluator evaluates (once per architecture), store keeps.

Resume works by replay: the strategy is seeded, evaluations restore the global RNG state, and
every architecture already in the store is read back instead of evaluated, so the replayed
strategy sees exactly the values of the interrupted run and continues from where it stopped.

Each batch the strategy proposes goes to an executor (:mod:`hwnas.execute`: this process,
worker processes or Ray); every evaluation is committed the moment it finishes, numbered by
the order in which it was proposed, so parallel runs list the same way as serial ones.

What the run does around the loop lives beside it: :mod:`.strategy_setup` builds the strategy
from the config, :mod:`.run_folder` guards and locks the run folder, :mod:`.table_level` settles
a latency table's level, :mod:`.budget_check` refuses budgets nothing meets, :mod:`.resume`
records the run and checks a ``--resume`` against it, :mod:`.proposals` turns the strategy's
genomes into architectures (blaming a plugin's failure on it), and :mod:`.stopped` writes the
outputs of a search an interrupt or error stopped.
"""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
import numpy as np

from ..config import LEGACY_SEARCH, RunConfig, check_local_workers, config_from_dict
from ..evaluation import FAILED, OK, OVER_BUDGET, Evaluation, failed_evaluation, prefiltered, status_counts
from ..execute.base import MAX_ATTEMPTS
from ..exceptions import ConfigError, HwnasError, MissingExtraError, StoreError
from ..registry import construct, plugin_modules, unimportable_parts
from ..outputs import WEIGHTS_DIR, front_indices, write_outputs
from ..search.objectives import is_feasible, minimisation_matrix, resolve_objectives, violation_matrix
from ..store import Store
from ..wording import counted
from .budget_check import check_budgets
from .proposals import blamed, canonical_archs
from .resume import record_run, remote_table
from .run_folder import check_run_folder, exclusive, stored_config
from .stopped import write_stored, write_unverified
from .strategies.common import distinct_architectures
from .strategy_setup import build_strategy
from .table_level import resolve_table_level


@dataclass
class SearchSummary:
    """What a finished search reports."""

    run_dir: Path
    evaluations: int
    new_evaluations: int
    failed: int
    feasible: int
    front: list[Evaluation]
    wall_s: float
    #: the ``evaluations`` budget; more than ``evaluations`` when the strategy ran out of new
    #: architectures first (a small space, or one it cannot reach more of)
    asked: int | None = None
    #: evaluations priced over a budget and not trained (``[search] train_over_budget``)
    over_budget: int = 0
    #: the task is a regression (``accuracy_pct`` is 100·R², reported as R²)
    regression: bool = False
    #: the number of architectures a search of the space can propose
    #: (:func:`~hwnas.search.strategies.common.distinct_architectures`; None: not counted), to tell
    #: a space that ran out from a strategy that stopped
    space_size: int | None = None
    #: of ``failed``, the candidates a pre-filter skipped (``zero-cost-filtered``): not trained, not broken
    prefiltered: int = 0


class SearchRun:
    """One search: builds every component from the config, then :meth:`run`.

    Args:
        config: validated run config.
        run_dir: output directory.
        resume: continue the run stored in ``run_dir``.
        progress: show a progress bar.
        outputs: write the run directory's CSVs, plot and config (``hwnas bench`` needs only
            the store).

    Raises:
        HwnasError subclasses for every bad input, before anything is written.
    """

    def __init__(self, config: RunConfig, run_dir: Path, *, resume: bool = False, progress: bool = True,
                 outputs: bool = True) -> None:
        from ..components import build_components
        from ..execute import EXECUTORS

        # validated again, as a copy: a script may have edited the config's dicts since it was loaded
        # (config.search["evaluations"] = 0), and the run records its own choices (a table's level)
        self.config = config = config_from_dict(config.to_dict(), source=config.source)
        check_local_workers(config)
        self.executor_class = EXECUTORS.get(config.execution["executor"])
        try:  # before the parts load the task or time a latency table's reference networks
            self.executor_class.check_requirements()
        except MissingExtraError as exc:
            raise MissingExtraError(f"{config.source} [execution]: {exc}") from None
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.progress = progress
        self.outputs = outputs
        #: arch -> the columns :meth:`verify_front` added (a re-measured latency)
        self.front_extra: dict[str, dict[str, float]] = {}
        self.objectives = resolve_objectives(config.objectives)
        check_run_folder(self.run_dir, self.resume)
        #: the stored run's config on --resume (read once), with what the [search] keys it predates
        #: meant when it was stored; None for a new run or a store without one
        self.stored_config = stored_config(self.run_dir) if resume else None
        if self.stored_config is not None:  # a run stored before a [search] key existed goes on as it began
            stored_search = self.stored_config.get("search") or {}
            config.search.update({k: v for k, v in LEGACY_SEARCH.items() if k not in stored_search})
            self.stored_config = {**self.stored_config, "search": {**LEGACY_SEARCH, **stored_search}}
        self.parts = build_components(config, weights_dir=self.run_dir / WEIGHTS_DIR)
        if self.parts.target is not None and any(c.name == "ort" for c in self.parts.cost_models):
            from ..cost import require_provider

            require_provider(self.parts.target)  # every candidate is timed there: before any note or work
        # said once, here: workers, export and compress build the parts silently, and so does a
        # search without outputs (each of hwnas bench's runs: bench says its table's note once)
        for note in self.parts.notes if outputs else ():
            print(f"hwnas: note: {note}", file=sys.stderr)
        #: the options the strategy runs with: given, defaulted or derived (config.json's [search.<strategy>])
        self.strategy, self.strategy_options = build_strategy(config, self.parts, self.objectives)
        # with or without outputs, as the strategies said them when they printed their own (every
        # one of hwnas bench's runs too)
        for note in getattr(self.strategy, "notes", ()):  # a plugin's __init__ may not call Strategy's
            print(f"hwnas: note: {note}", file=sys.stderr)

    def run(self) -> SearchSummary:
        """Run (or resume) the search and write the run directory's outputs.

        Raises:
            StoreError: another hwnas process is writing the run directory.
            HwnasError: anything that stops the search once it evaluates; the outputs of what
                finished are written first, and the error's ``stored`` attribute counts it.
        """
        start = time.perf_counter()
        # before the budget check and the workers, which predict with it
        resolve_table_level(self.config, self.parts, resume=self.resume, stored_config=self.stored_config)
        if not self.resume:
            check_budgets(self.config, self.parts)
        with ExitStack() as held:  # the run directory, until its outputs are written
            executor = self._executor()  # its options are checked before anything is written
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                held.enter_context(exclusive(self.run_dir))
                check_run_folder(self.run_dir, self.resume)  # again, now that no other process can start one in between
                store = Store(self.run_dir / Store.FILE_NAME)
                try:
                    record_run(self, store)
                    try:
                        new = self._loop(store, executor)
                        store.set_meta("finished", True)
                    except HwnasError as exc:  # a plugin's DataError, a full disk: what finished is kept
                        exc.stored = write_stored(self, store)
                        raise
                    evaluations = store.all()
                except KeyboardInterrupt:
                    write_stored(self, store)
                    raise
                finally:
                    store.close()
            finally:
                executor.close()
            if self.outputs:
                try:  # the front is re-measured here (a table's prediction): an interrupt may come
                    front = write_outputs(self.run_dir, self.config, evaluations, verify=self.verify_front,
                                          regression=self.regression)
                except KeyboardInterrupt:
                    write_unverified(self, evaluations)
                    raise
                remote = remote_table(self.parts.cost_models)
                if remote is not None:  # only the latency_ms_predicted column would show it
                    from ..cost.device import device_label

                    device = device_label(remote.meta.get("device") or {}, self.parts.target.execution_provider)
                    print(f"hwnas: note: latency_ms are the predictions of the remote {remote.where}, not "
                          f"re-measured on {'the device it was built for' if device == 'unknown' else device}; time "
                          f"the front there before relying on them", file=sys.stderr)
            else:
                front = front_indices(evaluations, self.objectives, self.config.budgets)
        for i in front:  # as stored and as front.csv lists them: with the re-measured latency
            evaluations[i].metrics.update(self.front_extra.get(evaluations[i].arch, {}))
        counts = status_counts(evaluations)
        feasible = sum(e.ok and is_feasible(e.metrics, self.config.budgets) for e in evaluations)
        # read only where the report says whether the space ran out (listing a space takes ~0.5 s)
        space_size = (distinct_architectures(self.parts.space)
                      if len(evaluations) < self.config.search["evaluations"] or not feasible else None)
        return SearchSummary(self.run_dir, len(evaluations), new, counts[FAILED],
                             feasible, [evaluations[i] for i in front], time.perf_counter() - start,
                             self.config.search["evaluations"], counts[OVER_BUDGET],
                             self.regression, space_size,
                             sum(map(prefiltered, evaluations)))

    @property
    def regression(self) -> bool:
        """The task is a regression (``accuracy_pct`` is 100·R²)."""
        return bool(self.parts.task is not None and self.parts.task.is_regression)

    def verify_front(self, archs: list[str]) -> list[dict[str, float]]:
        """Each cost model's extra front columns (a table-predicted latency is re-measured), also
        merged into the stored metrics of those evaluations (a resume's front re-measures again)."""
        rows: list[dict[str, float]] = [{} for _ in archs]
        for cost in self.parts.cost_models:
            for row, extra in zip(rows, cost.verify_front(archs)):
                row.update(extra)
        self.front_extra = {arch: row for arch, row in zip(archs, rows) if row}  # for the summary's front too
        if any(rows):  # kept with the evaluations: hwnas pick judges a budget on the measured latency
            store = Store(self.run_dir / Store.FILE_NAME)
            try:
                for arch, row in zip(archs, rows):
                    if row:
                        store.update_metrics(arch, row)
            finally:
                store.close()
        return rows

    def _executor(self):
        from ..execute import WorkerSpec, threads_per_worker

        ex = self.config.execution
        workers = min(ex["workers"], self.config.search["evaluations"])  # no process with nothing to do
        spec = WorkerSpec(self.config, self.run_dir / WEIGHTS_DIR, tuple(plugin_modules()),
                          threads_per_worker(workers))
        executor = construct(self.executor_class, self.parts.evaluator, spec, options=self.config.executor_options(),
                             fixed=dict(workers=workers, eval_timeout_s=ex.get("eval_timeout_s")),
                             where=f"{self.config.source} [execution]", label=ex["executor"])
        if not executor.in_process:  # else a worker says "unknown estimator" of one this process has
            used = {self.config.space.get("name"), self.config.estimator.get("name"), self.config.task.get("dataset"),
                    *(c.name for c in self.parts.cost_models), *self.config.objectives, *self.config.budgets}
            stuck = [f"{kind} {name!r}" for name, kind in unimportable_parts().items() if name in used]
            if stuck:
                executor.close()  # a Ray executor has started its local cluster by now
                raise ConfigError(f"{self.config.source} [execution]: worker processes cannot build the "
                                  f"{', '.join(stuck)} registered in __main__ (a notebook or python -c): they "
                                  f"import a search's parts by module name; move {'it' if len(stuck) == 1 else 'them'} "
                                  f"into a module they can import (installed, or on PYTHONPATH) and import it from "
                                  f"there, or run with workers = 1")
        return executor

    def _loop(self, store: Store, executor) -> int:
        """Ask, evaluate what is neither seen nor stored, commit each result, tell; new count."""
        from tqdm import tqdm

        seen: dict[str, Evaluation] = {}  # arch -> evaluation, this session
        order: dict[str, int] = {}  # arch -> evaluation number (first proposal order)
        ids = {ev.id: ev.arch for ev in store}  # every stored evaluation's number
        budget = self.config.search["evaluations"]
        resumed = bool(ids)  # a stored run's proposals are replayed
        new, shown, stale = 0, 0.0, 0  # stale: asks in a row that brought no architecture not yet seen
        bar = tqdm(total=self.config.search["evaluations"], unit="eval", desc="search",
                   disable=not self.progress, dynamic_ncols=True)

        def finished(ev: Evaluation) -> None:
            nonlocal shown
            seen[ev.arch] = ev
            if self.progress:
                bar.update(1)
                # the postfix scans every evaluation: refresh it at most twice a second
                if time.perf_counter() - shown >= 0.5:
                    bar.set_postfix_str(self._postfix(seen), refresh=False)
                    shown = time.perf_counter()

        try:
            while (genomes := blamed(self.strategy.ask, "strategy", self.config.search["strategy"])) is not None:
                archs = canonical_archs(self.parts.space, genomes, self.config.search["strategy"])
                stale = 0 if set(archs) - set(seen) else stale + 1
                if stale > self.STALE_ASKS:
                    print(f"hwnas: note: strategy {self.config.search['strategy']!r} proposed no new architecture in "
                          f"{self.STALE_ASKS} asks in a row; stopping the search (its ask() must return None when "
                          f"done)", file=sys.stderr)
                    break
                todo: dict[str, np.ndarray] = {}
                for arch, genome in zip(archs, genomes):
                    if arch in seen or arch in todo:
                        continue
                    order.setdefault(arch, len(order) + 1)
                    stored = store.get(arch)  # evaluated before an interruption: never again
                    if stored is not None:
                        # failed ones too: an estimator that ran before a cost model failed has
                        # counted the candidate, and its metrics are kept
                        self.parts.evaluator.estimator.observe(stored.metrics)
                        executor.remember(stored.metrics)
                        finished(stored)
                    else:
                        todo[arch] = genome
                # a resumed strategy whose proposals changed (darts re-times its choices) cannot
                # take the run past its budget, and never reuses a stored evaluation's number
                room = max(0, budget - len(ids))
                full = len(todo) > room
                if full:
                    todo = dict(list(todo.items())[:room])
                    what = ("architectures the stored run had not, beyond its" if resumed
                            else "more architectures than its")
                    print(f"hwnas: note: the strategy proposed {what} {counted(budget, 'evaluation')}; stopping at {budget}",
                          file=sys.stderr)
                for arch, ev in self._evaluate(store, executor, todo):
                    ev.id = order[arch] if ids.get(order[arch], arch) == arch else max(ids) + 1
                    ids[ev.id] = arch
                    finished(store.add(ev))
                    executor.remember(ev.metrics)
                    new += 1
                if full:
                    break  # the strategy is not told a batch it did not get back whole
                rows = [seen[a].known_metrics for a in archs]
                blamed(self.strategy.tell, "strategy", self.config.search["strategy"], genomes,
                       minimisation_matrix(rows, self.objectives), violation_matrix(rows, self.config.budgets))
        finally:
            if self.progress:  # the last counts, whatever the refresh limit skipped
                bar.set_postfix_str(self._postfix(seen), refresh=True)
            bar.close()
        return new

    #: asks in a row that propose only architectures already seen, after which the search stops
    #: (a strategy that never says it is done would loop forever)
    STALE_ASKS = 10

    #: store meta key: the candidate being evaluated in the search's own process, and its attempt
    IN_PROCESS = "in_process"

    def _evaluate(self, store: Store, executor, todo: dict[str, np.ndarray]) -> Iterator[tuple[str, Evaluation]]:
        """``(arch, evaluation)`` of every candidate in ``todo``, as each finishes.

        In the search's own process, the candidate under way is noted in the store first: one
        that ends the process (a crash in native code, ``os._exit``, the OOM killer) is tried
        once more on ``--resume`` and then recorded as failed, as a worker process's would be.
        """
        archs = list(todo)
        if not executor.in_process:
            for i, ev in executor.map(list(todo.values())):
                yield archs[i], ev
            return
        if not todo:
            return
        died = store.get_meta(self.IN_PROCESS) or {}
        try:
            for arch, genome in todo.items():
                attempt = died.get("attempt", 0) + 1 if died.get("arch") == arch else 1
                if attempt > MAX_ATTEMPTS:
                    yield arch, failed_evaluation(
                        self.parts.space, genome,
                        f"ProcessDied: the search process ended while evaluating it, on {MAX_ATTEMPTS} attempts (a "
                        f"crash in native code, os._exit or the out-of-memory killer); --workers 2 or --eval-timeout "
                        f"evaluate candidates in worker processes, where such a candidate fails alone")
                    continue
                if attempt > 1:
                    print(f"hwnas: note: the last session ended while evaluating {arch} in its own process; trying "
                          f"it once more (it is recorded as failed if that happens again)", file=sys.stderr)
                store.set_meta(self.IN_PROCESS, {"arch": arch, "attempt": attempt})
                for _, ev in executor.map([genome]):
                    yield arch, ev
        finally:  # not reached when the process dies: then the note stays for the next session
            try:
                store.set_meta(self.IN_PROCESS, None)
            except StoreError:  # a full disk: the error that stopped the search says so already
                pass

    def _postfix(self, seen: dict[str, Evaluation]) -> str:
        ok = [e for e in seen.values() if e.ok and is_feasible(e.metrics, self.config.budgets)]
        counts = status_counts(seen.values())
        skipped = sum(map(prefiltered, seen.values()))  # stored as failed; a user reads "failed" as broken
        failed, over = counts[FAILED] - skipped, counts[OVER_BUDGET]
        # scored over a budget (zero-cost, --train-over-budget): counted, so the figures add up
        evaluated_over = counts[OK] - len(ok)
        first = self.objectives[0]  # the search's first objective, in its declared unit
        values = [e.metrics[first.column] for e in ok if first.column in e.metrics]
        best = (f" best_{first.name}={(min if first.minimise else max)(values):.4g}{'%' if first.unit == '%' else ''}"
                if values else "")
        return (f"feasible={len(ok)} " + (f"untrained_over_budget={over} " if over else "")
                + (f"evaluated_over_budget={evaluated_over} " if evaluated_over else "")
                + f"failed={failed}" + (f" skipped_by_prefilter={skipped}" if skipped else "") + best)


def run_search(config: RunConfig, run_dir: str | Path, *, resume: bool = False,
               progress: bool = True, outputs: bool = True) -> SearchSummary:
    """Run or resume a search (see :class:`SearchRun`).

    Args:
        config: the run config (:func:`hwnas.load_config`, :func:`hwnas.config_from_dict`).
        run_dir: the folder the run's files go to (the CLI's ``--out``).
        resume: continue the run stored in ``run_dir`` (the CLI's ``--resume``), with the same
            config; a finished run cannot be extended (search into a new ``run_dir``).
        progress: show a progress bar.
        outputs: write the CSVs, plot and config.json (the store is always written).

    Returns:
        The :class:`SearchSummary`; :func:`hwnas.load_run` reads the run back.

    Raises:
        HwnasError: a bad config, a ``run_dir`` that holds another run, a resume the stored run
            refuses; the message says the fix in these arguments' words (``resume=True``,
            ``run_dir``), where the CLI says its flags.

    Example:
        >>> from hwnas.config import load_config
        >>> summary = run_search(load_config("examples/digits.toml"), "runs/digits")  # doctest: +SKIP
        >>> len(summary.front)                                                       # doctest: +SKIP
        9
    """
    return SearchRun(config, Path(run_dir), resume=resume, progress=progress, outputs=outputs).run()
