"""A search's strategy built from its config (:mod:`hwnas.search.strategy_setup`): the options it
ran with, as config.json records them."""

import csv
import json

import pytest

from hwnas.search.runner import run_search


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("strategy, given, expected", [
    ("nsga2", {"population": 8}, {"population": 8, "crossover_prob": 0.9, "mutation_prob": None, "offspring": None}),
    ("nsga2", {}, {"population": 8}),  # derived from the budget: min(16, max(8, 40 // 6))
    ("evolution", {"population": 64}, {"population": 20, "sample": 8}),  # at most evaluations / 2
])
def test_config_json_records_every_option_the_strategy_ran_with(tmp_path, make_config, strategy, given, expected):
    from hwnas.config import config_from_dict

    config = make_config()
    config.search.pop("population")
    config.search.update(strategy=strategy, **given)
    run_search(config, tmp_path / "r", progress=False)
    written = json.loads((tmp_path / "r" / "config.json").read_text())
    assert {k: written["search"][strategy][k] for k in expected} == expected
    assert "population" not in {k for k, v in written["search"].items() if not isinstance(v, dict)}
    again = config_from_dict(written)  # still a config: the same search again
    assert again.strategy_options() == written["search"][strategy]
    if strategy == "evolution":  # and a file the CLI reads: the same evaluations again
        from hwnas.config import load_config

        run_search(load_config(tmp_path / "r" / "config.json"), tmp_path / "again", progress=False)
        rows = [[{k: v for k, v in r.items() if k != "duration_s"} for r in _rows(tmp_path / d / "evaluations.csv")]
                for d in ("r", "again")]
        assert rows[0] == rows[1]
