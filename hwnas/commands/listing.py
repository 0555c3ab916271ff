"""``hwnas list``: every registered name a config or flag can use."""

from __future__ import annotations

import argparse

from .base import COMMANDS, Command


@COMMANDS.register("list")
class ListCommand(Command):
    help = ("list spaces, objectives, budgets, datasets, estimators, proxies, cost models, strategies, "
            "executors, targets, compressors, quantization schemes, bench peers")

    def configure(self, p: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:
        from ..bench import PEERS
        from ..compress import COMPRESSORS, QUANT_SCHEMES
        from ..cost import COST_MODELS
        from ..cost.target import targets_dir
        from ..data import DATASETS
        from ..estimate import ESTIMATORS, PROXIES
        from ..execute import EXECUTORS
        from ..search.objectives import BUDGETS, OBJECTIVES
        from ..search.strategies import STRATEGIES
        from ..space import SPACES

        # objectives and budgets with the CSV column and unit they stand for (error -> error_pct)
        objectives = [f"{n} ({'' if o.column == n else o.column + ', '}{o.unit}{', ' + o.per if o.per else ''}"
                      f"{'' if o.minimise else ', maximised'})"
                      for n, o in ((n, OBJECTIVES.get(n)) for n in OBJECTIVES.names())]
        budgets = [f"{n} ({BUDGETS.get(n).unit})" for n in BUDGETS.names()]
        rows = [("spaces", SPACES.names()), ("objectives", objectives), ("budgets", budgets),
                ("datasets", DATASETS.names()), ("estimators", ESTIMATORS.names()),
                ("proxies", PROXIES.names()),
                ("cost models", COST_MODELS.names()), ("strategies", STRATEGIES.names()),
                ("executors", EXECUTORS.names()),
                ("targets", sorted(p.stem for p in targets_dir().glob("*.toml"))),
                ("compressors", COMPRESSORS.names()), ("quantization", QUANT_SCHEMES.names()),
                ("bench peers", PEERS.names())]
        for label, names in rows:
            print(f"{label:12s} {', '.join(names)}")
        return 0
