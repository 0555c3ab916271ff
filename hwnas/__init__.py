"""hwnas: multi-objective, hardware-aware neural architecture search.

Public API (imported lazily, so ``import hwnas`` stays light)::

    from hwnas import load_config, run_search, load_run
    summary = run_search(load_config("examples/digits.toml"), "runs/digits")
"""

from __future__ import annotations

from .exceptions import HwnasError

__version__ = "0.1.0"

_LAZY = {
    "load_config": ("config", "load_config"),
    "config_from_dict": ("config", "config_from_dict"),
    "RunConfig": ("config", "RunConfig"),
    "run_search": ("search.runner", "run_search"),
    "load_run": ("outputs", "load_run"),
    "export_run_arch": ("export", "export_run_arch"),
    "pick": ("front", "pick"),
    "non_dominated": ("front", "non_dominated"),
    "hypervolume": ("front", "hypervolume"),
    "run_fidelity": ("fidelity", "run_fidelity"),
    "make_space": ("space", "make_space"),
    "SPACES": ("space", "SPACES"),
    "load_task": ("data", "load_task"),
    "DATASETS": ("data", "DATASETS"),
    "ESTIMATORS": ("estimate", "ESTIMATORS"),
    "COST_MODELS": ("cost", "COST_MODELS"),
    "load_target": ("cost", "load_target"),
    "STRATEGIES": ("search.strategies", "STRATEGIES"),
    "OBJECTIVES": ("search.objectives", "OBJECTIVES"),
    "BUDGETS": ("search.objectives", "BUDGETS"),
    "compress_run": ("compress", "compress_run"),
    "build_chains": ("compress", "build_chains"),
    "COMPRESSORS": ("compress", "COMPRESSORS"),
}

__all__ = ["HwnasError", "__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'hwnas' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names, the lazily imported ones included (for ``dir(hwnas)`` and completion)."""
    return sorted({*globals(), *__all__})
