"""A search whose latency comes from a latency table: the front is re-measured on the runtime."""

import csv
import textwrap

import pytest

from fakes import hand_table
from hwnas.cli import main
from hwnas.config import config_from_dict
from hwnas.cost import load_target
from hwnas.cost.device import local_device
from hwnas.search.runner import run_search
from hwnas.space import make_space

TINY = {"name": "mbv3", "widths": [0.5], "depths": [1, 2], "kernels": [3, 5], "expands": [3],
        "stage_channels": [16, 24]}

#: The [task], [space] and [estimator] of a tiny mbv3 run on digits (TINY's space) as TOML.
TINY_TOML = textwrap.dedent("""\
        [task]
        dataset = "digits"
        seed = 0
        [space]
        name = "mbv3"
        widths = [0.5]
        depths = [1, 2]
        kernels = [3, 5]
        expands = [3]
        stage_channels = [16, 24]
        [estimator]
        name = "fake-accuracy"
""")


def _table(tmp_path):
    space = make_space("mbv3", (1, 8, 8), 10, **{k: v for k, v in TINY.items() if k != "name"})
    table = hand_table(space, load_target("cpu-ort-1t"), coef=(1.0, 0.0, 0.0))
    return table.save(tmp_path / "mbv3-1x8x8.json")


def test_lut_search_front_has_predicted_and_measured_latency(tmp_path):
    path = _table(tmp_path)
    config = config_from_dict({
        "task": {"dataset": "digits", "seed": 0}, "space": TINY, "estimator": {"name": "fake-accuracy"},
        "cost": {"target": "cpu-ort-1t", "models": ["counts", "ort"], "latency": "lut", "lut": {"path": str(path)}},
        "search": {"objectives": ["error", "latency_ms"], "evaluations": 8, "population": 4, "seed": 0}})
    summary = run_search(config, tmp_path / "run", progress=False)
    with open(tmp_path / "run" / "front.csv") as fh:
        front = list(csv.DictReader(fh))
    assert len(front) == len(summary.front) >= 1
    for row in front:
        assert float(row["latency_ms"]) == pytest.approx(float(row["latency_ms_predicted"]))
        assert float(row["latency_ms_measured"]) > 0
    with open(tmp_path / "run" / "evaluations.csv") as fh:
        assert "latency_ms_measured" not in next(csv.DictReader(fh))  # only the front is re-measured


def test_gradient_search_prices_its_choices_from_the_search_s_table(tmp_path, monkeypatch, capsys):
    import hwnas.space.supernet as supernet

    monkeypatch.setattr(supernet, "measure_latency", lambda *a, **k: pytest.fail("timed a supernet choice"))
    config = config_from_dict({
        "task": {"dataset": "digits", "max_train_samples": 200, "max_val_samples": 50, "seed": 0}, "space": TINY,
        "estimator": {"name": "fake-accuracy"},
        "cost": {"target": "cpu-ort-1t", "latency": "lut", "lut": {"path": str(_table(tmp_path))}},
        "search": {"strategy": "darts", "objectives": ["error", "latency_ms"], "evaluations": 3, "seed": 0,
                   "warmup_epochs": 0, "search_epochs": 1}})
    assert run_search(config, tmp_path / "run", progress=False).evaluations == 3
    assert " ms; most likely choices" in capsys.readouterr().err


def test_search_latency_lut_without_a_table_names_the_fix(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(textwrap.dedent("""
        [task]
        dataset = "digits"
        [space]
        name = "mbv3"
        [estimator]
        name = "fake-accuracy"
        [cost]
        target = "cpu-ort-1t"
    """))
    assert main(["search", str(config), "--latency", "lut", "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    device = local_device(load_target("cpu-ort-1t"))
    assert f"no latency table for target cpu-ort-1t on {device}, space mbv3, input 1x8x8" in err
    assert "hwnas profile --target" in err and f"--task {config}" in err and "--latency measure" in err
    # the flag asked for the table, not a [cost.lut] section (the config has none)
    assert "[cost.lut]" not in err, err


def test_a_search_says_once_why_it_times_latency_and_export_says_nothing(tmp_path, capsys):
    config = {"task": {"dataset": "digits", "seed": 0}, "space": TINY, "estimator": {"name": "fake-accuracy"},
              "cost": {"target": "cpu-ort-1t"},
              "search": {"objectives": ["error", "latency_ms"], "evaluations": 2, "population": 2, "seed": 0}}
    run_search(config_from_dict(config), tmp_path / "run", progress=False)
    err = capsys.readouterr().err
    assert err.count("hwnas: note: no latency table for target cpu-ort-1t") == 1, err
    with open(tmp_path / "run" / "front.csv") as fh:
        arch = next(csv.DictReader(fh))["arch"]
    assert main(["export", str(tmp_path / "run"), arch, "-o", str(tmp_path / "m.onnx")]) == 0
    assert "note" not in capsys.readouterr().err


def _lut_config(tmp_path, **lut):
    return {"task": {"dataset": "digits", "seed": 0}, "space": TINY, "estimator": {"name": "fake-accuracy"},
            "cost": {"target": "cpu-ort-1t", "models": ["counts", "ort"], "latency": "lut",
                     "lut": {"path": str(_table(tmp_path)), **lut}},
            "search": {"objectives": ["error", "latency_ms"], "evaluations": 6, "population": 4, "seed": 0}}


def _predictions(run_dir):
    with open(run_dir / "evaluations.csv") as fh:
        return {r["arch"]: float(r["latency_ms"]) for r in csv.DictReader(fh)}


def test_a_table_s_level_on_this_machine_scales_its_predictions_once_per_run(tmp_path, monkeypatch, capsys):
    import json

    from hwnas.cost.lut import LutCostModel

    own = run_search(config_from_dict(_lut_config(tmp_path, level=1)), tmp_path / "own", progress=False)
    assert own.evaluations == 6
    monkeypatch.setattr(LutCostModel, "reference_level", lambda self: 0.503)  # a machine twice as fast
    capsys.readouterr()
    given = config_from_dict(_lut_config(tmp_path))
    run_search(given, tmp_path / "fast", progress=False)
    assert "level" not in given.cost["lut"]  # the run records its level, the caller's config stays as given
    # rounded to a multiple of 0.01 (a 0.05 step cost up to 2.5 % of accuracy)
    assert "reference networks at 0.503x its predictions (a CPU of the same name at another speed, or a busy " \
           "machine); every prediction is scaled by 0.5 (" in capsys.readouterr().err
    own_ms, fast_ms = _predictions(tmp_path / "own"), _predictions(tmp_path / "fast")
    assert fast_ms and all(fast_ms[a] == pytest.approx(own_ms[a] / 2) for a in fast_ms if a in own_ms)
    assert json.loads((tmp_path / "fast" / "config.json").read_text())["cost"]["lut"]["level"] == 0.5
    # a resumed session keeps the run's level, whatever this machine measures now
    monkeypatch.setattr(LutCostModel, "reference_level", lambda self: pytest.fail("timed again on resume"))
    config = _lut_config(tmp_path)
    config["search"]["evaluations"] = 6
    assert run_search(config_from_dict(config), tmp_path / "fast", resume=True, progress=False).evaluations == 6
    # within the tolerance the table's own latencies stand (timing noise does not move a run)
    monkeypatch.setattr(LutCostModel, "reference_level", lambda self: 1.015)
    run_search(config_from_dict(_lut_config(tmp_path)), tmp_path / "near", progress=False)
    assert _predictions(tmp_path / "near") == own_ms


def test_a_bad_table_level_is_refused(tmp_path):
    from hwnas.exceptions import ConfigError

    for bad in (0, -1, "fast", True):
        with pytest.raises(ConfigError, match=r"\[cost.lut\]: level = .* must be \"auto\" or a number > 0"):
            run_search(config_from_dict(_lut_config(tmp_path, level=bad)), tmp_path / f"r{bad}", progress=False)


def test_a_run_from_before_table_levels_resumes_with_the_table_s_own_latencies(tmp_path, monkeypatch):
    from hwnas.cost.lut import LutCostModel
    from hwnas.store import Store

    config = _lut_config(tmp_path, level=1)
    run_search(config_from_dict(config), tmp_path / "old", progress=False)
    store = Store(tmp_path / "old" / Store.FILE_NAME)
    stored = store.get_meta("config")
    del stored["cost"]["lut"]["level"]  # as written before [cost.lut] level existed
    store.set_meta("config", stored)
    store.close()
    monkeypatch.setattr(LutCostModel, "reference_level", lambda self: pytest.fail("timed on resume"))
    del config["cost"]["lut"]["level"]
    assert run_search(config_from_dict(config), tmp_path / "old", resume=True, progress=False).evaluations == 6


def test_resume_refuses_a_latency_table_that_changed_since_the_run_started(tmp_path):
    from hwnas.exceptions import StoreError

    config = _lut_config(tmp_path, level=1)
    run_search(config_from_dict(config), tmp_path / "r", progress=False)
    assert run_search(config_from_dict(config), tmp_path / "r", resume=True, progress=False).new_evaluations == 0
    space = make_space("mbv3", (1, 8, 8), 10, **{k: v for k, v in TINY.items() if k != "name"})
    hand_table(space, load_target("cpu-ort-1t"), coef=(2.0, 0.0, 0.0)).save(tmp_path / "mbv3-1x8x8.json")
    with pytest.raises(StoreError, match=r"resume=True: the lut cost model.s source changed since this run started .*"
                                         r"would mix two tables"):
        run_search(config_from_dict(config), tmp_path / "r", resume=True, progress=False)


def test_a_table_predicting_no_positive_latency_for_the_cheapest_net_is_one_error_line(tmp_path):
    from hwnas.exceptions import BudgetError

    space = make_space("mbv3", (1, 8, 8), 10, **{k: v for k, v in TINY.items() if k != "name"})
    path = hand_table(space, load_target("cpu-ort-1t"), coef=(1.0, 0.0, -0.5)).save(tmp_path / "neg.json")
    config = _lut_config(tmp_path, level=1)
    config["cost"]["lut"]["path"] = str(path)
    config["budgets"] = {"max_latency_ms": 1.0}
    with pytest.raises(BudgetError, match=r"cost model 'lut' fails on the cheapest architecture: latency table .*"
                                          r"predicts -[0-9.]+ ms"):
        run_search(config_from_dict(config), tmp_path / "r", progress=False)


def test_a_run_s_config_json_keeps_the_table_found_beside_its_config(tmp_path):
    import json

    from hwnas.config import load_config
    from hwnas.cost.lut_paths import own_table_path

    source = tmp_path / "cfg.toml"
    source.write_text(TINY_TOML + textwrap.dedent("""\
        [cost]
        target = "cpu-ort-1t"
        models = ["counts", "ort"]
        latency = "lut"
        lut = { level = 1 }
        [search]
        objectives = ["error", "latency_ms"]
        evaluations = 6
        population = 4
        seed = 0
        """))
    config = load_config(source)
    table = own_table_path(make_space("mbv3", (1, 8, 8), 10, **{k: v for k, v in TINY.items() if k != "name"}),
                           str(source))
    _table(tmp_path).rename(table)  # the narrowed space's own table, where `hwnas profile` puts it
    run_search(config, tmp_path / "run", progress=False)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["cost"]["lut"]["path"] == str(table.resolve())
    # read from the run folder, the config.json runs on the same table, not on another one (or none)
    run_search(load_config(tmp_path / "run" / "config.json"), tmp_path / "again", progress=False)
    assert _predictions(tmp_path / "again") == _predictions(tmp_path / "run")
    # the first config resumes the run as before
    assert run_search(load_config(source), tmp_path / "run", resume=True, progress=False).evaluations == 6


def test_a_run_on_a_remote_table_resumes_after_this_machine_s_onnxruntime_changed(tmp_path, monkeypatch):
    # its latencies are the remote device's table's: this machine's runtime times nothing of it
    import json

    import onnxruntime

    config = _lut_config(tmp_path)
    path = config["cost"]["lut"]["path"]
    doc = json.loads(open(path).read())
    doc["meta"].update(remote=True, device={"cpu": None, "gpu": "Pixel 7"})
    open(path, "w").write(json.dumps(doc))
    run_search(config_from_dict(config), tmp_path / "r", progress=False)
    monkeypatch.setattr(onnxruntime, "__version__", "99.0.0")
    assert run_search(config_from_dict(config), tmp_path / "r", resume=True, progress=False).new_evaluations == 0


def test_resume_with_latency_measure_names_only_that_change(tmp_path):
    # the level the table run recorded ([cost.lut] level) follows from the change: it is no second one
    from hwnas.exceptions import StoreError

    config = _lut_config(tmp_path)  # level "auto": the run records the level it measured
    run_search(config_from_dict(config), tmp_path / "r", progress=False)
    config["cost"]["latency"] = "measure"  # as --latency measure sets it
    with pytest.raises(StoreError) as err:
        run_search(config_from_dict(config), tmp_path / "r", resume=True, progress=False)
    assert "cost.latency: stored 'lut', given 'measure'" in str(err.value) and "cost.lut" not in str(err.value)


def test_a_run_on_a_remote_table_records_the_table_s_device_and_runtime(tmp_path):
    # its latencies were measured there: this machine's onnxruntime version would misdescribe them
    import json

    from hwnas.outputs import load_run

    config = _lut_config(tmp_path)
    path = config["cost"]["lut"]["path"]
    doc = json.loads(open(path).read())
    doc["meta"].update(remote=True, device={"cpu": "Phone SoC", "gpu": None}, runtime_version="1.17.0")
    open(path, "w").write(json.dumps(doc))
    run_search(config_from_dict(config), tmp_path / "r", progress=False)
    target = load_run(tmp_path / "r").target
    assert target["runtime_version"] == "1.17.0" and target["device"] == {"cpu": "Phone SoC", "gpu": None}
    assert target["remote"] is True
    assert run_search(config_from_dict(config), tmp_path / "r", resume=True, progress=False).new_evaluations == 0


def test_a_search_on_a_remote_table_says_its_latencies_are_predictions(tmp_path, capsys):
    import json

    config = _lut_config(tmp_path)
    path = config["cost"]["lut"]["path"]
    run_search(config_from_dict(config), tmp_path / "local", progress=False)
    assert "not re-measured" not in capsys.readouterr().err  # a table of this machine: its front is re-measured
    doc = json.loads(open(path).read())
    doc["meta"].update(remote=True, device={"cpu": "Phone SoC", "gpu": None})
    open(path, "w").write(json.dumps(doc))
    run_search(config_from_dict(config), tmp_path / "r", progress=False)
    notes = [line for line in capsys.readouterr().err.splitlines() if "not re-measured" in line]
    assert notes == [f"hwnas: note: latency_ms are the predictions of the remote latency table {path}, not "
                     f"re-measured on Phone SoC; time the front there before relying on them"]


def _config_and_its_table_in_latency_tables(tmp_path, monkeypatch, latency="auto"):
    """A config file (so that the rebuild hint asks whether latency_tables/ holds another
    configuration's table) whose table is in (a temporary) latency_tables/; its path."""
    import hwnas.cost.lut_paths as lut_paths

    monkeypatch.setattr(lut_paths, "tables_dir", lambda: tmp_path / "tables")
    space = make_space("mbv3", (1, 8, 8), 10, **{k: v for k, v in TINY.items() if k != "name"})
    target = load_target("cpu-ort-1t")
    table = hand_table(space, target, coef=(1.0, 0.0, 0.0)).save(lut_paths.local_table_path(target, space))
    config = tmp_path / "c.toml"
    config.write_text(TINY_TOML + textwrap.dedent(f"""\
        [cost]
        target = "cpu-ort-1t"
        latency = "{latency}"
        [search]
        objectives = ["error", "latency_ms"]
        evaluations = 2
        seed = 0
        [search.nsga2]
        population = 2
    """))
    return config, table


def _search_with_its_table(config, run_dir):
    import json

    from hwnas.config import load_config

    assert run_search(load_config(config), run_dir, progress=False).evaluations == 2
    assert "lut" in json.loads((run_dir / "config.json").read_text())["cost"]["models"]


@pytest.mark.parametrize("latency", ["auto", "lut"])
def test_a_search_parses_its_latency_table_once(tmp_path, monkeypatch, latency):
    from hwnas.cost.lut_table import LatencyTable

    config, table = _config_and_its_table_in_latency_tables(tmp_path, monkeypatch, latency)
    loads = []
    load = LatencyTable.load.__func__
    monkeypatch.setattr(LatencyTable, "load", classmethod(lambda cls, path: loads.append(path) or load(cls, path)))
    _search_with_its_table(config, tmp_path / "run")
    assert loads == [table]


def test_a_search_loads_its_target_once(tmp_path, monkeypatch):
    import hwnas.cost
    import hwnas.cost.target

    config, _ = _config_and_its_table_in_latency_tables(tmp_path, monkeypatch)
    loads = []
    load = hwnas.cost.target.load_target

    def counted(*args, **kwargs):
        loads.append(args)
        return load(*args, **kwargs)

    monkeypatch.setattr(hwnas.cost.target, "load_target", counted)  # as the modules import it when they call it
    monkeypatch.setattr(hwnas.cost, "load_target", counted)
    _search_with_its_table(config, tmp_path / "run")
    assert loads == [("cpu-ort-1t",)]
