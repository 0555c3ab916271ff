"""Build a run's parts from its config: task, space, estimator, target, cost models, evaluator.

The one place that wires the packages together; the CLI, the runner and ``hwnas export``
all call :func:`build_components` so a run directory is always rebuilt the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import RunConfig
from .exceptions import ConfigError, RegistryError, TargetError
from .registry import qualified_name, construct

#: Cost models every evaluation runs unless ``[cost] models`` says otherwise.
DEFAULT_COST_MODELS = ("counts", "memory", "ort")


@dataclass
class Components:
    """The wired parts of one run."""

    task: Any
    space: Any
    estimator: Any
    target: Any
    cost_models: list[Any]
    evaluator: Any
    #: one-line notes for the search to say (why latency is timed rather than read from a table,
    #: an estimator setting that defeats itself); workers, export and compress stay silent
    notes: list[str] = field(default_factory=list)


def build_space(config: RunConfig, task) -> Any:
    """The config's search space for the task's input and output shape (defaults without a task),
    with the space's table defaults when the estimator reads its accuracy from a table."""
    from .exceptions import SpaceError
    from .space import make_space

    options = {k: v for k, v in config.space.items() if k != "name"}
    shapes = (None, None) if task is None else (task.input_shape, task.output_dim)
    try:
        return make_space(config.space["name"], *shapes, reads_table=_reads_table(config), **options)
    except (ConfigError, SpaceError) as exc:  # every error names the file it came from
        if config.source in str(exc):
            raise
        raise type(exc)(f"{config.source}: {exc}") from None


def _reads_table(config: RunConfig) -> bool:
    """Whether the config's estimator takes its accuracy from a table's rows (False for one not
    registered: its own error comes where the estimator is built)."""
    from .estimate import ESTIMATORS
    from .exceptions import RegistryError

    try:
        return bool(getattr(ESTIMATORS.get(config.estimator.get("name")), "reads_table", False))
    except RegistryError:
        return False


def _check_unbuilt_space_options(config: RunConfig, space, task) -> None:
    """Refuse ``[space]`` options that change only the networks built, in a run that builds none
    (accuracy and every cost read from tables): they would be recorded with the run yet change nothing."""
    from .space import make_space

    options = {k: v for k, v in config.space.items() if k != "name"}
    shapes = (task.input_shape, task.output_dim) if task is not None else (None, None)
    genes = [(g.name, g.choices) for g in space.genes]
    ignored = [k for k in options if k not in space.table_defaults  # those change which cells are proposed
               and [(g.name, g.choices) for g in make_space(config.space["name"], *shapes,
                                                           **{o: v for o, v in options.items() if o != k}).genes] == genes]
    if ignored:
        raise ConfigError(f"{config.source}: [space] {', '.join(ignored)} would be ignored: this run builds no network "
                          f"(every number comes from its table) and {'it changes' if len(ignored) == 1 else 'they change'} "
                          f"no architecture the search can propose; remove {'it' if len(ignored) == 1 else 'them'}")


def check_recipe_overrides(config: RunConfig, space, options: dict) -> None:
    """Refuse ``[estimator]`` options that the space sets per architecture (the mlp space's ``lr``
    and ``optimizer`` genes): they would be silently ignored."""
    overridden = sorted(set(options) & set(space.train_recipe(space.smallest())))
    if overridden:
        raise ConfigError(f"{config.source}: [estimator] {', '.join(overridden)} would be ignored: the "
                          f"{config.space['name']} space sets {'it' if len(overridden) == 1 else 'them'} per "
                          f"architecture; remove {'it' if len(overridden) == 1 else 'them'} from [estimator], or give "
                          f"the space one choice, e.g. [space] {overridden[0]}s = "
                          f"{[options[overridden[0]]]!r}".replace("'", '"'))


def _check_untrained_scores(config: RunConfig, space) -> None:
    """Refuse a space whose training genes vary under an estimator that scores untrained networks
    (zero-cost proxies): architectures differing only there score alike, so the search spends
    evaluations on copies and its front reports whichever training choice came first."""
    from .estimate import ESTIMATORS

    cls = ESTIMATORS.get(config.estimator["name"])
    varied = space.varied_training_genes()
    if cls.needs_model and not cls.trains and varied:
        import json

        first = varied[0]
        choice = space.genes[[g.name for g in space.genes].index(first)].choices[0]
        raise ConfigError(f"{config.source}: [estimator] {cls.name!r} scores untrained networks, which the "
                          f"{config.space['name']} space's {', '.join(varied)} gene(s) do not change (they set how "
                          f"a network trains); give each one choice, e.g. [space] {first}s = {json.dumps([choice])}, "
                          f"or use an estimator that trains (proxy-trainer)")


def _check_estimator_objectives(config: RunConfig, cls: type) -> None:
    """Refuse an accuracy-side objective the estimator never reports (every candidate would
    read as failed)."""
    from .estimate import ESTIMATORS
    from .search.objectives import resolve_objectives

    for objective in resolve_objectives(config.objectives):
        if objective.source == "estimator" and objective.column not in cls.metrics:
            givers = [n for n in ESTIMATORS.names() if objective.column in ESTIMATORS.get(n).metrics]
            raise ConfigError(f"{config.source}: [search] objective {objective.name!r} needs the metric "
                              f"{objective.column!r}, which [estimator] {config.estimator['name']!r} does not "
                              f"report (it reports {', '.join(cls.metrics)}); use an estimator that does "
                              f"({', '.join(givers)}) or another objective")


def _unread_training_note(config: RunConfig, cls: type) -> str | None:
    """A note when the estimator trains but no objective reads its error: every training run is
    spent on a figure the search never uses (e.g. zero-cost-filtered with objectives zc_score and
    latency_ms, as the README's comment once paired them)."""
    from .search.objectives import resolve_objectives

    if not getattr(cls, "trains", False):
        return None
    objectives = resolve_objectives(config.objectives)
    if any(o.source == "estimator" and o.column in ("error_pct", "accuracy_pct") for o in objectives):
        return None
    return (f"[estimator] {config.estimator['name']!r} trains candidates, but no [search] objective reads their error "
            f"(objectives: {', '.join(o.name for o in objectives)}), so the search never uses what training "
            f"measures; add \"error\" to the objectives, or use an estimator that does not train (zero-cost)")


def _check_declared(part: str, cls: type, attr: str) -> None:
    """Refuse a plugin part whose declared metric names (``provides``, ``metrics``) are not a tuple
    of names: ``provides = ("params")`` is the string ``"params"``, read as the names p, a, r..."""
    names = getattr(cls, attr, None)
    if isinstance(names, str) or not isinstance(names, (tuple, list)) or not all(isinstance(n, str) for n in names):
        example = f"({names!r},)" if isinstance(names, str) else "('params',)"
        raise RegistryError(f"{part} ({qualified_name(cls)}) declares {attr} = {names!r:.60}, not a tuple of metric "
                            f"names; declare e.g. {attr} = {example} in the class")


def _check_cost_metrics(config: RunConfig, cost_models: list[Any]) -> None:
    """Refuse a cost-side objective or a budget that no cost model computes (every candidate
    would read as failed, or the front would be empty)."""
    from .search.objectives import BUDGETS, resolve_objectives

    givers: dict[str, str] = {}
    for cost in cost_models:  # one source per metric: a second would overwrite the first's numbers
        for metric in cost.provides:
            if metric in givers:
                twice = "is listed twice" if givers[metric] == cost.name else f"and {givers[metric]!r} both give it"
                raise ConfigError(f"{config.source}: [cost] models = {[c.name for c in cost_models]}: {metric} would "
                                  f"come from two places ({cost.name!r} {twice}); keep one"
                                  + (" (ort times it, lut predicts it: [cost] latency = \"measure\" or \"lut\" "
                                     "picks one)" if {givers[metric], cost.name} == {"ort", "lut"} else ""))
            givers[metric] = cost.name
    provided = set(givers)
    wanted = [(f"[search] objective {o.name!r}", o.column) for o in resolve_objectives(config.objectives)
              if o.source == "cost"]
    wanted += [(f"budget {name}", BUDGETS.get(name).column) for name in config.budgets]
    for what, column in wanted:
        if column not in provided:
            # a table search's costs are its table's columns: the fix is a column, not a cost model
            fix = (f"read it from a column of the table (--cost {column}=COLUMN, or [cost.table] metrics)"
                   if cost_models and all(c.name == "table" for c in cost_models) else
                   "add one that does to [cost] models (see hwnas list)")
            raise ConfigError(f"{config.source}: {what} needs the metric {column!r}, which no cost model of this "
                              f"search computes (they give {', '.join(sorted(provided)) or 'nothing'}); {fix}, "
                              f"or drop it")


def build_components(config: RunConfig, *, weights_dir: Path | None = None, with_estimator: bool = True) -> Components:
    """Instantiate everything a search (or export) needs, validating as it goes.

    Args:
        config: validated run config.
        weights_dir: where the evaluator saves trained weights (None: not saved).
        with_estimator: build the accuracy estimator (export does not need it).

    Raises:
        HwnasError subclasses naming the bad value (dataset, space option, target, ...).
    """
    from .cost import COST_MODELS, load_target
    from .cost.lut import LutCostModel, latency_choice
    from .data import load_task
    from .estimate import ESTIMATORS
    from .evaluation import Evaluator

    from .table import TableBacked

    task = load_task(config.task, source=config.source) if config.task else None
    space = build_space(config, task)
    estimator = None
    if with_estimator:
        options = {k: v for k, v in config.estimator.items() if k != "name"}
        where = f"{config.source} [estimator] name"
        if task is None and ESTIMATORS.get(config.estimator["name"], where=where).needs_model:
            raise ConfigError(f"{config.source}: [estimator] {config.estimator['name']!r} trains on data; "
                              f"add a [task] table (e.g. dataset = \"digits\")")
        check_recipe_overrides(config, space, options)
        estimator = ESTIMATORS.get(config.estimator["name"], where=where).from_options(
            task, options, source=f"{config.source} [estimator]")
        _check_declared(f"estimator {config.estimator['name']!r}", type(estimator), "metrics")
        _check_estimator_objectives(config, type(estimator))
        _check_untrained_scores(config, space)
    try:  # before anything reads it, so that a missing or bad target file names the config that gave it
        target = load_target(config.cost["target"]) if "target" in config.cost else None
    except TargetError as exc:
        raise TargetError(f"{config.source} [cost] target: {exc}") from None
    names = config.cost.get("models", list(DEFAULT_COST_MODELS))
    if isinstance(names, str) or not isinstance(names, list) or not names:
        raise ConfigError(f"{config.source} [cost] models = {names!r} must be a non-empty list of "
                          f"cost model names, e.g. {list(DEFAULT_COST_MODELS)}")
    # [cost] latency = "lut" | "measure" | "auto": table prediction or timing for latency_ms
    names, latency_note, table = latency_choice(names, config.cost, space, explicit="models" in config.cost,
                                                source=config.source, target=target)
    classes = [COST_MODELS.get(name, where=f"{config.source} [cost] models") for name in names]
    if "target" not in config.cost and any(cls.needs_model for cls in classes):
        raise ConfigError(f"{config.source}: [cost] needs 'target' for cost models {names}, e.g. target = \"cpu-ort-1t\"")
    cost_models = []
    for name, cls in zip(names, classes):
        options = dict(config.cost.get(name, {}))
        fixed = {"space": space, "config_source": config.source} if getattr(cls, "needs_space", False) else {}
        if table is not None and issubclass(cls, LutCostModel):  # the table latency_choice read: not parsed again
            fixed["table"] = table
        # a [cost.NAME] the config lacks is not where the cause is (a flag, [cost] models or latency chose it)
        where = f"{config.source} [cost.{name}]" if name in config.cost else config.source
        cost_models.append(construct(cls, target, space.input_shape, options=options, fixed=fixed,
                                     where=where, label=name))
    for cost in cost_models:
        _check_declared(f"cost model {cost.name!r}", type(cost), "provides")
    _check_cost_metrics(config, cost_models)
    for part in (estimator, *cost_models):
        if isinstance(part, TableBacked):
            part.check_space(space)
    estimator_class = ESTIMATORS.get(config.estimator["name"]) if with_estimator else type(None)
    if task is None and issubclass(estimator_class, TableBacked) and all(isinstance(c, TableBacked) for c in cost_models):
        _check_unbuilt_space_options(config, space, task)
    budgets_first = {} if config.search.get("train_over_budget") else config.budgets
    evaluator = (Evaluator(space, estimator, cost_models, weights_dir, budgets=budgets_first)
                 if estimator is not None else None)
    advice = estimator.advice(config.search["evaluations"]) if estimator else None
    unread = _unread_training_note(config, estimator_class) if estimator else None
    notes = [n for n in (*(task.notes if task is not None else ()), latency_note, advice, unread) if n]
    return Components(task, space, estimator, target, cost_models, evaluator, notes)
