"""A ``--resume``'s checks against the stored run (:mod:`hwnas.search.resume`): config, target,
cost models, data, results version."""

import pytest

from hwnas.exceptions import StoreError
from hwnas.search.runner import run_search
from hwnas.store import Store


def _own_target(tmp_path):
    """A copy of targets/cpu-ort-1t.toml the test may edit."""
    import shutil
    from pathlib import Path

    import hwnas

    toml = tmp_path / "mine.toml"
    shutil.copy(Path(hwnas.__file__).parent.parent / "targets" / "cpu-ort-1t.toml", toml)
    return toml


@pytest.mark.parametrize("version", [None, 2, 99])  # 2: before NB201 node sums in peak memory
def test_resume_refuses_a_run_stored_by_another_results_version(tmp_path, make_config, version):
    run_search(make_config(search={"evaluations": 8}), tmp_path / "r", progress=False)
    store = Store(tmp_path / "r" / "store.sqlite")
    store.set_meta("results_version", version)  # None: stored before versions were recorded
    store.close()
    which = "a newer" if version == 99 else "an older"
    with pytest.raises(StoreError, match=rf"stored by {which} hwnas \(results version {version or 1}, this one 3.*"
                                         r"search again into a new run_dir$"):
        run_search(make_config(search={"evaluations": 12}), tmp_path / "r", resume=True, progress=False)
    from hwnas.outputs import load_run

    assert len(load_run(tmp_path / "r").evaluations) == 8  # still readable


def _run_as_if_with_a_table(config, run_dir):
    """A search whose store says it read a latency table (cost models counts and lut)."""
    run_search(config, run_dir, progress=False)
    store = Store(run_dir / "store.sqlite")
    store.set_meta("cost_models", ["counts", "lut"])
    store.close()


def test_resume_refuses_other_cost_models(tmp_path, make_config):
    # e.g. a latency table appeared between sessions and `latency = "auto"` would now pick it
    _run_as_if_with_a_table(make_config(search={"evaluations": 8}), tmp_path / "r")
    with pytest.raises(StoreError, match=r"used cost models \['counts', 'lut'\].*resume with "
                                         r"config.cost\['latency'\] = 'lut'$"):
        run_search(make_config(search={"evaluations": 8}), tmp_path / "r", resume=True, progress=False)


def test_resume_names_a_changed_target_before_the_cost_models_its_table_then_refuses(tmp_path, make_config):
    # the run read a table built for batch 1; batch 8 in the target file made the table refuse it,
    # and the resume said "resume with --latency lut", which the table refuses too
    toml = _own_target(tmp_path)
    config = make_config(cost={"target": str(toml)}, search={"evaluations": 8})
    _run_as_if_with_a_table(config, tmp_path / "r")
    toml.write_text(toml.read_text().replace("batch_size = 1", "batch_size = 8"))
    with pytest.raises(StoreError, match=r"^resume=True: target 'cpu-ort-1t' differs from the stored run's: batch_size: "
                                         r"stored 1, now 8; "):
        run_search(config, tmp_path / "r", resume=True, progress=False)


def test_resume_names_each_changed_key_with_both_values(tmp_path, make_config):
    run_search(make_config(search={"evaluations": 8}), tmp_path / "r", progress=False)
    changed = make_config(search={"evaluations": 6, "strategy": "random"}, budgets={"max_latency_ms": 5.0})
    del changed.search["population"]
    with pytest.raises(StoreError, match=r"differs from the stored run: budgets.max_latency_ms: stored \(not set\), "
                                         r"given 5.0; search.evaluations: stored 8, given 6; search.population: "
                                         r"stored 8, given \(not set\); search.strategy: stored 'nsga2', given "
                                         r"'random'; resume"):
        run_search(changed, tmp_path / "r", resume=True, progress=False)


def test_a_larger_budget_on_resume_is_refused_as_an_extension(tmp_path, make_config):
    run_search(make_config(search={"evaluations": 8}), tmp_path / "r", progress=False)
    with pytest.raises(StoreError, match=r"^resume=True: search.evaluations: stored 8, given 12; a run cannot be "
                                         r"extended; search into a new run_dir$"):
        run_search(make_config(search={"evaluations": 12}), tmp_path / "r", resume=True, progress=False)


def test_resume_refuses_a_target_file_that_changed(tmp_path, make_config):
    toml = _own_target(tmp_path)
    config = make_config(cost={"target": str(toml)}, search={"evaluations": 8})
    run_search(config, tmp_path / "r", progress=False)
    text = toml.read_text()
    toml.write_text(text.replace('description = "', 'description = "reworded: '))  # words may change
    run_search(config, tmp_path / "r", resume=True, progress=False)
    toml.write_text(text.replace("batch_size = 1", "batch_size = 8").replace("intra_op_threads = 1",
                                                                             "intra_op_threads = 2"))
    with pytest.raises(StoreError, match=r"^resume=True: target 'cpu-ort-1t' differs from the stored run's: batch_size: "
                                         r"stored 1, now 8; intra_op_threads: stored 1, now 2; its numbers would "
                                         r"mix two settings: restore the target \(and runtime\) it ran with, or "
                                         r"search into a new run_dir$"):
        run_search(config, tmp_path / "r", resume=True, progress=False)
    store = Store(tmp_path / "r" / Store.FILE_NAME)
    assert store.get_meta("target")["batch_size"] == 1  # the stored run's target is kept
    store.close()


def test_resume_refuses_data_that_changed_since_the_run_started(tmp_path, make_config):
    import numpy as np

    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(path, x=rng.normal(size=(60, 4)), y=np.arange(60) % 3)
    config = make_config(task={"dataset": "npz", "path": str(path)}, search={"evaluations": 8})
    run_search(config, tmp_path / "r", progress=False)
    run_search(config, tmp_path / "r", resume=True, progress=False)  # the same data resumes
    np.savez(path, x=rng.normal(size=(60, 4)), y=np.arange(60) % 3)
    with pytest.raises(StoreError, match=rf"^resume=True: the data of \[task\] dataset 'npz' \({path}\) changed since "
                                         r"this run started, so its errors would mix two datasets: restore the data "
                                         r"it ran on, or search into a new run_dir$"):
        run_search(config, tmp_path / "r", resume=True, progress=False)


def test_a_larger_budget_than_the_population_on_resume_is_refused_as_an_extension(tmp_path, make_config):
    # nsga2 cuts its population to a smaller budget, so it changes with the budget: not a second reason
    run_search(make_config(search={"evaluations": 3, "population": 16}), tmp_path / "r", progress=False)
    with pytest.raises(StoreError, match=r"^resume=True: search.evaluations: stored 3, given 4; a run cannot be "
                                         r"extended; search into a new run_dir$"):
        run_search(make_config(search={"evaluations": 4, "population": 16}), tmp_path / "r", resume=True,
                   progress=False)


def test_the_config_a_run_came_from_resumes_it_after_its_config_json_did(tmp_path, make_config):
    # a resume from config.json stored its [cost] models; the config that left them implicit
    # was then refused: "cost.models: stored ['counts', 'memory', 'ort'], given (not set)"
    from hwnas.config import load_config

    def implicit():
        config = make_config(search={"evaluations": 4, "population": 2, "objectives": ["error", "params"]})
        del config.cost["models"]
        return config

    run_search(implicit(), tmp_path / "r", progress=False)
    as_run = load_config(tmp_path / "r" / "config.json")
    assert as_run.cost["models"] == ["counts", "memory", "ort"]
    for config in (as_run, implicit(), as_run):
        assert run_search(config, tmp_path / "r", resume=True, progress=False).new_evaluations == 0


def test_resume_refuses_an_nb201_run_stored_before_dead_edges_were_dropped(tmp_path, make_config):
    # such a run stored cells with dead edges: the replay proposed their networks in the new
    # canonical form, missed the stored ones and trained those networks a second time
    from hwnas.config import config_from_dict

    data = make_config(search={"evaluations": 6, "population": 4}).to_dict()
    data["space"] = {"name": "nb201", "cells_per_stage": 1, "channels": 4}
    config = config_from_dict(data)
    run_search(config, tmp_path / "r", progress=False)
    store = Store(tmp_path / "r" / "store.sqlite")
    space = store.get_meta("space")
    del space["dead_edges"]  # what hwnas recorded before the option existed
    store.set_meta("space", space)
    store.close()
    with pytest.raises(StoreError, match=r"^resume=True: space 'nb201' differs from the stored run's \(dead_edges: "
                                         r"stored \(not set\), now 'drop'\).*search again into a new run_dir$"):
        run_search(config, tmp_path / "r", resume=True, progress=False)
    run_search(make_config(search={"evaluations": 8}), tmp_path / "mlp", progress=False)
    run_search(make_config(search={"evaluations": 8}), tmp_path / "mlp", resume=True, progress=False)  # same space


def test_an_nb201_table_run_stored_before_dead_edges_existed_resumes(tmp_path, capsys):
    # a table search keeps dead edges, as every table search did before the option: its cells
    # read as they were stored, and it builds no network whose pricing changed
    from fakes import table_search_argv, write_nb201_table

    from hwnas.cli import main

    write_nb201_table(tmp_path / "t.csv")
    argv = table_search_argv(tmp_path / "t.csv", tmp_path / "r", 40)
    assert main(argv) == 0
    store = Store(tmp_path / "r" / "store.sqlite")
    space = store.get_meta("space")
    assert space.pop("dead_edges") == "keep"
    store.set_meta("space", space)
    store.close()
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0, capsys.readouterr().err
    assert "evaluations: 40 (0 new this session" in capsys.readouterr().out
