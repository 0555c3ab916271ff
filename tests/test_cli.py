"""The CLI in-process: search/pick/export/list, and one-line errors with exit code 2."""

import textwrap

import onnx
import pytest

from hwnas.cli import main

GOOD = """
[task]
dataset = "digits"
[space]
name = "mlp"
max_layers = 2
[estimator]
name = "fake-accuracy"
[cost]
target = "cpu-ort-1t"
models = ["counts", "memory", "fake-latency"]
[search]
objectives = ["error", "latency_ms"]
evaluations = 24
population = 8
"""


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


def test_pick_knee_and_budget(run_dir, capsys):
    assert main(["pick", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "knee of the front" in out and "arch: h" in out
    assert main(["pick", str(run_dir), "--max-latency-ms", "1000"]) == 0
    assert "best error under max_latency_ms=1000" in capsys.readouterr().out


def test_export_writes_onnx_with_trained_weights(run_dir, tmp_path, capsys):
    import csv

    arch = next(csv.DictReader(open(run_dir / "front.csv")))["arch"]
    out = tmp_path / "m.onnx"
    assert main(["export", str(run_dir), arch, "-o", str(out)]) == 0
    onnx.checker.check_model(onnx.load(str(out)))
    assert "wrote" in capsys.readouterr().out


def _one_line_error(capsys, argv, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("hwnas: error:"), err
    for n in needles:
        assert n in err, err


def test_bad_inputs_give_one_line_and_exit_2(tmp_path, capsys, run_dir):
    _one_line_error(capsys, ["search", _write(tmp_path, GOOD.replace('"mlp"', '"mpl"')), "--out", str(tmp_path / "a")],
                    "unknown search space 'mpl'", "did you mean 'mlp'")
    _one_line_error(capsys, ["search", _write(tmp_path, GOOD.replace('"latency_ms"]', '"latency"]')), "--out", str(tmp_path / "b")],
                    "unknown objective 'latency'")
    _one_line_error(capsys, ["search", _write(tmp_path, GOOD.replace("[space]", "[space")), "--out", str(tmp_path / "c")],
                    "malformed TOML", "line")
    _one_line_error(capsys, ["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "d"), "--max-latency-ms", "0.000001"],
                    "cannot be met", "--max-latency-ms above")
    _one_line_error(capsys, ["search", _write(tmp_path, GOOD.replace('dataset = "digits"', 'dataset = "npz"\npath = "nowhere.npz"')),
                             "--out", str(tmp_path / "e")], "nowhere.npz")
    _one_line_error(capsys, ["search", str(tmp_path / "missing.toml")], "not found")
    _one_line_error(capsys, ["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "f"), "--max-latency-ms", "-1"],
                    "max_latency_ms = -1.0 must be a positive number")
    _one_line_error(capsys, ["pick", str(tmp_path)], "holds no hwnas run")
    _one_line_error(capsys, ["export", str(run_dir), "h999_relu", "-o", str(tmp_path / "x.onnx")], "cannot parse")
    _one_line_error(capsys, ["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "g"), "--workers", "0"],
                    "workers = 0 must be an integer >= 1")
    _one_line_error(capsys, ["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "h"), "--address", "auto"],
                    "--address auto needs --executor ray")
    _one_line_error(capsys, ["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "i"), "--executor", "thread"],
                    "unknown executor 'thread'")
    for name in "abcdefghi":
        assert not (tmp_path / name).exists()  # nothing written on bad input


def test_strategy_flag_drops_the_config_strategys_own_options(tmp_path, capsys):
    config = _write(tmp_path, GOOD.replace("evaluations = 24", "evaluations = 6"))
    assert main(["search", config, "--strategy", "random", "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    assert "--strategy random: ignoring [search] population (nsga2's option(s))" in capsys.readouterr().err
    _one_line_error(capsys, ["search", _write(tmp_path, GOOD.replace("population = 8", "popsize = 8"), "typo.toml"),
                             "--strategy", "random", "--out", str(tmp_path / "t")], "'random' has no option(s) 'popsize'")


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "mbv3" in out and "cpu-ort-1t" in out and "nsga2" in out


def test_interrupt_prints_how_to_resume(tmp_path, capsys, monkeypatch):
    import hwnas.search.runner as runner

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_search", interrupted)
    assert main(["search", _write(tmp_path, GOOD), "--out", str(tmp_path / "r"), "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "interrupted; every finished evaluation is stored" in err and "--resume" in err
