"""What a run directory holds: evaluations.csv, front.csv, config.json, written from evaluations."""

import csv
import json

import pytest

from hwnas.config import config_from_dict
from hwnas.evaluation import Evaluation
from hwnas.outputs import write_outputs
from hwnas.store import Store


def _config(**cost):
    return config_from_dict({
        "task": {"dataset": "digits"}, "space": {"name": "mlp"}, "estimator": {"name": "proxy-trainer"},
        "cost": {"target": "cpu-ort-1t", **cost},
        "search": {"objectives": ["error", "latency_ms"], "evaluations": 3},
        "budgets": {"max_latency_ms": 0.2}})


def _evaluations():
    return [Evaluation("a", [0], "ok", {"error_pct": 5.0, "latency_ms": 0.1}, id=1),
            Evaluation("b", [1], "ok", {"error_pct": 2.0, "latency_ms": 0.3}, id=2),  # over budget
            Evaluation("c", [2], "failed", {"error_pct": 1.0}, "MissingEntry: blank cell", id=3)]


def test_config_json_names_the_cost_models_the_run_used(tmp_path):
    store = Store(tmp_path / Store.FILE_NAME)
    store.set_meta("cost_models", ["counts", "memory", "lut"])  # [cost] latency resolved to the table
    store.close()
    config = _config()
    write_outputs(tmp_path, config, _evaluations())
    written = json.loads((tmp_path / "config.json").read_text())
    assert written["cost"] == {"target": "cpu-ort-1t", "models": ["counts", "memory", "lut"]}
    assert "models" not in config.cost  # the config itself is left as given
    assert config_from_dict(written).cost["models"] == ["counts", "memory", "lut"]  # still a config


def test_outputs_without_a_store_write_the_config_as_given(tmp_path):
    write_outputs(tmp_path, _config(models=["counts", "ort"]), _evaluations())
    assert json.loads((tmp_path / "config.json").read_text())["cost"]["models"] == ["counts", "ort"]


def test_csvs_keep_failed_rows_and_the_front_respects_budgets(tmp_path):
    write_outputs(tmp_path, _config(), _evaluations())
    with open(tmp_path / "evaluations.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["id"], r["status"], r["feasible"]) for r in rows] == [
        ("1", "ok", "True"), ("2", "ok", "False"), ("3", "failed", "False")]
    assert rows[2]["latency_ms"] == "" and rows[2]["reason"] == "MissingEntry: blank cell"
    with open(tmp_path / "front.csv") as fh:
        assert [r["id"] for r in csv.DictReader(fh)] == ["1"]


def test_a_rewritten_file_is_replaced_whole_or_not_at_all(tmp_path):
    import pytest

    from hwnas.outputs import replace_file, write_csv

    path = tmp_path / "rows.csv"
    write_csv(path, [{"a": 1}], ["a"])
    with pytest.raises(KeyboardInterrupt):
        with replace_file(path) as fh:
            fh.write("a\n1\n2\n")
            raise KeyboardInterrupt  # Ctrl-C mid-write
    assert path.read_text().splitlines() == ["a", "1"] and not list(tmp_path.glob("*.part"))


def test_a_table_run_s_plot_names_the_table_s_accuracy_column(tmp_path, monkeypatch):
    import hwnas.plots
    from hwnas.table import table_search_config

    seen = []
    monkeypatch.setattr(hwnas.plots, "plot_front", lambda path, evs, front, objectives, budgets: seen.append(objectives))
    path = tmp_path / "t.csv"
    path.write_text("arch,acc,lat\n")
    config = table_search_config(space="nb201", table=path, arch_column="arch", accuracy_column="test_acc",
                                 costs={"latency_ms": "lat"})
    write_outputs(tmp_path, config, _evaluations())
    write_outputs(tmp_path, _config(), _evaluations())
    assert [o.label for o in seen[0]] == ["error (%): 100 − test_acc", "latency (ms)"]
    assert seen[1][0].label == "validation error (%)"  # a trained run: the declared label


def test_a_run_s_config_keeps_the_latency_table_s_options_only_where_a_table_was_read():
    from hwnas.outputs import as_run

    data = {"cost": {"target": "cpu-ort-1t", "lut": {"level": 1.0}}, "search": {"strategy": "nsga2"}}
    assert as_run(data, ["counts", "ort"], None)["cost"] == {"target": "cpu-ort-1t", "models": ["counts", "ort"]}
    assert as_run(data, ["counts", "lut"], None)["cost"]["lut"] == {"level": 1.0}
    assert data["cost"]["lut"] == {"level": 1.0}  # the config itself is left as given


def test_reading_a_run_writes_nothing_to_its_store(tmp_path):
    """``hwnas pick``/``export`` read a run (perhaps on read-only media, or another user's) without
    writing: the store's journal mode, here a copy's rollback journal, is left as it is."""
    import sqlite3

    from hwnas.outputs import load_run

    store = Store(tmp_path / Store.FILE_NAME)
    store.set_meta("config", _config().to_dict())
    store.add(_evaluations()[0])
    store.close()
    db = sqlite3.connect(tmp_path / Store.FILE_NAME)
    db.execute("PRAGMA journal_mode=DELETE")
    db.close()
    assert [e.arch for e in load_run(tmp_path).evaluations] == ["a"]
    db = sqlite3.connect(tmp_path / Store.FILE_NAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # no switch to WAL: nothing written
    db.close()


def test_a_search_leaves_no_wal_files_behind(tmp_path, make_config):
    from hwnas.search.runner import run_search

    run_search(make_config(search={"evaluations": 6}), tmp_path / "r", progress=False)
    assert not list((tmp_path / "r").glob("store.sqlite-*"))  # its last connection checkpoints the WAL


def test_a_run_whose_evaluations_all_failed_has_the_columns_of_one_that_did_not(tmp_path):
    # the estimator's metrics are columns whatever happened, so runs of one config can be compared and joined
    failed = [Evaluation("a", [0], "failed", {}, "MissingEntry: no row", id=1)]
    (tmp_path / "failed").mkdir()
    (tmp_path / "ok").mkdir()
    write_outputs(tmp_path / "failed", _config(), failed)
    write_outputs(tmp_path / "ok", _config(), _evaluations())
    for name in ("evaluations.csv", "front.csv"):
        headers = [(tmp_path / run / name).read_text().splitlines()[0] for run in ("failed", "ok")]
        assert headers[0] == headers[1] and "accuracy_pct" in headers[0], headers


def test_a_run_whose_data_is_gone_says_to_restore_it_not_to_edit_a_config(tmp_path, make_config, cli_error):
    import numpy as np

    from hwnas.exceptions import DataError
    from hwnas.outputs import load_run
    from hwnas.search.runner import run_search

    path = tmp_path / "d.npz"
    np.savez(path, x=np.random.default_rng(0).normal(size=(40, 3)), y=np.arange(40) % 2)
    run_search(make_config(task={"dataset": "npz", "path": str(path)}, search={"evaluations": 4}),
               tmp_path / "r", progress=False)
    path.unlink()
    message = (f"{tmp_path / 'r'}: the data it was searched on cannot be read now (npz: file '{path}' does not "
               "exist); networks are rebuilt from it: restore it where the run read it")
    with pytest.raises(DataError) as info:
        load_run(tmp_path / "r").components()
    assert str(info.value) == message
    assert cli_error(["export", str(tmp_path / "r"), "1", "-o", str(tmp_path / "m.onnx")]) == f"hwnas: error: {message}"


def test_a_run_whose_data_file_changed_refuses_to_export_or_compress_its_networks(tmp_path, make_config, cli_error):
    # export and compress rebuild the task from [task] path: data changed since would give the
    # exported file another scaling (same shape), or a traceback (other width or classes)
    import numpy as np

    from hwnas.search.runner import run_search

    path, rng = tmp_path / "d.npz", np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    np.savez(path, x=x, y=x.sum(axis=1))
    run_search(make_config(task={"dataset": "npz", "path": str(path)},
                           estimator={"name": "proxy-trainer", "epochs": 1},
                           search={"evaluations": 2, "population": 2}), tmp_path / "r", progress=False)
    message = (f"hwnas: error: {tmp_path / 'r'}: the data of [task] dataset 'npz' ({path}) changed since this run "
               "was searched, so its networks and their scaling belong to other data; restore the data it was "
               "searched on, or search the new data into a new --out")
    np.savez(path, x=10 * x, y=x.sum(axis=1))  # same shapes, other scaling
    assert cli_error(["export", str(tmp_path / "r"), "1", "-o", str(tmp_path / "m.onnx")]) == message
    np.savez(path, x=rng.normal(size=(40, 4)), y=np.arange(40) % 2)  # another width, classes
    assert cli_error(["compress", str(tmp_path / "r"), "--arch", "1", "--prune", "0.5"]) == message
    assert not (tmp_path / "m.onnx").exists()


def test_a_front_row_re_measured_over_a_budget_is_marked_infeasible(tmp_path, capsys):
    # chosen on its predicted 0.1 ms, re-measured at 0.25 ms: front.csv said feasible = True for a
    # row hwnas pick (which judges the measured figure) never picks
    write_outputs(tmp_path, _config(), _evaluations(),
                  verify=lambda archs: [{"latency_ms_predicted": 0.1, "latency_ms_measured": 0.25} for _ in archs])
    for name, feasible in (("front.csv", "False"), ("evaluations.csv", "True")):  # the search saw 0.1 ms
        with open(tmp_path / name) as fh:
            assert next(csv.DictReader(fh))["feasible"] == feasible, name
    assert ("1 of the 1 front row (id 1) re-measured over the budgets (max_latency_ms=0.2): feasible = False in "
            "front.csv, and hwnas pick leaves it out") in capsys.readouterr().err
    write_outputs(tmp_path, _config(), _evaluations(),
                  verify=lambda archs: [{"latency_ms_predicted": 0.1, "latency_ms_measured": 0.15} for _ in archs])
    with open(tmp_path / "front.csv") as fh:
        assert next(csv.DictReader(fh))["feasible"] == "True"
    assert "re-measured over" not in capsys.readouterr().err


def test_a_run_whose_store_lost_its_config_is_not_called_never_started(tmp_path):
    from hwnas.exceptions import StoreError
    from hwnas.outputs import load_run

    store = Store(tmp_path / Store.FILE_NAME)  # what a refused --resume leaves of an emptied store
    store.close()
    write_outputs(tmp_path, _config(), _evaluations())
    with pytest.raises(StoreError, match=r"has lost its run's config \(an emptied or damaged file\), so its results "
                                         r"cannot be read back \(evaluations.csv still lists them\); search again "
                                         r"into a new --out$"):
        load_run(tmp_path)
    (tmp_path / "evaluations.csv").unlink()
    with pytest.raises(StoreError, match="the run never started"):
        load_run(tmp_path)


def test_a_loaded_run_gives_its_front_as_front_csv_lists_it(tmp_path, make_config):
    from hwnas.outputs import load_run
    from hwnas.search.runner import run_search

    free = run_search(make_config(), tmp_path / "free", progress=False)
    bound = sorted(e.metrics["latency_ms"] for e in free.front)[len(free.front) // 2]
    summary = run_search(make_config(budgets={"max_latency_ms": bound}), tmp_path / "r", progress=False)
    with open(tmp_path / "r" / "front.csv") as fh:
        listed = [row["arch"] for row in csv.DictReader(fh)]
    front = load_run(tmp_path / "r").front
    assert [ev.arch for ev in front] == listed == [ev.arch for ev in summary.front] and len(listed) >= 2
    assert all(ev.metrics["latency_ms"] <= bound for ev in front)  # the run's own budgets apply


def test_a_run_searched_with_a_plugin_names_it_when_it_is_not_loaded(tmp_path, make_config, plugin_modules):
    # export and compress rebuild the run's parts: an unknown space must say which --plugin the run used
    from hwnas.exceptions import CLI_WORDS, RegistryError
    from hwnas.outputs import load_run
    from hwnas.search.runner import run_search

    __import__(plugin_modules.write("audit_space_plugin", "from hwnas.space import SPACES\n"
                                                          "from hwnas.space.mlp import MLPSpace\n"
                                                          "SPACES.register('audit-plugin-mlp')"
                                                          "(type('PluginMLP', (MLPSpace,), {}))\n"))
    run_search(make_config(space={"name": "audit-plugin-mlp"}, search={"evaluations": 4}), tmp_path / "r",
               progress=False)
    plugin_modules.unload()  # as on a machine that received the run without the plugin
    with pytest.raises(RegistryError, match=r"unknown search space 'audit-plugin-mlp'; .*; the run was searched with "
                                            r"the plugin\(s\) audit_space_plugin loaded: load them too, e\.g\. "
                                            r"import audit_space_plugin$") as caught:  # a script's words
        load_run(tmp_path / "r").components()
    assert caught.value.said(CLI_WORDS).endswith("e.g. hwnas --plugin audit_space_plugin ...")  # the CLI's


@pytest.mark.parametrize("given", ["exports/", "exports/onnx/"])
def test_an_output_file_path_ending_in_a_slash_is_refused_not_written_as_a_file(tmp_path, monkeypatch, given):
    # Path("exports/") is Path("exports"): hwnas export -o exports/ wrote a file named exports
    from hwnas.exceptions import ConfigError
    from hwnas.outputs import check_file_to_write

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        check_file_to_write(given, "-o", "the ONNX file to write", "model.onnx")
    assert str(err.value) == (f"-o {given} names a folder; give the ONNX file to write, "
                              f"e.g. -o {given}model.onnx")
    assert list(tmp_path.iterdir()) == []


def test_a_loaded_run_picks_as_hwnas_pick_does(tmp_path, make_config, capsys):
    # hwnas.pick(run.front, ...) failed on Evaluation objects; a notebook picks from the Run
    from hwnas.cli import main
    from hwnas.exceptions import BudgetError
    from hwnas.outputs import load_run
    from hwnas.search.runner import run_search

    run_search(make_config(), tmp_path / "r", progress=False)
    run = load_run(tmp_path / "r")
    bound = sorted(e.metrics["latency_ms"] for e in run.front)[len(run.front) // 2]
    for budgets, flags in (({"max_latency_ms": bound}, ["--max-latency-ms", repr(bound)]), (None, [])):
        chosen = run.pick(budgets)
        assert main(["pick", str(tmp_path / "r"), *flags]) == 0
        assert f"arch: {chosen.arch}" in capsys.readouterr().out
    assert run.pick({"max_latency_ms": bound}).metrics["latency_ms"] <= bound
    with pytest.raises(BudgetError, match=r"no evaluated architecture meets max_latency_ms=1e-09"):
        run.pick({"max_latency_ms": 1e-9})


def test_an_nb201_cell_typed_with_dead_edges_names_the_network_the_run_evaluated(tmp_path, make_config):
    # `hwnas export RUN '<cell with a dead edge>'` said "not evaluated there" of a network the run
    # had trained, as the cell with that edge none
    from hwnas.outputs import load_run
    from hwnas.search.runner import run_search
    from hwnas.space import make_space
    from hwnas.space.nb201 import EDGES

    data = make_config(search={"evaluations": 6, "population": 4}).to_dict()
    data["space"] = {"name": "nb201", "cells_per_stage": 1, "channels": 4}
    run_search(config_from_dict(data), tmp_path / "r", progress=False)
    run, space = load_run(tmp_path / "r"), make_space("nb201", (1, 8, 8), 10)
    ev = next(e for e in run.evaluations if "none" in space.parse(e.arch))
    cell = list(space.parse(ev.arch))
    dead = next(i for i, (to, frm) in enumerate(EDGES) if cell[i] == "none"
                and space.decode(space.encode([*cell[:i], "nor_conv_3x3", *cell[i + 1:]])) == tuple(cell))
    cell[dead] = "nor_conv_3x3"
    assert run.resolve_arch(space, space.canonical(tuple(cell))) == ev.arch
    # a run that kept dead edges (a table's, or one from before they were dropped) names its own cells
    kept = make_space("nb201", (1, 8, 8), 10, dead_edges="keep")
    data["space"]["dead_edges"] = "keep"
    run_search(config_from_dict(data), tmp_path / "kept", progress=False)
    stored = load_run(tmp_path / "kept").evaluations
    assert any(space.canonical(space.decode(space.encode(space.parse(e.arch)))) != e.arch for e in stored)
    for e in stored:
        assert load_run(tmp_path / "kept").resolve_arch(space, e.arch) == e.arch == kept.canonical(kept.parse(e.arch))


def test_the_plugins_a_run_needs_are_said_in_the_callers_words():
    # a script was told to pass hwnas --plugin flags; it imports the modules
    from hwnas.exceptions import CLI_WORDS, RegistryError
    from hwnas.outputs import _plugins_hint

    exc = _plugins_hint(RegistryError("unknown budget 'max_b'"), ["audit_a", "audit_b"])
    assert str(exc) == ("unknown budget 'max_b'; the run was searched with the plugin(s) audit_a, audit_b loaded: "
                        "load them too, e.g. import audit_a, audit_b")
    assert exc.said(CLI_WORDS).endswith("load them too, e.g. hwnas --plugin audit_a --plugin audit_b ...")
