"""Turning one architecture into metrics: the accuracy estimator plus the cost models.

A candidate that fails (exception, NaN, out of memory) becomes an :class:`Evaluation` with
``status="failed"`` and the reason; errors caused by user input (:class:`HwnasError`) are not
candidate failures and propagate, since every other candidate would fail the same way.

Budget first: when the run has budgets on metrics its cost models price and the estimator
trains, the cost models pricing those metrics run first, on the built module (a latency table,
fvcore counts, an ONNX Runtime timing do not depend on trained weights), and a candidate over a
budget is recorded with those costs and ``status="over_budget"``, untrained; the other cost models
measure the trained module, as without budgets. Training is most of an evaluation's time, and such a
candidate can never be on the front; its costs still tell the strategy how far over it is.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .exceptions import HwnasError, attach_metrics, measured_before
from .search.objectives import BUDGETS

OK, FAILED, OVER_BUDGET = "ok", "failed", "over_budget"


class DegenerateArchitecture(Exception):
    """A proposed architecture its space calls degenerate (:meth:`SearchSpace.degenerate`): stored as failed."""


@dataclass
class Evaluation:
    """The record of one evaluated architecture (what the store keeps).

    Attributes:
        arch: canonical architecture string.
        genome: canonical integer genome.
        status: ``"ok"``, ``"failed"``, or ``"over_budget"`` (priced over a budget, not trained).
        metrics: metric column -> value (units in the names).
        reason: why it failed or was not trained, else None.
        duration_s: wall seconds the evaluation took.
        id: the evaluation's number: the order in which the search proposed it (set by the
            runner, kept by the store).
    """

    arch: str
    genome: list[int]
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    duration_s: float = 0.0
    id: int | None = None

    @property
    def ok(self) -> bool:
        """True when the evaluation succeeded."""
        return self.status == OK

    @property
    def known_metrics(self) -> dict[str, float]:
        """What a strategy is told: an ok evaluation's metrics, the costs of one over budget (its
        violation leads the search back within budget), nothing of a failed one."""
        return self.metrics if self.status in (OK, OVER_BUDGET) else {}


def status_counts(evaluations: Iterable[Evaluation]) -> Counter:
    """How many evaluations have each status (``OK``, ``FAILED``, ``OVER_BUDGET``; 0 when absent)."""
    return Counter(ev.status for ev in evaluations)


#: How a stored reason starts when ``zero-cost-filtered``'s pre-filter skipped the candidate (its
#: ``PreFilterRejection``, recorded as failed so that a resume reads it as the run did)
PRE_FILTER_REASON = "PreFilterRejection: pre-filter: "


def prefiltered(ev: Evaluation) -> bool:
    """The candidate was skipped by a pre-filter (not trained), not broken: stored as failed,
    and counted apart from the failures in what a search prints."""
    return ev.status == FAILED and (ev.reason or "").startswith(PRE_FILTER_REASON)


def unsuccessful(evaluations: Sequence[Evaluation]) -> str:
    """What became of evaluations that are not ok, for messages: ``"5 failed, 2 skipped by the
    pre-filter, 3 over budget and not trained"`` (the pre-filter's skips are stored as failed, but
    a user reads "failed" as broken)."""
    counts = status_counts(evaluations)
    skipped = sum(map(prefiltered, evaluations))
    failed, over = counts[FAILED] - skipped, counts[OVER_BUDGET]
    parts = [f"{failed} failed"] if failed or not (over or skipped) else []
    parts += [f"{skipped} skipped by the pre-filter"] if skipped else []
    return ", ".join(parts + ([f"{over} over budget and not trained"] if over else []))


def not_usable(ev: Evaluation) -> str:
    """Why an evaluation that is not ok has no accuracy or trained weights, for messages."""
    if ev.status == OVER_BUDGET:
        return (f"evaluation {ev.id} was priced over the run's budgets and not trained ({ev.reason}); "
                f"search again with --train-over-budget, or pick a model within the budgets")
    if prefiltered(ev):  # stored as failed, but nothing broke: the pre-filter chose not to train it
        return (f"evaluation {ev.id} was skipped by the pre-filter and not trained "
                f"({ev.reason[len(PRE_FILTER_REASON):]})")
    return f"evaluation {ev.id} failed ({ev.reason})"


def failed_evaluation(space, genome: Sequence[int], reason: str, duration_s: float = 0.0) -> Evaluation:
    """The record of a candidate that failed outside :meth:`Evaluator.evaluate` (a timeout, a
    dead worker process)."""
    arch_obj = space.decode(genome)
    return Evaluation(space.canonical(arch_obj), [int(v) for v in space.encode(arch_obj)], FAILED,
                      {}, reason, duration_s)


def weights_name(arch: str) -> str:
    """File name under ``weights/`` for an architecture's trained state dict."""
    return hashlib.sha1(arch.encode()).hexdigest()[:16] + ".pt"


def build_seeded(space, arch: str, arch_obj: Any):
    """Build an architecture's module with initial weights that depend on the architecture
    alone: torch's global generator is seeded from the canonical string inside
    :func:`torch.random.fork_rng`, so neither the models built before it (a resumed or parallel
    search builds in another order) nor the caller's torch random state change them, and that
    state is left as it was. Estimators that re-initialise (``proxy-trainer``'s default) do not
    need it; those that keep the built weights do.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int.from_bytes(hashlib.sha1(arch.encode()).digest()[:4], "little"))
        return space.build(arch_obj)


class Evaluator:
    """Evaluates architectures of a space with one estimator and several cost models.

    Args:
        space: the search space (builds the modules).
        estimator: accuracy estimator.
        cost_models: hardware cost models; their metrics are merged.
        weights_dir: where trained weights are saved (for ``hwnas export``), or None.
        budgets: budget name -> bound (``{"max_latency_ms": 0.05}``): when the estimator trains,
            a candidate the cost models price over one is not trained (see the module docstring).
    """

    def __init__(self, space, estimator, cost_models: Sequence[Any], weights_dir: Path | None = None,
                 budgets: Mapping[str, float] | None = None) -> None:
        self.space = space
        self.estimator = estimator
        self.cost_models = list(cost_models)
        self.weights_dir = weights_dir
        priced = {m for cost in self.cost_models for m in cost.provides}
        #: ``(budget name, metric column, bound)`` checked before training
        self.budgets_first = [(n, BUDGETS.get(n).column, float(b)) for n, b in (budgets or {}).items()
                              if estimator.trains and BUDGETS.get(n).column in priced]
        # the cost models pricing those run before training; the others after it, on the trained module
        columns = {column for _, column, _ in self.budgets_first}
        self.costs_first = [c for c in self.cost_models if columns & set(c.provides)]
        self.costs_after = [c for c in self.cost_models if c not in self.costs_first]

    def evaluate(self, genome: Sequence[int]) -> Evaluation:
        """Evaluate one genome; never raises for a failing candidate.

        The global ``random``/``numpy`` RNG states are restored afterwards, so evaluating (or
        skipping a cached evaluation) never changes what the search proposes next.
        """
        arch_obj = self.space.decode(genome)
        arch = self.space.canonical(arch_obj)
        canon = [int(v) for v in self.space.encode(arch_obj)]
        start = time.perf_counter()
        py_state, np_state = random.getstate(), np.random.get_state()
        metrics: dict[str, float] = {}
        try:
            # built-in strategies never propose one; a plugin's may, and it would reach the front
            if (why := self.space.degenerate(arch_obj)) is not None:
                raise DegenerateArchitecture(f"the {self.space.name} space calls it degenerate ({why}), so it is not "
                                             f"evaluated; a strategy must not propose it (skip genomes g whose "
                                             f"space.degenerate(space.decode(g)) is not None)")
            over = self._metrics(arch, arch_obj, metrics)
            bad = [k for k, v in metrics.items() if not math.isfinite(v)]
            if bad:
                raise FloatingPointError(f"non-finite metrics {bad}")
            status, reason = (OVER_BUDGET, over) if over else (OK, None)
        except HwnasError:
            raise
        except (Exception, MemoryError, SystemExit) as exc:  # a failing candidate is data, not a crash
            # (SystemExit too: a candidate's code calling sys.exit ends that candidate, not the search)
            # what was measured before the failure is kept (e.g. a table's accuracy when its
            # latency cell is blank, a pre-filter's score); a failed evaluation is never on a front
            metrics.update({k: float(v) for k, v in measured_before(exc).items()})
            metrics = {k: v for k, v in metrics.items() if math.isfinite(v)}
            status = FAILED
            reason = f"{type(exc).__name__}: {exc}"
            from .estimate.base import CandidateRejected  # loaded with the estimators: no torch import here

            if (part := getattr(exc, "hwnas_part", None)) and not isinstance(exc, CandidateRejected):
                reason = f"{part} raised {reason}"  # a rejection's message is the estimator's own verdict
            reason = reason.splitlines()[0][:500]
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
        return Evaluation(arch, canon, status, metrics, reason, time.perf_counter() - start)

    def _metrics(self, arch: str, arch_obj: Any, metrics: dict[str, float]) -> str | None:
        """Fill ``metrics`` as they come: the cost models of budgets checked first (when the
        estimator trains), then, unless a budget is exceeded, the estimator and the other cost models.

        Returns:
            Why the candidate was not trained (a budget it exceeds), or None.
        """
        needs_model = self.estimator.needs_model or any(c.needs_model for c in self.cost_models)
        model = (_calling(f"space {self.space.name!r} build()", build_seeded, self.space, arch, arch_obj)
                 if needs_model else None)
        self._costs(arch, model, metrics, self.costs_first)
        over = self._over(metrics)
        if over:
            return ("over budget, not trained: " + ", ".join(f"{c} {_apart(v, b)[0]} > {n} {_apart(v, b)[1]}"
                                                             for n, c, v, b in over)
                    + " (a search with --train-over-budget, or [search] train_over_budget = true, trains it)")
        part = f"estimator {self.estimator.name!r}"
        values = _calling(part, self.estimator.estimate, arch, model, self.space.train_recipe(arch_obj))
        metrics.update(_checked(part, self.estimator.metrics, values))
        if model is not None and self.estimator.trains and self.weights_dir is not None:
            import torch

            self.weights_dir.mkdir(parents=True, exist_ok=True)
            # CPU tensors: a run searched on a GPU exports and compresses on a CPU-only machine
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()},
                       self.weights_dir / weights_name(arch))
        self._costs(arch, model, metrics, self.costs_after)
        return None

    def _over(self, metrics: Mapping[str, float]) -> list[tuple[str, str, float, float]]:
        """``(budget, column, value, bound)`` of each budget checked first that ``metrics`` exceed."""
        return [(n, c, metrics[c], b) for n, c, b in self.budgets_first if metrics.get(c, -math.inf) > b]

    def priced_over_budget(self, genome: Sequence[int]) -> bool:
        """Whether the cost models of the budgets checked first price ``genome`` over one of them,
        as an evaluation would before training it (for a strategy that can skip such a proposal).
        False without such budgets, and when pricing fails (its evaluation then records why)."""
        if not self.budgets_first:
            return False
        metrics: dict[str, float] = {}
        try:
            arch_obj = self.space.decode(genome)
            arch = self.space.canonical(arch_obj)
            model = build_seeded(self.space, arch, arch_obj) if any(c.needs_model for c in self.costs_first) else None
            self._costs(arch, model, metrics, self.costs_first)
        except HwnasError:
            raise
        except Exception:  # noqa: BLE001 - evaluated, the candidate is recorded as failed with the reason
            return False
        return bool(self._over(metrics))

    @staticmethod
    def _costs(arch: str, model: Any, metrics: dict[str, float], cost_models: Sequence[Any]) -> None:
        for cost in cost_models:
            part = f"cost model {cost.name!r}"
            metrics.update(_checked(part, cost.provides, _calling(part, cost.measure, arch, model)))


def _calling(part: str, method: Any, *args: Any) -> Any:
    """``method(*args)``; an exception it raises is marked with ``part`` (``estimator 'x'``, ``cost
    model 'y'``), which the failed candidate's reason then names: ``KeyError: 'oops'`` alone does
    not say which part to look at."""
    try:
        return method(*args)
    except BaseException as exc:
        if getattr(exc, "hwnas_part", None) is None:  # the innermost part is the one that raised
            try:
                exc.hwnas_part = part  # type: ignore[attr-defined]
            except AttributeError:  # an exception class with __slots__: the reason is then as before
                pass
        raise


def _apart(value: float, bound: float) -> tuple[str, str]:
    """``value`` and ``bound`` printed with the fewest significant digits (4 or more) that tell them
    apart; whole numbers (MACs, parameters) in full."""
    if float(value).is_integer() and float(bound).is_integer():
        return f"{value:.0f}", f"{bound:.0f}"
    for digits in range(4, 18):
        a, b = f"{value:.{digits}g}", f"{bound:.{digits}g}"
        if a != b:
            return a, b
    return a, b


def _checked(part: str, declared: Sequence[str], values: Mapping[str, Any]) -> dict[str, float]:
    """A part's metrics as floats, refused when a declared one is missing or one is not finite
    (a failed candidate whose reason names the part: a user's plugin that breaks its promise)."""
    if not isinstance(values, Mapping):
        raise TypeError(f"{part} returned {type(values).__name__}, not a dict of metrics; return "
                        f"{{{', '.join(repr(k) + ': ...' for k in declared)}}}")
    missing = [k for k in declared if k not in values]
    if missing:
        raise ValueError(f"{part} returned no {', '.join(missing)} (it declares {', '.join(declared)})")
    out, odd = {}, {}
    for k, v in values.items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError, RuntimeError):  # a string, a list, a tensor of several values
            odd[k] = v
    if odd:
        raise attach_metrics(TypeError(f"{part} returned {', '.join(f'{k} = {v!r:.40}' for k, v in odd.items())}, "
                                       f"not a number; return one float per metric"),
                             {k: v for k, v in out.items() if math.isfinite(v)})  # the numbers stay in the row
    bad = [k for k, v in out.items() if not math.isfinite(v)]
    if bad:
        raise attach_metrics(FloatingPointError(f"{part} returned non-finite {', '.join(f'{k} = {out[k]}' for k in bad)}"),
                             {k: v for k, v in out.items() if k not in bad})  # the finite ones stay in the row
    return out
