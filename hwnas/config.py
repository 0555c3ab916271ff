"""Run configuration: a TOML file with sections task, space, estimator, cost, search, budgets.

Example ``examples/digits.toml``::

    [task]
    dataset = "digits"
    [space]
    name = "mbv3"
    [estimator]
    name = "proxy-trainer"
    epochs = 4
    [cost]
    target = "cpu-ort-1t"
    [search]
    objectives = ["error", "latency_ms"]
    evaluations = 160
    [budgets]
    max_latency_ms = 1.0

A strategy's options go in ``[search]`` or in its own ``[search.<strategy>]`` table (e.g.
``[search.nsga2] population = 16``); only the running strategy's table is read, so one file can
hold options for every strategy ``--strategy`` may pick.

Relative paths (``[task] path``, ``[cost] target`` ending in ``.toml``) are resolved against the
config file's folder. Validation happens here, at the boundary: every error names the file,
the key, the value and the fix.
"""

from __future__ import annotations

import copy
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .exceptions import ConfigError
from .registry import PLUGIN_HINT, did_you_mean
from .search.objectives import BUDGETS, get_objective

_SECTIONS = ("task", "space", "estimator", "cost", "search", "budgets", "execution")
#: Sections that may change when a run is resumed (where evaluations run, not what they are).
RESUMABLE_SECTIONS = ("execution",)
#: ``train_over_budget``: false, a candidate priced over a budget is not trained (see
#: :mod:`hwnas.evaluation`); a run stored before the key existed trained every one and resumes so
#: (:data:`LEGACY_SEARCH`).
_SEARCH_DEFAULTS = {"strategy": "nsga2", "objectives": ["error", "latency_ms"], "evaluations": 100, "seed": 0,
                    "train_over_budget": False}
#: ``[search]`` keys the run itself reads; every other key is the strategy's option.
SEARCH_KEYS = tuple(_SEARCH_DEFAULTS)
#: What a stored run's config means by a ``[search]`` key it lacks (it was stored before the key).
LEGACY_SEARCH = {"train_over_budget": True}
#: The longest ``[execution] eval_timeout_s`` (a week): a longer one is no limit in practice (leave the
#: key out), and past ~24 days the waits it sets overflow.
MAX_EVAL_TIMEOUT_S = 7 * 24 * 3600
_COST_KEYS = {"target", "models", "latency", "lut"}  # latency: "auto" | "lut" | "measure"


@dataclass
class RunConfig:
    """A validated run configuration (plain dicts per section, defaults filled in).

    Attributes:
        task: options for :func:`hwnas.data.load_task`.
        space: ``name`` plus the space's options.
        estimator: ``name`` plus the estimator's options.
        cost: ``target`` (name or path) and optionally ``models`` (cost model names).
        search: strategy, objectives, evaluations, seed, plus strategy options.
        budgets: budget name -> bound.
        execution: where evaluations run: ``executor`` (``local``/``ray``), ``workers``,
            ``eval_timeout_s``, and the executor's options (Ray's ``address``).
        source: the file it came from ("<dict>" when built in code).
    """

    task: dict[str, Any]
    space: dict[str, Any]
    estimator: dict[str, Any]
    cost: dict[str, Any]
    search: dict[str, Any]
    budgets: dict[str, float] = field(default_factory=dict)
    source: str = "<dict>"
    execution: dict[str, Any] = field(default_factory=dict)

    @property
    def objectives(self) -> list[str]:
        """Objective names in order."""
        return list(self.search["objectives"])

    def strategy_options(self) -> dict[str, Any]:
        """Options for the strategy: ``[search]`` keys other than the generic ones, and its own
        ``[search.<strategy>]`` table (tables of other strategies are kept for ``--strategy``)."""
        own = self.search.get(self.search["strategy"])
        return {**self._flat_options(), **(own if isinstance(own, Mapping) else {})}

    def _flat_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.search.items() if k not in _SEARCH_DEFAULTS and not isinstance(v, Mapping)}

    def switch_strategy(self, name: str) -> list[str]:
        """Search with strategy ``name`` instead: plain ``[search]`` options the current strategy
        takes and ``name`` does not (e.g. nsga2's ``population`` for ``random``) are dropped;
        ``[search.<strategy>]`` tables stay, and ``name``'s own table applies.

        Returns:
            The dropped option names (sorted).
        """
        from .registry import option_names
        from .search.strategies import STRATEGIES

        accepted = option_names(STRATEGIES.get(name))
        previous = self.search["strategy"]
        dropped = sorted(k for k in self._flat_options() if accepted is not None and k not in accepted)
        if not (dropped and previous != name and set(dropped) <= (option_names(STRATEGIES.get(previous)) or set(dropped))):
            dropped = []
        for key in dropped:
            del self.search[key]
        self.search["strategy"] = name
        return dropped

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data (written to the run directory)."""
        return {s: copy.deepcopy(getattr(self, s)) for s in _SECTIONS}

    def executor_options(self) -> dict[str, Any]:
        """``[execution]`` keys for the executor itself (e.g. Ray's ``address``)."""
        return {k: v for k, v in self.execution.items() if k not in EXECUTION_KEYS}


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a run config file: TOML, or JSON for a run's ``config.json`` (the config
    as that run ran it, so ``hwnas search runs/x/config.json --out runs/y`` runs it again).

    Raises:
        ConfigError: missing file, malformed TOML (with line and column), unknown section or
            key, or a bad value.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(path)!r} not found; pass a TOML file such as examples/digits.toml")
    try:
        if p.suffix == ".json":  # a run's config.json: the config as that run ran it
            import json

            data = json.loads(p.read_text())
            if not isinstance(data, dict):
                raise ConfigError(f"{p}: a JSON config must be an object of sections, like a run's config.json")
        else:
            data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: malformed TOML: {exc}; fix the file's syntax") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a UTF-8 text file; pass a TOML config") from None
    except ValueError as exc:  # json's decode error
        raise ConfigError(f"{p}: malformed JSON: {exc}; fix the file's syntax, or pass a TOML config") from None
    return config_from_dict(data, source=str(p), base_dir=p.parent)


def config_from_dict(data: Mapping[str, Any], *, source: str = "<dict>", base_dir: Path | None = None) -> RunConfig:
    """Validate a config given as nested dicts (see :func:`load_config`)."""
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {unknown}; valid sections: {list(_SECTIONS)}"
                          f"{did_you_mean(unknown, _SECTIONS)}")
    sections = {}
    for name in _SECTIONS:
        value = data.get(name, {})
        if not isinstance(value, Mapping):
            raise ConfigError(f"{source}: [{name}] must be a table, got {value!r}")
        sections[name] = dict(value)
    if "name" not in sections["space"]:
        raise ConfigError(f"{source}: [space] needs 'name'")
    # [task] may be left out when nothing needs data (table-backed searches)
    if sections["task"] and "dataset" not in sections["task"]:
        raise ConfigError(f"{source}: [task] needs 'dataset'")
    sections["estimator"].setdefault("name", "proxy-trainer")
    search = {**_SEARCH_DEFAULTS, **sections["search"]}
    cost = sections["cost"]
    # [cost.<model>] sub-tables hold a cost model's options (e.g. [cost.table] path = ...)
    models = cost.get("models") if isinstance(cost.get("models"), list) else []
    for name in ("lut", *(m for m in models if isinstance(m, str))):  # [cost.<model>]: options, a path a file
        options = cost.get(name)
        if name in cost and name not in _COST_KEYS - {"lut"} and not isinstance(options, Mapping):
            raise ConfigError(f"{source}: [cost] {name} = {options!r} must be a table of options, e.g. "
                              f"[cost.{name}] path = \"...\"")
        path = options.get("path") if isinstance(options, Mapping) else None
        if isinstance(options, Mapping) and "path" in options and (not isinstance(path, str) or not path.strip()):
            raise ConfigError(f"{source}: [cost.{name}] path = {path!r} must be the name of a file")
    bad = sorted(k for k in set(cost) - _COST_KEYS if not (k in models and isinstance(cost[k], Mapping)))
    if bad:
        raise ConfigError(f"{source}: unknown [cost] key(s) {bad}; valid: {sorted(_COST_KEYS)} and "
                          f"[cost.<model>] option tables for the models listed in 'models'"
                          f"{did_you_mean(bad, [*_COST_KEYS, *models])}")
    if base_dir is not None:
        _resolve_paths(sections, base_dir)
    config = RunConfig(sections["task"], sections["space"], sections["estimator"], cost, search,
                       {}, source)
    set_budgets(config, sections["budgets"])
    _validate_search(config)
    set_execution(config, sections["execution"])
    return config


def set_execution(config: RunConfig, execution: Mapping[str, Any], *, where: str | None = None) -> list[str]:
    """Validate and merge ``[execution]`` settings (from the file or CLI flags) into ``config``.

    Returns:
        The options of the executor replaced by another (``address`` when Ray gives way to
        local), which are dropped.

    Raises:
        ConfigError: a workers count below 1 or a timeout that is not a positive number (the
            upper bound on local workers is checked when a search starts: :func:`check_local_workers`).
    """
    where = where or f"{config.source} [execution]"
    given = {k: v for k, v in execution.items() if v is not None}
    before = config.execution.get("executor", "local")
    if given.get("executor", before) != before:  # the other executor's options (Ray's address) go with it
        kept = {k: v for k, v in config.execution.items() if k in EXECUTION_KEYS}
        dropped = sorted(set(config.execution) - set(kept))
        merged = {**kept, **given}
    else:
        dropped, merged = [], {**config.execution, **given}
    workers = merged.setdefault("workers", 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"{where}: workers = {workers!r} must be an integer >= 1")
    timeout = merged.get("eval_timeout_s")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not 0 < timeout <= MAX_EVAL_TIMEOUT_S):
        raise ConfigError(f"{where}: eval_timeout_s = {timeout!r} must be a positive number of seconds, at most "
                          f"{MAX_EVAL_TIMEOUT_S:g} (a week); leave it out for no limit")
    merged.setdefault("executor", "local")
    config.execution = merged
    return dropped


#: ``[execution]`` keys every executor reads; the others are one executor's options (Ray's address).
EXECUTION_KEYS = ("executor", "workers", "eval_timeout_s")
#: The largest seed (numpy's and torch's generators take 32 bits; pymoo and Optuna refuse more).
MAX_SEED = 2**32 - 1


def max_local_processes() -> int:
    """The most worker processes one command starts on this machine: 4 per CPU core."""
    return 4 * (os.cpu_count() or 1)


def check_local_workers(config: RunConfig, *, flag: bool = False) -> None:
    """Refuse, when a search starts here, more local worker processes than :func:`max_local_processes`
    (a typo would start a process per unit). Not when a config is read: a run stored on a larger
    machine still loads, and flags may lower the count first.

    Args:
        flag: the count came from ``--workers`` (the message names the flag, not the config file).

    Raises:
        ConfigError: naming the count, the limit and the fix.
    """
    workers, most = config.execution.get("workers", 1), max_local_processes()
    executor = config.execution.get("executor", "local")
    # a Ray executor without an address starts its cluster, and every worker, on this machine too
    if (executor == "local" or not config.execution.get("address")) and workers > most:
        said = f"--workers {workers}" if flag else f"{config.source} [execution]: workers = {workers}"
        raise ConfigError(f"{said} is more than {most} (4 per CPU core of "
                          f"this machine's {os.cpu_count() or 1}); use fewer (--workers), or a running Ray cluster "
                          f"for more (--executor ray --address HOST:PORT)")


def set_budgets(config: RunConfig, budgets: Mapping[str, Any], *, where: str | None = None) -> None:
    """Validate and merge budgets (from the file's ``[budgets]`` or CLI flags) into ``config``.

    Raises:
        ConfigError: unknown budget, or a value that is not a positive number.
    """
    where = where or f"{config.source} [budgets]"
    for name, value in budgets.items():
        if value is not None:
            config.budgets[name] = check_budget(name, value, where)


def check_budget(name: str, value: Any, where: str) -> float:
    """A budget's value as a float.

    Raises:
        RegistryError: an unknown budget name.
        ConfigError: a value that is not a positive finite number (NaN and infinity included: an
            infinite bound would judge every candidate infeasible, as ``inf - inf`` is NaN).
    """
    BUDGETS.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{where}: {name} = {value!r} must be a positive number")
    if not math.isfinite(value):
        raise ConfigError(f"{where}: {name} = {value!r} must be a finite number; leave the budget out for none")
    return float(value)


def _validate_search(config: RunConfig) -> None:
    s, src = config.search, f"{config.source} [search]"
    objectives = s["objectives"]
    if isinstance(objectives, str) or not isinstance(objectives, list) or not objectives:
        raise ConfigError(f"{src}: objectives = {objectives!r} must be a non-empty list, e.g. [\"error\", \"latency_ms\"]")
    for name in objectives:
        get_objective(name, where=f"{src} objectives")
    if len(set(objectives)) != len(objectives):
        raise ConfigError(f"{src}: objectives {objectives} repeat a name")
    for key in ("evaluations", "seed"):
        v = s[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < (1 if key == "evaluations" else 0):
            raise ConfigError(f"{src}: {key} = {v!r} must be an integer >= {1 if key == 'evaluations' else 0}")
    if s["seed"] > MAX_SEED:
        raise ConfigError(f"{src}: seed = {s['seed']} is out of range; use an integer in [0, {MAX_SEED}]")
    if not isinstance(s["train_over_budget"], bool):
        raise ConfigError(f"{src}: train_over_budget = {s['train_over_budget']!r} must be true or false")
    from .search.strategies import STRATEGIES

    for key, value in s.items():  # [search.<strategy>] tables: one strategy's options each
        if isinstance(value, Mapping):
            if key not in STRATEGIES.names():
                raise ConfigError(f"{src}: [search.{key}] is not a strategy's option table; name it after a "
                                  f"strategy ({', '.join(STRATEGIES.names())}) or move its keys into [search]{PLUGIN_HINT}")
            twice = sorted(set(value) & set(config._flat_options()))
            if twice and key == s["strategy"]:
                raise ConfigError(f"{src}: {', '.join(twice)} given both in [search] and in [search.{key}]; keep one")


def _resolve_paths(sections: dict[str, dict[str, Any]], base_dir: Path) -> None:
    """Make the config's file paths absolute: ``~`` is the user's home, and a relative path is
    relative to the config's folder."""
    def resolve(path: str) -> str:
        path = Path(path).expanduser()
        return str(path if path.is_absolute() else (base_dir / path).resolve())

    for options in (sections["task"], sections["estimator"],
                    *(v for v in sections["cost"].values() if isinstance(v, Mapping))):
        if isinstance(options.get("path"), str) and options["path"]:
            options["path"] = resolve(options["path"])
    target = sections["cost"].get("target")
    if isinstance(target, str) and (target.endswith(".toml") or "/" in target):
        candidate = resolve(target)
        # the config's folder first; a path that exists only from the working folder (targets/x.toml in the
        # repository) is taken from there; neither: the config's, so the error names where it was looked for
        from_cwd = Path(target).expanduser().resolve()
        sections["cost"]["target"] = str(from_cwd) if not Path(candidate).exists() and from_cwd.exists() else candidate
