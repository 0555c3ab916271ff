"""hwnas.components: what the parts of a run refuse before any evaluation."""

from __future__ import annotations

import re

import pytest

from hwnas.components import build_components
from hwnas.exceptions import ConfigError


def test_estimator_options_the_space_sets_per_architecture_are_refused(make_config):
    # the mlp space's lr and optimizer genes override the trainer's: these would be silently ignored
    config = make_config(estimator={"name": "proxy-trainer", "epochs": 1, "lr": 5.0, "optimizer": "sgd"})
    with pytest.raises(ConfigError, match=r"\[estimator\] lr, optimizer would be ignored: the mlp space sets them "
                                          r"per architecture; .* e\.g\. \[space\] lrs = \[5\.0\]"):
        build_components(config)
    build_components(make_config(estimator={"name": "proxy-trainer", "epochs": 1, "weight_decay": 0.0}))


def test_training_genes_that_vary_under_a_proxy_that_scores_untrained_networks_are_refused(make_config):
    # lr, optimizer and dropout do not change the untrained network: copies of one network would
    # spend evaluations, and the front would report an arbitrary training choice
    config = make_config(estimator={"name": "zero-cost"}, space={"lrs": [0.01, 0.001], "dropouts": [0.0]},
                         search={"objectives": ["zc_score", "params"]})
    with pytest.raises(ConfigError, match=r"\[estimator\] 'zero-cost' scores untrained networks, which the mlp "
                                          r"space's lr, optimizer gene\(s\) do not change .* e\.g\. \[space\] "
                                          r"lrs = \[0\.01\]"):
        build_components(config)
    build_components(make_config(estimator={"name": "zero-cost"}, search={"objectives": ["zc_score", "params"]},
                                 space={"lrs": [0.01], "optimizers": ["adam"], "dropouts": [0.0]}))
    build_components(make_config(estimator={"name": "zero-cost-filtered", "epochs": 1}))  # it trains them


def test_a_pre_filter_whose_warm_up_covers_the_search_is_noted(make_config):
    config = make_config(estimator={"name": "zero-cost-filtered", "warmup": 8, "epochs": 1},
                         search={"evaluations": 6})
    assert build_components(config).notes == [
        "zero-cost-filtered: warmup = 8 covers all 6 evaluations, so every candidate is trained and none filtered; "
        "set warmup below the evaluations to filter"]
    assert build_components(make_config(estimator={"name": "zero-cost-filtered", "warmup": 2, "epochs": 1},
                                        search={"evaluations": 6})).notes == []


def test_the_data_loader_s_notes_are_the_search_s_to_say(make_config, tmp_path):
    import numpy as np

    path = tmp_path / "d.npz"
    np.savez(path, x=np.random.default_rng(0).normal(size=(40, 3)), y=(np.arange(40) % 2).astype(np.float32))
    notes = build_components(make_config(task={"dataset": "npz", "path": str(path)})).notes
    assert len(notes) == 1 and notes[0].startswith(f"npz: '{path}' y is floating-point (float32), so this is a regression")


def test_space_options_a_table_run_never_builds_are_refused(tmp_path):
    # the numbers come from the table: cells_per_stage and channels would be recorded yet change nothing;
    # an option that changes which architectures exist (the mlp widths) still counts
    from fakes import write_nb201_table
    from hwnas.config import config_from_dict

    path = tmp_path / "t.csv"
    write_nb201_table(path)
    table = {"path": str(path), "arch_column": "arch_str"}

    def config(space, **task):
        return config_from_dict({**task, "space": {"name": "nb201", **space},
                                 "estimator": {"name": "table", **table, "accuracy_column": "acc"},
                                 "cost": {"models": ["table"], "table": {**table, "metrics": {"latency_ms": "lat"}}}})

    with pytest.raises(ConfigError, match=r"\[space\] cells_per_stage, channels would be ignored: this run builds no "
                                          r"network \(every number comes from its table\)"):
        build_components(config({"cells_per_stage": 1, "channels": 8}))
    build_components(config({}))
    # with a [task] the run's networks can be built (export --untrained): the options shape them
    build_components(config({"channels": 8}, task={"dataset": "digits", "resize": 16}))
    # an option that changes which cells are proposed is not ignored: NB201's dead_edges
    assert build_components(config({})).space.dead_edges == "keep"  # a table's rows are cells
    assert build_components(config({"dead_edges": "drop"})).space.dead_edges == "drop"


def test_a_trained_nb201_search_proposes_each_network_once(make_config):
    # an edge whose output never reaches the cell output changes nothing: such cells are one network
    config = make_config()
    config.space = {"name": "nb201", "cells_per_stage": 1, "channels": 4}
    space = build_components(config).space
    assert space.dead_edges == "drop"
    assert space.canonical_genome([3, 3, 3, 2, 0, 0]) == "|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|"


@pytest.mark.parametrize("models, message", [
    (["counts", "counts"], r"macs would come from two places \('counts' is listed twice\); keep one"),
    (["counts", "ort", "fake-latency"], r"latency_ms would come from two places \('fake-latency' and 'ort' both give "
                                        r"it\); keep one$"),
])
def test_two_cost_models_giving_one_metric_are_refused(make_config, models, message):
    with pytest.raises(ConfigError, match=message):
        build_components(make_config(cost={"models": models}))


def test_a_table_search_budget_with_no_column_says_to_read_it_from_a_column(tmp_path):
    # a table search has no cost model to add: its costs are the table's columns
    from fakes import write_nb201_table
    from hwnas.table import table_search_config

    write_nb201_table(tmp_path / "t.csv")
    config = table_search_config(space="nb201", table=tmp_path / "t.csv", arch_column="arch_str",
                                 accuracy_column="acc", costs={"latency_ms": "lat"})
    config.budgets["max_params"] = 1e6
    with pytest.raises(ConfigError, match=r"budget max_params needs the metric 'params', .* \(they give latency_ms\); "
                                          r"read it from a column of the table \(--cost params=COLUMN, or "
                                          r"\[cost.table\] metrics\), or drop it"):
        build_components(config)


def test_a_missing_target_file_names_the_config_and_where_its_relative_path_was_looked_for(tmp_path, monkeypatch):
    from hwnas.config import load_config
    from hwnas.exceptions import TargetError

    (tmp_path / "configs").mkdir()
    config = tmp_path / "configs" / "c.toml"
    config.write_text('[task]\ndataset = "digits"\n[space]\nname = "mlp"\n[cost]\ntarget = "mine.toml"\n')
    monkeypatch.chdir(tmp_path)  # the working folder is not the config's
    with pytest.raises(TargetError, match=f"^{config} \\[cost\\] target: target file {tmp_path / 'configs' / 'mine.toml'} "
                                          f"does not exist; check the path$"):
        build_components(load_config(config), with_estimator=False)


@pytest.mark.parametrize("section, key, typo, needle", [
    ("estimator", "name", "fake-acuracy", "[estimator] name: unknown accuracy estimator 'fake-acuracy'"),
    ("cost", "models", ["counts", "fake-latncy"], "[cost] models: unknown cost model 'fake-latncy'"),
])
def test_a_misspelled_part_names_the_config_file_and_key(make_config, section, key, typo, needle):
    # as [space] name and [task] dataset do: a user with several configs sees which one to fix
    from hwnas.config import config_from_dict
    from hwnas.exceptions import RegistryError

    data = make_config().to_dict()
    data[section][key] = typo
    config = config_from_dict(data, source="mine.toml")
    with pytest.raises(RegistryError, match="^" + re.escape(f"mine.toml {needle}; did you mean")):
        build_components(config)


def test_a_misspelled_objective_or_strategy_names_the_config_file_and_key(tmp_path, make_config):
    from hwnas.config import config_from_dict
    from hwnas.exceptions import RegistryError
    from hwnas.search.runner import run_search

    data = make_config().to_dict()
    data["search"]["objectives"] = ["eror", "latency_ms"]
    with pytest.raises(RegistryError, match=r"^mine\.toml \[search\] objectives: unknown objective 'eror'; did you"):
        config_from_dict(data, source="mine.toml")
    data = make_config().to_dict()
    data["search"]["strategy"] = "nsga"
    with pytest.raises(RegistryError, match=r"^mine\.toml \[search\] strategy: unknown search strategy 'nsga'; did"):
        run_search(config_from_dict(data, source="mine.toml"), tmp_path / "r", progress=False)


def test_a_plugin_cost_model_or_estimator_declaring_a_string_is_refused(make_config, monkeypatch):
    # provides = ("params") is a string: it read as the metrics p, a, r..., and the error said
    # "a would come from two places ('counts' is listed twice)"
    from hwnas.cost.models import CountsCostModel
    from hwnas.exceptions import RegistryError
    from fakes import FakeAccuracy

    monkeypatch.setattr(CountsCostModel, "provides", "params")
    with pytest.raises(RegistryError, match=r"^cost model 'counts' \(.*CountsCostModel\) declares provides = 'params', "
                                            r"not a tuple of metric names; declare e\.g\. provides = \('params',\) in "
                                            r"the class$"):
        build_components(make_config())
    monkeypatch.undo()
    monkeypatch.setattr(FakeAccuracy, "metrics", "error_pct")
    with pytest.raises(RegistryError, match=r"^estimator 'fake-accuracy' .* declares metrics = 'error_pct', not a tuple"):
        build_components(make_config())


def test_a_training_estimator_whose_error_no_objective_reads_is_noted(make_config):
    # the README's zero-cost block paired zero-cost-filtered with objectives zc_score and
    # latency_ms: every kept candidate was trained for a figure the search never read
    config = make_config(estimator={"name": "zero-cost-filtered", "warmup": 2, "epochs": 1},
                         search={"evaluations": 6, "objectives": ["zc_score", "latency_ms"]})
    assert build_components(config).notes == [
        "[estimator] 'zero-cost-filtered' trains candidates, but no [search] objective reads their error (objectives: "
        "zc_score, latency_ms), so the search never uses what training measures; add \"error\" to the objectives, "
        "or use an estimator that does not train (zero-cost)"]
    assert build_components(make_config(estimator={"name": "zero-cost-filtered", "warmup": 2, "epochs": 1},
                                        search={"evaluations": 6})).notes == []  # error is an objective
    assert build_components(make_config(estimator={"name": "zero-cost"}, search={"objectives": ["zc_score", "params"]},
                                        space={"lrs": [0.01], "optimizers": ["adam"], "dropouts": [0.0]})).notes == []
