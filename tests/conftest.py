"""Shared fixtures: registers the fakes, and small configs for fast searches."""

from __future__ import annotations

import pytest

import fakes  # noqa: F401  (registers fake-accuracy / fake-latency)
from hwnas.config import config_from_dict


def small_config(**overrides):
    """A fast mlp-on-digits config with fake estimator and latency (sections overridable)."""
    data = {
        "task": {"dataset": "digits", "val_fraction": 0.25, "seed": 0},
        "space": {"name": "mlp", "max_layers": 3},
        "estimator": {"name": "fake-accuracy"},
        "cost": {"target": "cpu-ort-1t", "models": ["counts", "fake-latency"]},
        "search": {"strategy": "nsga2", "objectives": ["error", "latency_ms"], "evaluations": 40,
                   "population": 8, "seed": 0},
    }
    for section, values in overrides.items():
        data[section] = {**data.get(section, {}), **values}
    return config_from_dict(data)


@pytest.fixture
def make_config():
    """Factory fixture for :func:`small_config`."""
    return small_config


@pytest.fixture
def cli_error(capsys):
    """``cli_error(argv, *needles)``: run the CLI, assert exit 2 and a one-line ``hwnas: error:``
    naming every needle; returns the line."""
    from hwnas.cli import main

    def check(argv, *needles):
        capsys.readouterr()  # this command's output only, not what ran before it
        assert main(list(argv)) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("hwnas: error:"), err
        for needle in needles:
            assert needle in err, err
        return err

    return check


@pytest.fixture(autouse=True)
def _registries_restored():
    """Whatever a test registers (a plugin space, a dataset loader) is unregistered after it."""
    from hwnas.registry import _REGISTRIES

    saved = [(registry, dict(registry._items), dict(registry._origins)) for registry in _REGISTRIES]
    yield
    for registry, items, origins in saved:
        registry._items.clear()
        registry._items.update(items)
        registry._origins.clear()
        registry._origins.update(origins)


class PluginModules:
    """Plugin modules a test writes into its ``tmp_path``, importable while it runs.

    ``write(name, source)`` writes ``<name>.py``; ``unload()`` (also run after the test) forgets
    the modules written and unregisters whatever they registered, so the next test starts clean.
    """

    def __init__(self, folder) -> None:
        self.folder = folder
        self.names: list[str] = []

    def write(self, name: str, source: str) -> str:
        (self.folder / f"{name}.py").write_text(source)
        self.names.append(name)
        return name

    def unload(self) -> None:
        import sys

        from hwnas.registry import _REGISTRIES

        for registry in _REGISTRIES:
            for key in [k for k, origin in registry._origins.items() if origin in self.names]:
                registry._items.pop(key, None)
                registry._origins.pop(key, None)
        for name in self.names:
            sys.modules.pop(name, None)


@pytest.fixture
def plugin_modules(tmp_path, monkeypatch):
    """A :class:`PluginModules` on ``sys.path``, unloaded after the test."""
    plugins = PluginModules(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield plugins
    plugins.unload()
