"""Run configs: a strategy's options in [search] or in its own [search.<strategy>] table, and
switching strategy."""

import json

import pytest

from hwnas.config import check_budget, config_from_dict
from hwnas.exceptions import ConfigError
from hwnas.search.runner import run_search

BASE = {"task": {"dataset": "digits"}, "space": {"name": "mbv3"}, "cost": {"target": "cpu-ort-1t"}}


def _config(search):
    return config_from_dict({**BASE, "search": search})


def test_each_strategy_reads_its_own_table_and_the_plain_options():
    config = _config({"strategy": "nsga2", "crossover_prob": 0.8, "nsga2": {"population": 8},
                      "darts": {"penalties": [0, 1]}})
    assert config.strategy_options() == {"crossover_prob": 0.8, "population": 8}
    assert config.switch_strategy("darts") == ["crossover_prob"]  # nsga2's plain option goes, tables stay
    assert config.strategy_options() == {"penalties": [0, 1]}
    assert config.switch_strategy("nsga2") == [] and config.strategy_options() == {"population": 8}


def test_strategy_tables_refuse_what_they_cannot_mean():
    with pytest.raises(ConfigError, match=r"\[search.nsga3\] is not a strategy's option table; name it after a "
                                          r"strategy \(bayes, darts, .*\) or move its keys into \[search\] \(or a plugin's\? load "
                                          r"its module with hwnas --plugin MODULE"):
        _config({"nsga3": {"population": 8}})
    with pytest.raises(ConfigError, match=r"population given both in \[search\] and in \[search.nsga2\]; keep one"):
        _config({"population": 8, "nsga2": {"population": 16}})


def test_a_misspelt_option_in_a_strategy_table_names_the_table(tmp_path):
    config = _config({"strategy": "nsga2", "nsga2": {"popsize": 8}})
    with pytest.raises(ConfigError, match=r"\[search\] and \[search.nsga2\]: 'nsga2' has no option\(s\) 'popsize'"):
        run_search(config, tmp_path / "run", progress=False)


def test_a_misspelt_key_gets_the_likeliest_valid_one(tmp_path):
    with pytest.raises(ConfigError, match=r"'nsga2' has no option\(s\) 'evalutions'; valid options: population, .*; "
                                          r"also valid here: strategy, objectives, evaluations, seed, train_over_budget; did you mean "
                                          r"'evaluations'\?$"):
        run_search(_config({"evalutions": 6}), tmp_path / "a", progress=False)
    with pytest.raises(ConfigError, match=r"\[space\]: 'mbv3' has no option\(s\) 'widht'; .*; did you mean 'widths'\?$"):
        run_search(config_from_dict({**BASE, "space": {"name": "mbv3", "widht": [0.5]}}), tmp_path / "b",
                   progress=False)
    with pytest.raises(ConfigError, match=r"unknown section\(s\) \['serach'\]; .*; did you mean 'search'\?$"):
        config_from_dict({**BASE, "serach": {}})
    with pytest.raises(ConfigError, match=r"unknown \[cost\] key\(s\) \['latncy'\]; .*; did you mean 'latency'\?$"):
        config_from_dict({**BASE, "cost": {"target": "cpu-ort-1t", "latncy": "lut"}})
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_train_over_budget_is_a_run_key_and_a_boolean():
    config = config_from_dict({"space": {"name": "mlp"}, "search": {"train_over_budget": True}})
    assert config.search["train_over_budget"] is True and "train_over_budget" not in config.strategy_options()
    assert config_from_dict({"space": {"name": "mlp"}}).search["train_over_budget"] is False  # recorded in every run
    with pytest.raises(ConfigError, match=r"\[search\]: train_over_budget = 'yes' must be true or false$"):
        config_from_dict({"space": {"name": "mlp"}, "search": {"train_over_budget": "yes"}})


@pytest.mark.parametrize("cost, message", [
    ({"lut": {"path": 3}}, "[cost.lut] path = 3 must be the name of a file"),
    ({"lut": {"path": " "}}, "[cost.lut] path = ' ' must be the name of a file"),
    ({"lut": "/tmp/t.json"}, "[cost] lut = '/tmp/t.json' must be a table of options, e.g. [cost.lut] path"),
    ({"models": ["counts", "table"], "table": "x.csv"}, "[cost] table = 'x.csv' must be a table of options"),
])
def test_cost_model_option_tables_and_their_paths_are_checked(cost, message):
    with pytest.raises(ConfigError) as err:
        config_from_dict({"task": {"dataset": "digits"}, "space": {"name": "mbv3"},
                          "cost": {"target": "cpu-ort-1t", **cost}})
    assert message in str(err.value)


def test_a_table_path_that_is_a_folder_says_so(tmp_path):
    from hwnas.components import build_components
    from hwnas.exceptions import LatencyTableError

    config = config_from_dict({"task": {"dataset": "digits", "resize": 12}, "space": {"name": "mbv3"},
                               "cost": {"target": "cpu-ort-1t", "lut": {"path": str(tmp_path)}}})
    with pytest.raises(LatencyTableError, match=f"path = '{tmp_path}' is a folder; point it at a table file"):
        build_components(config)


def test_a_json_config_is_read_and_a_malformed_one_is_one_line(tmp_path):
    from hwnas.config import load_config

    good = tmp_path / "config.json"
    good.write_text(json.dumps({**BASE, "search": {"evaluations": 7}}))
    assert load_config(good).search["evaluations"] == 7
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(ConfigError, match="bad.json: malformed JSON"):
        load_config(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="a JSON config must be an object of sections"):
        load_config(bad)


def test_paths_in_a_config_may_start_at_the_home_folder(tmp_path, monkeypatch):
    from hwnas.config import load_config

    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    config_file = tmp_path / "configs" / "run.toml"
    config_file.parent.mkdir()
    config_file.write_text('[task]\ndataset = "npz"\npath = "~/d.npz"\n[space]\nname = "mlp"\n'
                           '[cost]\ntarget = "cpu-ort-1t"\nmodels = ["counts", "lut"]\n'
                           '[cost.lut]\npath = "~/tables/t.json"\n[estimator]\nname = "table"\npath = "data/a.csv"\n')
    config = load_config(config_file)
    assert config.task["path"] == str(home / "d.npz")
    assert config.cost["lut"]["path"] == str(home / "tables" / "t.json")
    assert config.estimator["path"] == str(tmp_path / "configs" / "data" / "a.csv")  # relative: the config's folder


@pytest.mark.parametrize("cost, message", [
    ({"lut": {"pth": "x.json"}}, r"unknown \[cost.lut\] key\(s\) \['pth'\]; valid: \['level', 'path'\].*'path'"),
    ({"models": ["counts", "ort"], "lut": {"level": 0.5}},
     r"\[cost.lut\] level = 0.5: \[cost\] models = \['counts', 'ort'\] times latency \(ort\) and reads no table"),
    ({"models": ["counts"], "lut": {"level": 0.5}}, r"\[cost.lut\] level = 0.5: \[cost\] models = \['counts'\] has "
                                                    r"no latency model"),
])
def test_lut_options_that_nothing_reads_are_refused(cost, message):
    from hwnas.components import build_components

    config = config_from_dict({"task": {"dataset": "digits", "resize": 12}, "space": {"name": "mbv3"},
                               "cost": {"target": "cpu-ort-1t", **cost}})
    with pytest.raises(ConfigError, match=message):
        build_components(config)


def test_local_workers_and_seeds_are_bounded():
    import os

    from hwnas.config import MAX_SEED, check_local_workers, max_local_processes

    assert max_local_processes() == 4 * (os.cpu_count() or 1)
    too_many = max_local_processes() + 1
    config = config_from_dict({**BASE, "execution": {"workers": too_many}})  # read: a larger machine's run loads
    with pytest.raises(ConfigError, match=rf"workers = {too_many} is more than {too_many - 1} \(4 per CPU core .*"
                                          r"or a running Ray cluster for more \(--executor ray --address HOST:PORT\)"):
        check_local_workers(config)  # run here: refused
    check_local_workers(config_from_dict({**BASE, "execution": {"executor": "ray", "address": "auto",
                                                               "workers": too_many}}))
    # without an address, the Ray cluster (and every worker) starts on this machine
    with pytest.raises(ConfigError, match=rf"workers = {too_many} is more than {too_many - 1} \(4 per CPU core .*"
                                          r"or a running Ray cluster for more \(--executor ray --address HOST:PORT\)"):
        check_local_workers(config_from_dict({**BASE, "execution": {"executor": "ray", "workers": too_many}}))
    with pytest.raises(ConfigError, match=rf"seed = {MAX_SEED + 1} is out of range; use an integer in \[0, {MAX_SEED}\]"):
        _config({"seed": MAX_SEED + 1})


def test_another_executor_drops_the_first_one_s_options():
    from hwnas.config import set_execution

    config = config_from_dict({**BASE, "execution": {"executor": "ray", "address": "auto", "workers": 2}})
    assert set_execution(config, {"executor": "local"}) == ["address"]
    assert config.execution == {"executor": "local", "workers": 2}
    assert set_execution(config, {"workers": 1}) == []


def test_an_infinite_budget_is_refused_with_what_to_do():
    # inf passed "positive" and then judged every candidate infeasible ((v - inf) / inf is NaN):
    # a search trained them all and found an empty front, pick said "raise the budget"
    with pytest.raises(ConfigError, match=r"\[budgets\]: max_latency_ms = inf must be a finite number; "
                                          r"leave the budget out for none$"):
        config_from_dict({"space": {"name": "mlp"}, "budgets": {"max_latency_ms": float("inf")}})
    assert check_budget("max_params", 1e300, "--max-params") == 1e300


def test_accuracy_in_the_objectives_is_refused_pointing_to_error():
    with pytest.raises(ConfigError, match=r"\[search\] objectives: unknown objective 'accuracy'; accuracy is the "
                                          r"objective 'error' .*write \"error\" in its place"):
        _config({"objectives": ["accuracy", "latency_ms"]})
