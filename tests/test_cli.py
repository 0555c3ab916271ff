"""The CLI in-process: search/pick/export/list, and one-line errors with exit code 2."""

import json
import os
import sys
import textwrap

import onnx
import pytest

from fakes import MLP_CONFIG
from hwnas.cli import main

GOOD = MLP_CONFIG


def _write(tmp_path, text, name="c.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return str(p)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    assert main(["search", _write(tmp, GOOD), "--out", str(tmp / "run"), "--no-progress"]) == 0
    return tmp / "run"


def test_search_prints_where_the_front_is(run_dir, capsys):
    assert (run_dir / "front.csv").is_file()


def test_a_second_search_into_a_run_s_folder_is_told_the_flags(run_dir, cli_error):
    import pickle

    from hwnas.exceptions import RunExistsError

    line = cli_error(["search", str(run_dir.parent / "c.toml"), "--out", str(run_dir), "--no-progress"],
                     f"{str(run_dir)!r} already holds a search; pass --resume to continue it or choose another --out")
    assert "resume=True" not in line and "run_dir" not in line
    told = RunExistsError(run_dir, "--resume", "--out")
    assert str(pickle.loads(pickle.dumps(told))) == str(told)


def test_a_resume_refused_by_the_stored_run_is_told_the_flags(tmp_path, cli_error):
    # run_search says resume=True and run_dir to a Python caller; the command line says its flags
    config, out = _write(tmp_path, GOOD.replace("population = 8", "population = 2")), str(tmp_path / "r")
    assert main(["search", config, "--out", out, "--evaluations", "4", "--no-progress"]) == 0
    line = cli_error(["search", config, "--out", out, "--evaluations", "6", "--resume", "--no-progress"],
                     "hwnas: error: --resume: search.evaluations: stored 4, given 6; a run cannot be extended; "
                     "search into a new --out")
    assert line.endswith("--out") and "resume=True" not in line and "run_dir" not in line


def test_a_resume_into_a_folder_without_a_run_is_told_the_flags(tmp_path, cli_error):
    out = tmp_path / "none"
    line = cli_error(["search", _write(tmp_path, GOOD), "--out", str(out), "--resume", "--no-progress"],
                     f"hwnas: error: --resume: {str(out)!r} holds no run to resume; drop --resume to start one")
    assert "resume=True" not in line


def test_a_store_s_own_error_is_told_the_flags(tmp_path, cli_error):
    # the store says run_dir to a Python caller (tests/test_store.py); the command line says --out
    (tmp_path / "store.sqlite").write_bytes(b"")
    line = cli_error(["pick", str(tmp_path)], "hwnas: error: ", "store.sqlite: not an hwnas store (no such table: "
                     "evaluations); pass the --out directory of a 'hwnas search'")
    assert line.endswith("'hwnas search'") and "run_dir" not in line, line


def test_a_resume_with_other_cost_models_is_told_the_latency_flag(tmp_path, cli_error):
    from hwnas.store import Store

    config, out = _write(tmp_path, GOOD.replace("population = 8", "population = 2")), tmp_path / "r"
    assert main(["search", config, "--out", str(out), "--evaluations", "4", "--no-progress"]) == 0
    store = Store(out / Store.FILE_NAME)
    store.set_meta("cost_models", ["counts", "lut"])  # e.g. a latency table appeared since
    store.close()
    line = cli_error(["search", config, "--out", str(out), "--evaluations", "4", "--resume",
                      "--no-progress"],
                     "--resume: the run used cost models ['counts', 'lut']")
    assert line.endswith("resume with --latency lut") and "config.cost" not in line, line


def test_pick_knee_and_budget(run_dir, capsys):
    assert main(["pick", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "knee of the front" in out and "arch: h" in out
    assert main(["pick", str(run_dir), "--max-latency-ms", "1000"]) == 0
    assert "best error under max_latency_ms=1000" in capsys.readouterr().out


def test_pick_and_export_leave_the_run_folder_as_they_found_it(run_dir, tmp_path, capsys):
    import csv

    before = sorted(p.name for p in run_dir.iterdir())
    assert not [name for name in before if name.startswith("store.sqlite-")]
    arch = next(csv.DictReader(open(run_dir / "front.csv")))["arch"]
    assert main(["pick", str(run_dir)]) == 0
    assert main(["export", str(run_dir), arch, "-o", str(tmp_path / "m.onnx")]) == 0
    assert sorted(p.name for p in run_dir.iterdir()) == before  # no store.sqlite-wal/-shm left behind


def test_export_writes_onnx_with_trained_weights(run_dir, tmp_path, capsys):
    import csv

    import numpy as np
    import torch

    from hwnas.components import build_components
    from hwnas.cost import make_session
    from hwnas.evaluation import weights_name
    from hwnas.outputs import load_run

    arch = next(csv.DictReader(open(run_dir / "front.csv")))["arch"]
    out = tmp_path / "m.onnx"
    assert main(["export", str(run_dir), arch, "-o", str(out)]) == 0
    onnx.checker.check_model(onnx.load(str(out)))
    assert "wrote" in capsys.readouterr().out
    # the graph computes what the trained (saved) weights compute, not a fresh initialisation
    parts = build_components(load_run(run_dir).config, with_estimator=False)
    x = parts.task.x_val[:1].astype(np.float32)
    onnx_out = make_session(out.read_bytes(), parts.target).run(None, {"input": x})[0]
    fresh = parts.space.build(parts.space.parse(arch)).eval()
    trained = parts.space.build(parts.space.parse(arch)).eval()
    trained.load_state_dict(torch.load(run_dir / "weights" / weights_name(arch), weights_only=True))
    with torch.no_grad():
        assert np.allclose(onnx_out, trained(torch.from_numpy(x)).numpy(), atol=1e-4)
        assert not np.allclose(onnx_out, fresh(torch.from_numpy(x)).numpy(), atol=1e-4)


def test_export_records_and_says_how_the_data_was_scaled_for_the_network(run_dir, tmp_path, capsys):
    import json

    import numpy as np
    from sklearn.datasets import load_digits

    from hwnas.components import build_components
    from hwnas.outputs import load_run

    out = tmp_path / "m.onnx"
    assert main(["export", str(run_dir), "1", "-o", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].startswith("input: x / 16, then (x - x_mean) / x_std (the training split's figures, in the "
                                 "file's metadata_props 'hwnas.preprocessing' as JSON)")
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    pre = json.loads(meta["hwnas.preprocessing"])
    # the recorded figures turn a raw digits image (pixels 0..16) into what the network was trained on
    raw = load_digits().images.reshape(-1, 1, 8, 8)
    task = build_components(load_run(run_dir).config, with_estimator=False).task
    scaled = (raw / pre["pixel_max"] - np.array(pre["x_mean"]).reshape(1, -1, 1, 1)) / np.array(pre["x_std"]).reshape(1, -1, 1, 1)
    assert np.isclose(scaled.mean(), task.x_train.mean(), atol=0.05) and np.isclose(scaled.std(), 1.0, atol=0.05)


def test_an_estimator_that_does_not_train_saves_no_weights_to_export(tmp_path, capsys, cli_error):
    import csv

    config = GOOD.replace('name = "fake-accuracy"', 'name = "zero-cost"').replace(
        "max_layers = 2", 'max_layers = 2\nlrs = [0.003]\noptimizers = ["adam"]\ndropouts = [0.0]').replace(
        '["error", "latency_ms"]', '["zc_score", "latency_ms"]').replace("evaluations = 24", "evaluations = 4")
    run = tmp_path / "zc"
    assert main(["search", _write(tmp_path, config), "--out", str(run), "--no-progress"]) == 0
    assert not (run / "weights").exists()
    arch = next(csv.DictReader(open(run / "front.csv")))["arch"]
    cli_error(["export", str(run), arch, "-o", str(tmp_path / "m.onnx")], "no trained weights",
              "its estimator 'zero-cost' does not train, so the run saved no weights",
              "search with a training estimator (e.g. proxy-trainer), or pass --untrained")
    assert main(["pick", str(run)]) == 0 and "export:" not in capsys.readouterr().out  # nothing to suggest
    # it told to run hwnas compress first, which refuses a run without weights
    err = cli_error(["pick", str(run), "--include-compressed"], "cannot have any: its estimator 'zero-cost' does "
                    "not train", "pick without --include-compressed")
    assert "hwnas compress" not in err


def test_pick_keeps_the_run_s_own_budgets(run_dir, tmp_path, capsys):
    from hwnas.outputs import load_run
    from hwnas.search.objectives import format_budget

    latencies = sorted(ev.metrics["latency_ms"] for ev in load_run(run_dir).evaluations if ev.ok)
    bound = latencies[len(latencies) // 3]
    run = tmp_path / "budget"
    assert main(["search", _write(tmp_path, GOOD + f"[budgets]\nmax_latency_ms = {bound}\n"), "--out", str(run),
                 "--no-progress"]) == 0
    capsys.readouterr()
    by_id = {ev.id: ev for ev in load_run(run).evaluations}
    for extra in ([], ["--max-latency-ms", "1000"]):
        assert main(["pick", str(run)] + extra) == 0
        picked = capsys.readouterr().out
        assert by_id[int(picked.split("evaluation ")[1].split()[0])].metrics["latency_ms"] <= bound, picked
        if extra:  # the run's tighter budget held, not the 1000 asked: said, with both values
            assert (f"budgets: max_latency_ms={format_budget(bound)} is the run's own (tighter than "
                    f"--max-latency-ms 1000); pick always keeps the budgets the run was searched with") in picked
    assert main(["pick", str(run), "--max-latency-ms", format_budget(bound)]) == 0
    assert "budgets:" not in capsys.readouterr().out  # as asked: nothing to say


def test_bad_inputs_give_one_line_and_exit_2(tmp_path, capsys, run_dir, cli_error):
    cli_error(["search", _write(tmp_path, GOOD.replace('"mlp"', '"mpl"')), "--out", str(tmp_path / "a")],
              "unknown search space 'mpl'", "did you mean 'mlp'")
    cli_error(["search", _write(tmp_path, GOOD.replace('"latency_ms"]', '"latency"]')), "--out", str(tmp_path / "b")],
              "unknown objective 'latency'")
    cli_error(["search", _write(tmp_path, GOOD.replace("[space]", "[space")), "--out", str(tmp_path / "c")],
              "malformed TOML", "line")
    cli_error(["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "d"), "--max-latency-ms", "0.000001"],
              "cannot be met", "--max-latency-ms to ", " or more")
    cli_error(["search", _write(tmp_path, GOOD.replace('dataset = "digits"', 'dataset = "npz"\npath = "nowhere.npz"')),
               "--out", str(tmp_path / "e")], "nowhere.npz")
    cli_error(["search", str(tmp_path / "missing.toml")], "not found")
    cli_error(["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "f"), "--max-latency-ms", "-1"],
              "max_latency_ms = -1.0 must be a positive number")
    cli_error(["pick", str(tmp_path)], "holds no hwnas run")
    cli_error(["export", str(run_dir), "h999_relu", "-o", str(tmp_path / "x.onnx")], "cannot parse")
    cli_error(["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "g"), "--workers", "0"],
              "workers = 0 must be an integer >= 1")
    cli_error(["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "h"), "--address", "auto"],
              "--address auto needs --executor ray")
    cli_error(["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "i"), "--executor", "thread"],
              "unknown executor 'thread'")
    for name in "abcdefghi":
        assert not (tmp_path / name).exists()  # nothing written on bad input


def test_too_many_workers_from_the_flag_names_the_flag_not_the_config(tmp_path, cli_error):
    from hwnas.config import max_local_processes

    too_many = str(max_local_processes() + 1)
    err = cli_error(["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "w"), "--workers", too_many],
                    f"--workers {too_many} is more than {max_local_processes()}", "use fewer (--workers)")
    assert "[execution]" not in err  # the config file says nothing about workers
    assert not (tmp_path / "w").exists()


def test_pick_on_a_search_stopped_before_any_evaluation_says_resume(tmp_path, monkeypatch, cli_error):
    from fakes import interrupt_at

    interrupt_at(monkeypatch, 1)  # Ctrl-C during the first evaluation
    assert main(["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "r"), "--no-progress"]) == 130
    monkeypatch.undo()
    err = cli_error(["pick", str(tmp_path / "r")], "holds no evaluation yet", f"--out {tmp_path / 'r'} --resume")
    assert "reason column" not in err  # no evaluation failed
    from hwnas.search.run_folder import exclusive

    with exclusive(tmp_path / "r"):  # the search process, still running: a --resume would be refused
        err = cli_error(["pick", str(tmp_path / "r")], "holds no evaluation yet; its search is still running",
                        "pick again when it has finished")
    assert "--resume" not in err


def test_strategy_flag_drops_the_config_strategys_own_options(tmp_path, capsys, cli_error):
    config = _write(tmp_path, GOOD.replace("evaluations = 24", "evaluations = 6"))
    assert main(["search", config, "--strategy", "random", "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    assert "--strategy random: ignoring [search] population (nsga2's option(s))" in capsys.readouterr().err
    cli_error(["search", _write(tmp_path, GOOD.replace("population = 8", "popsize = 8"), "typo.toml"),
               "--strategy", "random", "--out", str(tmp_path / "t")], "'random' has no option(s) 'popsize'")


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "mbv3" in out and "cpu-ort-1t" in out and "nsga2" in out


def test_interrupt_while_starting_says_nothing_is_stored_not_how_to_resume(tmp_path, capsys, monkeypatch):
    import hwnas.search.runner as runner

    def interrupted(*args, **kwargs):  # Ctrl-C while loading data or timing the table level
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_search", interrupted)
    assert main(["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "r"), "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "interrupted before the search started; nothing is stored" in err and "--resume" not in err


def test_interrupt_while_reading_the_config_is_one_line_and_exit_130(tmp_path, capsys, monkeypatch):
    import hwnas.config

    def interrupted(*args, **kwargs):  # Ctrl-C in the first second: imports, load_config
        raise KeyboardInterrupt

    monkeypatch.setattr(hwnas.config, "load_config", interrupted)
    assert main(["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "r"), "--no-progress"]) == 130
    assert capsys.readouterr().err.strip() == "hwnas: interrupted"


def test_an_error_mid_search_keeps_the_outputs_and_says_how_to_continue(tmp_path, capsys, monkeypatch):
    import csv
    import shlex

    from hwnas.evaluation import Evaluator
    from hwnas.exceptions import DataError

    real, calls = Evaluator.evaluate, {"n": 0}

    def fails_at_the_fifth(self, genome):  # a plugin estimator's user error, mid-run
        calls["n"] += 1
        if calls["n"] == 5:
            raise DataError("the fake's data went away")
        return real(self, genome)

    out = tmp_path / "r"
    argv = ["search", _write(tmp_path, GOOD), "--out", str(out), "--no-progress"]
    with monkeypatch.context() as m:
        m.setattr(Evaluator, "evaluate", fails_at_the_fifth)
        assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"hwnas: error: the fake's data went away; 4 evaluations are stored in {out}; fix this "
                          f"and continue with: hwnas search "), err
    hint = shlex.split(err.split("continue with: ")[1])
    assert hint[-1] == "--resume" and hint[hint.index("--out") + 1] == str(out)
    with open(out / "evaluations.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 4
    assert (out / "front.csv").is_file()
    assert main(hint[1:]) == 0, capsys.readouterr().err


def test_a_config_error_mid_search_says_a_fixed_config_needs_a_new_out(tmp_path, capsys, monkeypatch):
    # "fix this and continue with: ... --resume" led to a refusal: --resume refuses a changed config
    from hwnas.evaluation import Evaluator
    from hwnas.exceptions import ConfigError

    def fails(self, genome):  # e.g. proxy-trainer: batch_size = 1 cannot train a model with batch norm
        raise ConfigError("proxy-trainer: batch_size = 1 cannot train model 'm'")

    monkeypatch.setattr(Evaluator, "evaluate", fails)
    out = tmp_path / "r"
    assert main(["search", _write(tmp_path, GOOD), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith(
        f"hwnas: error: proxy-trainer: batch_size = 1 cannot train model 'm'; 0 evaluations are stored in {out}; "
        f"a changed config cannot resume them: fix the config and search into a new --out (with the config "
        f"unchanged, continue with: hwnas search "), err
    assert err.endswith("--resume)"), err


@pytest.mark.parametrize("error", ["damaged", "plugin class"])
def test_an_error_mid_search_that_cannot_be_resumed_or_rebuilt_is_said_as_it_is(tmp_path, capsys, monkeypatch, error):
    from hwnas.evaluation import Evaluator
    from hwnas.exceptions import DataError, StoreError

    class PluginError(DataError):  # a plugin's error class taking other arguments
        def __init__(self, code, text):
            super().__init__(f"{text} (code {code})")

    def fails(self, genome):
        if error == "damaged":
            damaged = StoreError("store.sqlite: database disk image is malformed: the store is damaged; search again "
                                 "into a new --out")
            damaged.resumable = False
            raise damaged
        raise PluginError(7, "the plugin's data went away")

    monkeypatch.setattr(Evaluator, "evaluate", fails)
    assert main(["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.count("\n") == 0, err
    if error == "damaged":
        assert err.endswith("search again into a new --out") and "--resume" not in err, err
    else:
        assert "the plugin's data went away (code 7); 0 evaluations are stored" in err and err.endswith("--resume"), err


def _interrupt_then_resume_as_printed(monkeypatch, capsys, argv):
    """Ctrl-C at the 3rd evaluation of ``hwnas search argv``, then run the printed hint; its argv."""
    import shlex

    from fakes import interrupt_at

    with monkeypatch.context() as m:
        interrupt_at(m, 3)
        assert main(argv) == 130
    hint = capsys.readouterr().err.strip().splitlines()[-1]
    words = shlex.split(hint)
    assert words[:2] == ["hwnas", "search"] and words[-1] == "--resume", hint
    assert main(words[1:]) == 0, capsys.readouterr().err
    return words


def test_the_resume_hint_keeps_every_override_and_works_as_printed(tmp_path, capsys, monkeypatch):
    config = _write(tmp_path, GOOD)
    out = str(tmp_path / "r")
    words = _interrupt_then_resume_as_printed(monkeypatch, capsys, [
        "search", config, "--evaluations", "6", "--seed", "1", "--max-latency-ms", "1000", "--no-progress",
        "--train-over-budget", "--out", out])
    assert words[1:] == ["search", config, "--evaluations", "6", "--seed", "1", "--no-progress",
                         "--max-latency-ms", "1000.0", "--train-over-budget", "--out", out, "--resume"]
    assert json.loads((tmp_path / "r" / "config.json").read_text())["search"]["train_over_budget"] is True


def test_the_table_search_resume_hint_follows_the_same_rule(tmp_path, capsys, monkeypatch):
    from fakes import write_nb201_table

    table = tmp_path / "nb201.csv"
    write_nb201_table(table)
    out = str(tmp_path / "t")
    words = _interrupt_then_resume_as_printed(monkeypatch, capsys, [
        "search", "--space", "nb201", "--table", str(table), "--arch-column", "arch_str", "--accuracy-column",
        "acc", "--cost", "latency_ms=lat", "--cost", "energy_mj=energy", "--evaluations", "8", "--no-progress",
        "--out", out])
    assert words[1:] == ["search", "--space", "nb201", "--table", str(table), "--arch-column", "arch_str",
                         "--accuracy-column", "acc", "--cost", "latency_ms=lat", "--cost", "energy_mj=energy",
                         "--evaluations", "8", "--no-progress", "--out", out, "--resume"]


def test_an_evaluation_id_the_run_lacks_is_named_as_an_id(run_dir, tmp_path, capsys, cli_error):
    from hwnas.outputs import load_run

    ids = [ev.id for ev in load_run(run_dir).evaluations]
    missing = max(ids) + 18
    for text in (str(missing), "0", "-3"):
        cli_error(["export", str(run_dir), text, "-o", str(tmp_path / "x.onnx")],
                  f"no evaluation {text} in {run_dir} (ids {min(ids)}-{max(ids)})",
                  "give an id or an arch string from front.csv")
    assert not (tmp_path / "x.onnx").exists()
    assert main(["export", str(run_dir), str(ids[0]), "-o", str(tmp_path / "y.onnx")]) == 0  # a real id works


def test_export_to_a_directory_or_under_a_file_is_one_line(run_dir, tmp_path, capsys, cli_error):
    import csv

    with open(run_dir / "front.csv", newline="") as fh:
        arch = next(csv.DictReader(fh))["arch"]
    cli_error(["export", str(run_dir), arch, "-o", str(tmp_path)], "is a directory",
              str(tmp_path / "model.onnx"))
    (tmp_path / "f").write_text("")
    cli_error(["export", str(run_dir), arch, "-o", str(tmp_path / "f" / "m.onnx")],
              "is a file, not a folder")
    assert main(["export", "--help"]) == 0
    assert "not a directory" in capsys.readouterr().out


def test_export_to_a_path_that_cannot_be_written_is_one_line(run_dir, tmp_path, monkeypatch, cli_error):
    import os
    from pathlib import Path

    folder = tmp_path / "ro"
    folder.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != folder and real_access(p, mode))
    cli_error(["export", str(run_dir), "1", "-o", str(folder / "m.onnx")], f"{folder} is not writable")
    monkeypatch.setattr(os, "access", real_access)

    def refuse(self, data):  # what a write into a folder the check cannot foresee (/proc, a full disk) gives
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_bytes", refuse)
    cli_error(["export", str(run_dir), "1", "-o", str(folder / "m.onnx")], "cannot write it (Permission denied)")


def test_latency_flag_is_refused_where_nothing_would_read_it(tmp_path, capsys, cli_error):
    from fakes import write_nb201_table

    table = tmp_path / "nb201.csv"
    write_nb201_table(table)
    cli_error(["search", "--space", "nb201", "--table", str(table), "--arch-column", "arch_str",
               "--accuracy-column", "acc", "--cost", "latency_ms=lat", "--latency", "measure",
               "--out", str(tmp_path / "t")],
              "--latency measure: a table search reads latency_ms from the table's column", "drop --latency")
    cli_error(["search", _write(tmp_path, GOOD), "--latency", "lut", "--out", str(tmp_path / "c")],
              "--latency lut: [cost] models = ['counts', 'memory', 'fake-latency']", "has no latency model")
    assert not (tmp_path / "t").exists() and not (tmp_path / "c").exists()


def test_a_bad_flag_value_is_one_line_too(capsys):
    assert main(["search", "examples/digits.toml", "--evaluations", "abc"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "hwnas search: error: argument --evaluations: invalid int value: 'abc' (see hwnas search --help)"


def test_plugin_modules_are_loaded_by_flag_or_environment(tmp_path, monkeypatch, capsys, cli_error):
    (tmp_path / "userplug.py").write_text(
        "from hwnas.search.strategies import STRATEGIES\n"
        "from hwnas.search.strategies.random import RandomStrategy\n\n\n"
        "@STRATEGIES.register('user-random')\n"
        "class UserRandom(RandomStrategy):\n"
        "    pass\n")
    (tmp_path / "brokenplug.py").write_text("raise RuntimeError('oops')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cli_error(["--plugin", "no_such_plugin", "list"],
              "plugin 'no_such_plugin' cannot be imported (ModuleNotFoundError", "PYTHONPATH")
    cli_error(["--plugin", "brokenplug", "list"], "plugin 'brokenplug' cannot be imported (RuntimeError: oops)")
    monkeypatch.setenv("HWNAS_PLUGINS", "no_such_plugin")  # a name the user did not type says where it came from
    cli_error(["list"], "plugin 'no_such_plugin' (from HWNAS_PLUGINS) cannot be imported", "remove it from HWNAS_PLUGINS")
    monkeypatch.delenv("HWNAS_PLUGINS")
    # a file path where a module name goes: said so, with the command that loads it
    cli_error(["--plugin", str(tmp_path / "userplug.py"), "list"], f"plugin '{tmp_path / 'userplug.py'}' is a file "
              f"path; plugins are loaded by module name: PYTHONPATH={tmp_path} hwnas --plugin userplug ...")
    # after the sub-command: said where it goes
    cli_error(["list", "--plugin", "userplug"], "unrecognized arguments: --plugin userplug; --plugin goes before the "
              "sub-command, e.g. hwnas --plugin MODULE search ...")
    monkeypatch.setenv("HWNAS_PLUGINS", "plugins/userplug.py")
    cli_error(["list"], "(from HWNAS_PLUGINS) is a file path", "PYTHONPATH=plugins HWNAS_PLUGINS=userplug hwnas ...")
    monkeypatch.delenv("HWNAS_PLUGINS")
    try:
        assert main(["--plugin", "userplug", "list"]) == 0
        assert "user-random" in capsys.readouterr().out
        monkeypatch.setenv("HWNAS_PLUGINS", "userplug")
        assert main(["list"]) == 0 and "user-random" in capsys.readouterr().out
    finally:  # no other test's worker processes should look for this module (its strategy is
        sys.modules.pop("userplug", None)  # unregistered by conftest's _registries_restored)


def test_the_resume_hint_keeps_the_plugins(tmp_path):
    from hwnas.cli import _parser
    from hwnas.commands.base import resume_command

    parser, commands = _parser()
    args = parser.parse_args(["--plugin", "userplug", "search", "c.toml", "--seed", "3"])
    hint = resume_command(commands["search"].parser, args, tmp_path / "r", "search")
    assert hint.startswith("hwnas --plugin userplug search c.toml --seed 3 --out ") and hint.endswith("--resume")


def test_commands_say_when_every_candidate_was_over_budget_and_untrained(tmp_path, make_config, cli_error):
    from hwnas.search.runner import run_search

    run = tmp_path / "r"
    summary = run_search(make_config(budgets={"max_latency_ms": 0.013}, search={"evaluations": 8}), run,
                         progress=False)
    assert summary.over_budget == summary.evaluations == 8
    line = cli_error(["pick", str(run)], "no successful evaluation to pick from (of 8, 8 over budget and not trained)",
                     "search again (a new --out) with higher budgets or more evaluations")
    assert "--train-over-budget" not in line  # trained, they are still over the run's budgets: no pick either
    cli_error(["export", str(run), "1", "-o", str(tmp_path / "x.onnx")],
              "evaluation 1 was priced over the run's budgets and not trained (over budget, not trained: latency_ms")
    cli_error(["compress", str(run), "--front", "--prune", "0.5"], "(of 8 evaluations, 8 over budget and not trained)")
    cli_error(["compress", str(run), "--arch", "1", "--prune", "0.5"], "evaluation 1 was priced over the run's budgets")


def test_kill_stops_a_command_as_ctrl_c_does():
    import os
    import signal
    import time

    from hwnas.interrupts import kill_as_interrupt

    for stop in (signal.SIGTERM, signal.SIGHUP):  # kill, and a closed terminal
        before = signal.getsignal(stop)
        with pytest.raises(KeyboardInterrupt):
            with kill_as_interrupt():
                os.kill(os.getpid(), stop)
                time.sleep(5)  # the handler raises at once
        assert signal.getsignal(stop) is before


@pytest.mark.parametrize("flags, named", [
    (["--cost", "latency_ms=lat"], "--cost is a table-search flag"),
    (["--accuracy-column", "acc", "--arch-column", "a"], "--arch-column, --accuracy-column are table-search flags"),
])
def test_table_search_flags_beside_a_config_are_refused_not_ignored(tmp_path, cli_error, flags, named):
    cli_error(["search", _write(tmp_path, GOOD), *flags, "--out", str(tmp_path / "r")], named,
              "give either a config file or the table flags, not both")
    assert not (tmp_path / "r").exists()


def test_an_out_that_is_a_file_is_one_line_before_any_work(tmp_path, cli_error):
    (tmp_path / "f").write_text("")
    cli_error(["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "f")], "is a file; give a folder")
    cli_error(["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "f" / "sub")], "is a file; give a folder")


def test_comma_separated_names_drop_repeats():
    from hwnas.commands.base import names

    assert names("random, nsga2,random,,nsga2") == ["random", "nsga2"]


def test_a_budget_a_plugin_declares_gets_its_flag(plugin_modules, capsys):
    # the parsers are built after the plugins load: --max-train-s exists, and pick is told --plugin
    plugin_modules.write("budgetplug", "from hwnas.search.objectives import BUDGETS, Budget\n"
                                       "BUDGETS.add('max_train_s', Budget('max_train_s', 'train_s', 's'))\n")
    assert main(["--plugin", "budgetplug", "search", "--help"]) == 0
    assert "--max-train-s" in capsys.readouterr().out


def test_a_plugin_budget_in_percent_leaves_help_working(plugin_modules, capsys):
    # its unit went into the flag's help unescaped: --help died in argparse's %-formatting
    plugin_modules.write("pctplug", "from hwnas.search.objectives import BUDGETS, Budget\n"
                                    "BUDGETS.add('max_latency_spread_pct', Budget('max_latency_spread_pct', "
                                    "'latency_spread_pct', '%'))\n")
    for command in ("search", "pick"):
        assert main(["--plugin", "pctplug", command, "--help"]) == 0
        assert "budget: latency_spread_pct <= this (%)" in " ".join(capsys.readouterr().out.split())


def test_the_pick_hint_repeats_the_plugins(capsys):
    from pathlib import Path

    from hwnas.config import config_from_dict
    from hwnas.evaluation import Evaluation
    from hwnas.report import print_search_summary
    from hwnas.search.runner import SearchSummary

    front = [Evaluation("a", [0], "ok", {"error_pct": 1.0, "accuracy_pct": 99.0, "latency_ms": 0.1}, id=1)]
    summary = SearchSummary(Path("/runs/r"), 1, 1, 0, 1, front, 0.1, 1)
    print_search_summary(summary, config_from_dict({"space": {"name": "nb201"}}), plugins=["myparts"])
    assert "next:        hwnas --plugin myparts pick /runs/r\n" in capsys.readouterr().out


@pytest.mark.parametrize("flags, message", [
    (["--seed", str(2**32)], "--seed 4294967296 is out of range; use an integer in [0, 4294967295]"),
    (["--strategy", ""], "--strategy '' names no strategy"),
])
def test_search_flags_out_of_range_are_one_line(tmp_path, cli_error, flags, message):
    cli_error(["search", _write(tmp_path, GOOD), *flags, "--out", str(tmp_path / "r")], message)


@pytest.mark.parametrize("argv", [["--plugin"], ["list", "--plugin"]])
def test_a_plugin_flag_without_a_module_is_one_line(argv, cli_error):
    cli_error(argv)


def test_export_tells_a_missing_weights_file_from_an_estimator_that_does_not_train(run_dir, tmp_path, cli_error):
    import csv
    import shutil

    arch = next(csv.DictReader(open(run_dir / "front.csv")))["arch"]
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / "weights")
    cli_error(["export", str(copy), arch, "-o", str(tmp_path / "m.onnx")], "is missing: moved or deleted",
              "restore it from where the run was searched, or pass --untrained")


def test_pick_under_a_budget_picks_the_most_accurate_when_latency_is_the_first_objective(tmp_path, capsys):
    from hwnas.outputs import load_run

    run = tmp_path / "cost_first"
    config = GOOD.replace('["error", "latency_ms"]', '["latency_ms", "error"]')
    assert main(["search", _write(tmp_path, config), "--out", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    ok = [ev for ev in load_run(run).evaluations if ev.ok]
    assert main(["pick", str(run), "--max-latency-ms", "1000"]) == 0
    out = capsys.readouterr().out
    assert "best error under max_latency_ms=1000" in out, out
    picked = int(out.split("evaluation ")[1].split()[0])
    assert {ev.id: ev for ev in ok}[picked].metrics["error_pct"] == min(ev.metrics["error_pct"] for ev in ok)


def test_include_compressed_on_a_table_run_says_it_cannot_be_compressed(tmp_path, capsys, cli_error):
    from fakes import table_search_argv, write_nb201_table

    table = tmp_path / "nb201.csv"
    write_nb201_table(table)
    run = tmp_path / "t"
    assert main(table_search_argv(table, run, 8)) == 0
    err = cli_error(["pick", str(run), "--include-compressed"], "cannot have any: its config has no [task]",
                    "pick without --include-compressed")
    assert "hwnas compress" not in err


def test_export_says_which_latency_of_the_run_it_prints(tmp_path, capsys, monkeypatch):
    from hwnas import export
    from hwnas.evaluation import Evaluation

    ev = Evaluation("a", [0], "ok", {"latency_ms": 0.0944, "latency_ms_predicted": 0.0944,
                                     "latency_ms_measured": 0.0969}, id=1)
    monkeypatch.setattr(export, "export_run_arch", lambda *a, **k: (ev, tmp_path / "m.onnx"))
    assert main(["export", str(tmp_path), "1", "-o", str(tmp_path / "m.onnx")]) == 0
    assert "(latency_ms 0.0944 predicted, 0.0969 measured in the run)" in capsys.readouterr().out


def test_a_regression_run_is_labelled_with_r_squared(tmp_path, capsys, monkeypatch):
    from hwnas import plots

    labels = []
    real = plots.plot_front
    monkeypatch.setattr(plots, "plot_front", lambda path, evs, front, objectives, budgets: (
        labels.extend(o.label for o in objectives), real(path, evs, front, objectives, budgets)))
    config = GOOD.replace('dataset = "digits"', 'dataset = "diabetes"').replace("evaluations = 24", "evaluations = 8")
    run = tmp_path / "reg"
    assert main(["search", _write(tmp_path, config), "--out", str(run), "--no-progress"]) == 0
    assert labels[0] == "validation 100·(1 − R²) (lower is better)", labels  # pareto.png's y axis
    capsys.readouterr()
    assert main(["pick", str(run)]) == 0
    out = capsys.readouterr().out
    assert "R²=" in out and "accuracy_pct=" not in out, out
    import hwnas.data

    def unloadable(*args, **kwargs):
        raise AssertionError("pick loaded the task's data")

    monkeypatch.setattr(hwnas.data, "load_task", unloadable)  # the run recorded it: no data needed
    assert main(["pick", str(run)]) == 0 and "R²=" in capsys.readouterr().out


def test_a_search_whose_every_evaluation_failed_exits_1_after_writing_its_outputs(tmp_path, capsys):
    from fakes import table_search_argv, write_nb201_table

    table = tmp_path / "nb201.csv"
    write_nb201_table(table)
    rows = table.read_text().splitlines()
    table.write_text("\n".join(rows[:3]) + "\n")  # rows for 2 of 15625 cells: every proposal has none
    run = tmp_path / "t"
    assert main(table_search_argv(table, run, 4)) == 1  # a script or CI sees a run with nothing to pick
    assert "every evaluation failed" in capsys.readouterr().out
    assert len((run / "evaluations.csv").read_text().splitlines()) == 5


def test_search_help_names_the_out_folder_a_table_search_writes_by_default(tmp_path, monkeypatch, capsys):
    from fakes import write_nb201_table

    write_nb201_table(tmp_path / "nb201.csv")
    monkeypatch.chdir(tmp_path)
    assert main(["search", "--space", "nb201", "--table", "nb201.csv", "--arch-column", "arch_str",
                 "--accuracy-column", "acc", "--cost", "latency_ms=lat", "--evaluations", "4", "--no-progress"]) == 0
    assert (tmp_path / "runs" / "nb201-table" / "front.csv").is_file()
    capsys.readouterr()
    monkeypatch.setenv("COLUMNS", "400")  # one line per flag: the check reads the help as written
    assert main(["search", "--help"]) == 0
    assert "runs/<space>-table" in capsys.readouterr().out


def _search_stopped_after_4(tmp_path, monkeypatch, capsys) -> str:
    """A search of GOOD into ``tmp_path / "run"`` stopped by Ctrl-C after 4 evaluations; its config."""
    from fakes import interrupt_at

    config = _write(tmp_path, GOOD)
    with monkeypatch.context() as m:
        interrupt_at(m, 5)
        assert main(["search", config, "--out", str(tmp_path / "run"), "--no-progress"]) == 130
    capsys.readouterr()
    return config


def test_pick_from_a_stopped_search_says_so_and_not_once_it_is_resumed(tmp_path, monkeypatch, capsys):
    config = _search_stopped_after_4(tmp_path, monkeypatch, capsys)
    assert main(["pick", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert (f"note: the search in {tmp_path / 'run'} was stopped (Ctrl-C, kill or an error) after 4 of its "
            in err and "continue it with the same hwnas search command, adding --resume" in err), err
    assert main(["search", config, "--out", str(tmp_path / "run"), "--no-progress", "--resume"]) == 0
    capsys.readouterr()
    assert main(["pick", str(tmp_path / "run")]) == 0
    assert "was stopped" not in capsys.readouterr().err


def test_pick_while_the_search_still_runs_says_so_not_that_it_was_stopped(tmp_path, monkeypatch, capsys):
    from hwnas.search.run_folder import exclusive

    _search_stopped_after_4(tmp_path, monkeypatch, capsys)
    with exclusive(tmp_path / "run"):  # the search process, still writing the run
        assert main(["pick", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "was stopped" not in err and "--resume" not in err, err
    assert (f"note: the search in {tmp_path / 'run'} is still running (pid {os.getpid()}); this pick is among "
            f"the 4 of its " in err and "stored so far; pick again when it has finished" in err), err


def test_every_option_with_a_default_shows_that_default_in_its_help():
    import argparse
    import re

    from hwnas.cli import _parser

    _, commands = _parser()
    checked = []
    for name, command in commands.items():
        for action in command.parser._actions:
            value = action.default
            if not action.option_strings or value in (None, "", [], argparse.SUPPRESS) or isinstance(value, bool):
                continue  # flags, and options resolved later (their help says from what)
            if action.dest == "export_workers":  # the machine's CPU count
                assert "default: the CPU count" in action.help
                continue
            shown = (",".join(map(str, value)) if isinstance(value, list)
                     else f"{value:g}" if isinstance(value, float) else str(value))
            assert re.search(rf"default:? {re.escape(shown)}\b", action.help or ""), \
                f"hwnas {name} {action.option_strings[-1]}: default {shown} not in help {action.help!r}"
            checked.append(f"{name} {action.option_strings[-1]}")
    assert "profile --fidelity" in checked and "bench --peers" in checked


def test_search_flags_that_override_the_config_say_the_config_s_value_is_their_default():
    from hwnas.cli import _parser

    _, commands = _parser()
    helps = {a.dest: a.help for a in commands["search"].parser._actions}
    for dest, key in (("workers", "[execution] workers"), ("executor", "[execution] executor"),
                      ("eval_timeout_s", "[execution] eval_timeout_s"), ("latency", "[cost] latency")):
        assert f"default: {key}, else" in helps[dest], dest


def test_a_plugin_strategy_that_raises_is_told_to_resume_once_its_code_is_fixed(tmp_path, plugin_modules, capsys):
    # a PluginError is a ConfigError too: it was told that a changed config cannot resume the run,
    # though the fix is in the plugin's code and the unchanged config resumes
    plugin_modules.write("raisingstrat", "from hwnas.search.strategies import STRATEGIES\n"
                                         "from hwnas.search.strategies.random import RandomStrategy\n"
                                         "@STRATEGIES.register('audit-raising')\n"
                                         "class Raising(RandomStrategy):\n"
                                         "    def ask(self):\n"
                                         "        raise KeyError('oops')\n")
    argv = ["--plugin", "raisingstrat", "search", _write(tmp_path, GOOD), "--strategy", "audit-raising",
            "--out", str(tmp_path / "r"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "raisingstrat.Raising.ask" in err and "fix this and continue with:" in err, err
    assert "a changed config cannot resume" not in err


def test_an_unreachable_ray_address_blames_where_it_was_given(tmp_path, monkeypatch, cli_error):
    # --address used to be reported as "c.toml [execution]: ...", a key the file did not have
    import types

    from hwnas.execute import ray as ray_executor

    def init(**kwargs):
        raise ConnectionError("Could not find any running Ray instance.\nmore")

    fake = types.SimpleNamespace(is_initialized=lambda: False, init=init)
    monkeypatch.setattr(ray_executor.RayExecutor, "check_requirements", classmethod(lambda cls: None))
    monkeypatch.setattr(ray_executor, "require", lambda module, extra: fake)
    config = _write(tmp_path, GOOD.replace("[search]", '[execution]\nexecutor = "ray"\naddress = "head:6379"\n[search]'))
    line = cli_error(["search", config, "--address", "auto", "--out", str(tmp_path / "a"), "--no-progress"],
                     "error: --address auto: cannot reach a Ray cluster there (ConnectionError: Could not find any "
                     "running Ray instance.); give a running cluster's address (e.g. 'auto' or 'host:6379'), or "
                     "leave --address out to start a local one")
    assert "c.toml" not in line
    monkeypatch.setattr(ray_executor, "_check_reachable", lambda address: None)  # head:6379 is not looked up
    cli_error(["search", config, "--out", str(tmp_path / "b"), "--no-progress"],
              f"error: {config} [execution]: cannot start or reach a Ray cluster at 'head:6379' (ConnectionError: "
              f"Could not find any running Ray instance.); check address (e.g. 'auto' or 'host:6379')")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
