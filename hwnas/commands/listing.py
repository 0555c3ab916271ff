"""``hwnas list``: every registered name a config or flag can use."""

from __future__ import annotations

import argparse

from .base import COMMANDS, Command


@COMMANDS.register("list")
class ListCommand(Command):
    help = "list spaces, objectives, budgets, datasets, estimators, cost models, strategies, targets, compressors"

    def configure(self, p: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:
        from ..compress import COMPRESSORS, QUANT_SCHEMES
        from ..cost import COST_MODELS
        from ..cost.target import targets_dir
        from ..data import DATASETS
        from ..estimate import ESTIMATORS, PROXIES
        from ..search.objectives import BUDGETS, OBJECTIVES
        from ..search.strategies import STRATEGIES
        from ..space import SPACES

        rows = [("spaces", SPACES.names()), ("objectives", OBJECTIVES.names()), ("budgets", BUDGETS.names()),
                ("datasets", DATASETS.names()), ("estimators", ESTIMATORS.names()),
                ("proxies", PROXIES.names()),
                ("cost models", COST_MODELS.names()), ("strategies", STRATEGIES.names()),
                ("targets", sorted(p.stem for p in targets_dir().glob("*.toml"))),
                ("compressors", COMPRESSORS.names()), ("quantization", QUANT_SCHEMES.names())]
        for label, names in rows:
            print(f"{label:12s} {', '.join(names)}")
        return 0
