"""Objectives and budgets: the ONE place where metric names, units and directions are set.

Outside :mod:`hwnas.search` code speaks of metrics by their column names (``latency_ms``);
only :func:`minimisation_matrix` and :func:`violation_matrix` turn them into what pymoo wants
(everything minimised, constraints as ``g <= 0``).
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..exceptions import RegistryError
from ..registry import Registry

#: Value standing in for the objective/violation of a failed candidate (pymoo needs finite).
FAILED_VALUE = 1e12


@dataclass(frozen=True)
class Objective:
    """A quantity the search can optimise.

    Args:
        name: name used in configs and on the CLI (``error``, ``latency_ms``).
        column: metric key and CSV column, unit in the name (``error_pct``).
        unit: human unit for plots and tables.
        minimise: True when smaller is better.
        source: ``"estimator"`` (accuracy side) or ``"cost"`` (hardware side).
        label: axis label for plots.
        per: what one value is of, where the target's batch size matters (``hwnas list`` shows it).
    """

    name: str
    column: str
    unit: str
    minimise: bool
    source: str
    label: str
    per: str = ""


@dataclass(frozen=True)
class Budget:
    """An upper bound on a metric, enforced as a constraint (constrained domination).

    Args:
        name: config/CLI name (``max_latency_ms``).
        column: the bounded metric column.
        unit: unit of the bound.
    """

    name: str
    column: str
    unit: str

    @property
    def flag(self) -> str:
        """The CLI flag, e.g. ``--max-latency-ms``."""
        return "--" + self.name.replace("_", "-")


OBJECTIVES: Registry[Objective] = Registry("objective")
BUDGETS: Registry[Budget] = Registry("budget")

for _o in (
    Objective("error", "error_pct", "%", True, "estimator", "validation error (%)"),
    # timed on an input of the target's batch_size: with batch_size = 4, one run of 4 samples
    Objective("latency_ms", "latency_ms", "ms", True, "cost", "latency (ms)", "per batch of the target's batch_size"),
    Objective("macs", "macs", "MACs", True, "cost", "MACs", "per sample"),
    Objective("params", "params", "parameters", True, "cost", "parameters"),
    Objective("peak_memory_mb", "peak_memory_mb", "MB", True, "cost", "peak memory (MB)",
              "at the target's batch_size"),
    Objective("energy_mj", "energy_mj", "mJ", True, "cost", "energy per inference (mJ)"),
    # A zero-cost proxy's score (estimator "zero-cost"): unitless, higher predicts more accurate.
    Objective("zc_score", "zc_score", "score", False, "estimator", "zero-cost proxy score (higher is better)"),
):
    OBJECTIVES.add(_o.name, _o)

#: Labels on a regression task, where ``error_pct`` is 100·(1 − R²).
REGRESSION_LABELS = {"error_pct": "validation 100·(1 − R²) (lower is better)"}


def labelled_for_task(objectives: Sequence[Objective], regression: bool) -> list[Objective]:
    """The objectives as plots name them on this task: a regression's error is 100·(1 − R²)."""
    from dataclasses import replace

    return [replace(o, label=REGRESSION_LABELS.get(o.column, o.label)) if regression else o for o in objectives]


for _b in (
    Budget("max_latency_ms", "latency_ms", "ms"),
    Budget("max_peak_memory_mb", "peak_memory_mb", "MB"),
    Budget("max_macs", "macs", "MACs"),
    Budget("max_params", "params", "parameters"),
    # energy_mj is an objective (a table's energy column): a budget on it too
    Budget("max_energy_mj", "energy_mj", "mJ"),
):
    BUDGETS.add(_b.name, _b)

#: Metrics every evaluation records, in CSV column order (objectives first, then extras).
#: ``latency_ms_predicted``/``_measured``: a table-predicted front re-measured on the runtime (ms).
METRIC_COLUMNS = ("error_pct", "accuracy_pct", "latency_ms", "latency_spread_pct", "latency_ms_predicted",
                  "latency_ms_measured", "macs",
                  "params", "peak_memory_mb", "energy_mj", "zc_score", "train_s", "epochs")


def format_budget(value: float) -> str:
    """A budget (or any user value echoed into a message or command) as text that parses back to
    the same float: ``1234567``, ``0.05``, ``1e-06``; ``{:g}`` would print ``1.23457e+06``, a
    different budget when pasted."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)


def budget_at_least(value: float, digits: int = 4) -> str:
    """The shortest budget text, to ``digits`` significant digits, that parses back to ``value``
    or more: a bound a refusal suggests (``0.02893``, not ``0.028927331867627536``), met when
    pasted."""
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        return format_budget(value)
    exp = math.floor(math.log10(value)) - digits + 1
    for steps in (math.ceil(value / 10.0 ** exp), math.ceil(value / 10.0 ** exp) + 1):  # +1: a float rounding down
        text = f"{steps * 10.0 ** exp:.{max(0, -exp)}f}"
        text = text.rstrip("0").rstrip(".") if "." in text else text
        if float(text) >= value:
            return text
    return format_budget(value)


def budgets_text(budgets: Mapping[str, float]) -> str:
    """``max_latency_ms=0.5, max_macs=1234567``: budgets for messages, each exact."""
    return ", ".join(f"{name}={format_budget(bound)}" for name, bound in budgets.items())


#: names written for what an objective measures under its own name: a refusal points to it
_NAMED_OTHERWISE = dict.fromkeys(
    ("accuracy", "accuracy_pct", "acc", "top1"),
    "accuracy is the objective 'error' (100 − accuracy in %, minimised; 100·(1 − R²) on a regression): "
    "write \"error\" in its place, e.g. objectives = [\"error\", \"latency_ms\"]")


def get_objective(name: str, *, where: str | None = None) -> Objective:
    """The objective registered as ``name``.

    Raises:
        RegistryError: an unknown name, with close matches; a name for what an objective
            measures otherwise (``accuracy``) says which objective that is (``error``).
    """
    try:
        return OBJECTIVES.get(name, where=where)
    except RegistryError:
        if not isinstance(name, str) or name.lower() not in _NAMED_OTHERWISE:
            raise
        raise RegistryError(f"{where + ': ' if where else ''}unknown objective {name!r}; "
                            f"{_NAMED_OTHERWISE[name.lower()]}") from None


def resolve_objectives(names: Sequence[str]) -> list[Objective]:
    """Objectives for config names, in order (unknown names raise RegistryError)."""
    return [get_objective(n) for n in names]


def minimisation_matrix(rows: Sequence[Mapping[str, float]], objectives: Sequence[Objective]) -> np.ndarray:
    """Objective values with maximised ones negated; missing/NaN values become FAILED_VALUE."""
    out = np.empty((len(rows), len(objectives)))
    for i, row in enumerate(rows):
        for j, obj in enumerate(objectives):
            v = row.get(obj.column)
            v = FAILED_VALUE if v is None or not np.isfinite(v) else float(v)
            out[i, j] = v if obj.minimise or v == FAILED_VALUE else -v
    return out


def violation_matrix(rows: Sequence[Mapping[str, float]], budgets: Mapping[str, float]) -> np.ndarray:
    """``(value - bound) / bound`` per budget (feasible when <= 0); missing values are FAILED_VALUE.

    Relative, so that violations of budgets in different units (ms, MACs) add up to a total
    (constrained domination sums them) in which 4x over a latency budget outweighs 0.01 % over a
    MACs budget. Budgets are positive (:func:`hwnas.config` refuses others)."""
    out = np.zeros((len(rows), len(budgets)))
    for i, row in enumerate(rows):
        for j, (name, bound) in enumerate(budgets.items()):
            v = row.get(BUDGETS.get(name).column)
            out[i, j] = FAILED_VALUE if v is None or not np.isfinite(v) else (float(v) - bound) / bound
    return out


def is_feasible(row: Mapping[str, float], budgets: Mapping[str, float]) -> bool:
    """True when every budgeted metric is present and within its bound."""
    return bool(np.all(violation_matrix([row], budgets) <= 0)) if budgets else True
