"""The ``hwnas profile`` command (:mod:`hwnas.commands.profile`): argument checks before any work,
where the table goes, and what it says about it."""

import json
import textwrap

import pytest

from hwnas.cli import main
from hwnas.space import make_space


def test_cli_profile_writes_the_table(tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(textwrap.dedent("""
        [task]
        dataset = "digits"
        [space]
        name = "mbv3"
        widths = [0.5]
        depths = [1]
        kernels = [3, 5]
        expands = [3]
        stage_channels = [16, 24]
        [cost]
        target = "cpu-ort-1t"
    """))
    out = tmp_path / "table.json"
    assert main(["profile", "--target", "cpu-ort-1t", "--space", "mbv3", "--task", str(config), "--out", str(out),
                 "--calibration", "1", "--fidelity", "1", "--passes", "2", "--runs-per-pass", "2",
                 "--no-device-report"]) == 0
    data = json.loads(out.read_text())
    assert data["meta"]["space"]["input_shape"] == [1, 8, 8] and data["meta"]["target"] == "cpu-ort-1t"
    captured = capsys.readouterr()
    assert "fidelity over 1 other random network (|error|" in captured.out  # not "1 ... networks"
    assert "networks timed in 1 session of up to" in captured.out and "timing 1 whole network\n" in captured.out


def test_cli_profile_refuses_a_space_that_cannot_have_a_table_before_comparing_it_with_the_task(tmp_path, capsys):
    assert main(["profile", "--target", "cpu-ort-1t", "--space", "nb201"]) == 2  # the default task is mbv3's
    err = capsys.readouterr().err
    assert "space 'nb201' does not describe its layers" in err and "differs from [space]" not in err


def test_cli_profile_checks_its_arguments_before_any_work(tmp_path, capsys, monkeypatch, cli_error):
    import hwnas.profile
    import hwnas.profile.build

    def no_work(*args, **kwargs):
        raise AssertionError("the build started")

    monkeypatch.setattr(hwnas.profile, "build_table", no_work)
    monkeypatch.setattr(hwnas.profile.build, "export_models", no_work)
    nb201 = tmp_path / "nb201.toml"
    nb201.write_text('[task]\ndataset = "digits"\n[space]\nname = "nb201"\n')
    no_task = tmp_path / "no task.toml"
    no_task.write_text('[space]\nname = "mbv3"\n')
    precious = tmp_path / "notes.json"
    precious.write_text('{"mine": true}')
    for argv, message in (
            (["--out", str(tmp_path)], f"--out {tmp_path} is a directory; give the table's file name"),
            (["--seed", "-1"], "--seed -1 is out of range; use an integer >= 0"),
            (["--passes", "100000"], "--passes 100000 is out of range; use an integer <= 1000"),
            (["--space", "foo"], "--space 'foo' is not a known space; use one of mbv3, mlp, nb201"),
            (["--task", str(nb201)], "hwnas search ... --latency measure"),
            (["--task", str(no_task)], f"--task {no_task} has no [task]; the table's input size comes from it"),
            (["--target", "cuda-ort"], "execution provider 'CUDAExecutionProvider' is not available"),
            (["--space", "mlp"], "space 'mlp' does not describe its layers, so it cannot have a latency table"),
            (["--out", str(tmp_path / "t.csv")], f"--out {tmp_path / 't.csv'}: a latency table is a .json file"),
            (["--out", str(precious)], f"--out {precious} exists and is not a latency table")):
        target = [] if "--target" in argv else ["--target", "cpu-ort-1t"]
        err = cli_error(["profile", *target, *argv], message)
        assert "--latency measure)" not in err  # not offered as a profile flag
    assert precious.read_text() == '{"mine": true}'


def test_cli_profile_of_a_target_this_machine_cannot_run_says_to_build_it_there(cli_error, monkeypatch):
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    cli_error(["profile", "--target", "cuda-ort"], "'CUDAExecutionProvider' is not available",
              "build the table on a machine where target cuda-ort runs",
              "latency_tables/cuda-ort/<that device>/ here with \"remote\": true in its meta", "[cost.lut] path")


def test_cli_profile_keeps_the_default_table_of_another_space_configuration(tmp_path, monkeypatch, cli_error, capsys):
    import hwnas.cost.lut_paths as lut_paths
    import hwnas.profile
    from fakes import hand_table
    from hwnas.cost import load_target

    monkeypatch.setattr(lut_paths, "tables_dir", lambda: tmp_path / "tables")
    monkeypatch.setattr(hwnas.profile, "build_table", lambda *a, **k: pytest.fail("the build started"))
    target = load_target("cpu-ort-1t")
    full = make_space("mbv3", (1, 8, 8), 10)  # digits: 1x8x8
    shipped = hand_table(full, target).save(lut_paths.local_table_path(target, full))
    before = shipped.read_text()
    narrowed = tmp_path / "narrow.toml"
    narrowed.write_text('[task]\ndataset = "digits"\n[space]\nname = "mbv3"\nwidths = [0.5]\n')
    cli_error(["profile", "--target", "cpu-ort-1t", "--task", str(narrowed)],
              f"{shipped} holds the table of another mbv3 configuration (genes differ from {narrowed}'s [space]) "
              f"and would be overwritten; write this one elsewhere, e.g. --out {tmp_path / 'narrow-mbv3-1x8x8.json'} "
              f"(a search of {narrowed} finds it there)")
    assert shipped.read_text() == before
    same = tmp_path / "same.toml"
    same.write_text('[task]\ndataset = "digits"\n[space]\nname = "mbv3"\n')
    with pytest.raises(pytest.fail.Exception, match="the build started"):  # the same configuration: rebuilt
        main(["profile", "--target", "cpu-ort-1t", "--task", str(same)])
    # built where the refusal said: the search of that config finds it without [cost.lut] path
    monkeypatch.setattr(hwnas.profile, "build_table", lambda *a, **k: hand_table(make_space("mbv3", (1, 8, 8), 10,
                                                                                          widths=[0.5]), target))
    monkeypatch.setattr(hwnas.profile, "format_report", lambda table: "")
    capsys.readouterr()
    assert main(["profile", "--target", "cpu-ort-1t", "--task", str(narrowed),
                 "--out", str(tmp_path / "narrow-mbv3-1x8x8.json")]) == 0
    assert f"a search of {narrowed} finds it there by itself" in capsys.readouterr().out


def test_cli_profile_names_a_table_path_that_the_config_resolves_to_the_table(tmp_path, monkeypatch, capsys):
    import re

    import hwnas.profile
    from fakes import hand_table
    from hwnas.config import load_config
    from hwnas.cost import load_target

    monkeypatch.setattr(hwnas.profile, "build_table", lambda *a, **k: hand_table(make_space("mbv3", (1, 8, 8), 10),
                                                                              load_target("cpu-ort-1t")))
    monkeypatch.setattr(hwnas.profile, "format_report", lambda table: "")
    (tmp_path / "configs").mkdir()
    config = tmp_path / "configs" / "c.toml"
    config.write_text('[task]\ndataset = "digits"\n[space]\nname = "mbv3"\n[cost]\ntarget = "cpu-ort-1t"\n')
    monkeypatch.chdir(tmp_path)  # --out relative to the working folder, not to the config's
    assert main(["profile", "--target", "cpu-ort-1t", "--task", str(config), "--out", "tables/t.json"]) == 0
    given = re.search(r'\[cost.lut\] path = "([^"]+)"', capsys.readouterr().out).group(1)
    config.write_text(config.read_text() + f'[cost.lut]\npath = "{given}"\n')
    assert load_config(config).cost["lut"]["path"] == str(tmp_path / "tables" / "t.json")


def test_cli_profile_says_to_set_the_target_when_the_config_names_another(tmp_path, monkeypatch, capsys):
    # its searches would refuse a table of another target than their [cost] target
    import hwnas.profile
    from fakes import hand_table
    from hwnas.cost import load_target

    mine = tmp_path / "mine.toml"
    mine.write_text('name = "mine"\nexecution_provider = "CPUExecutionProvider"\nintra_op_threads = 1\nbatch_size = 8\n')
    monkeypatch.setattr(hwnas.profile, "build_table", lambda *a, **k: hand_table(make_space("mbv3", (1, 8, 8), 10),
                                                                              load_target(mine)))
    monkeypatch.setattr(hwnas.profile, "format_report", lambda table: "")
    config = tmp_path / "c.toml"
    config.write_text('[task]\ndataset = "digits"\n[space]\nname = "mbv3"\n[cost]\ntarget = "cpu-ort-1t"\n')
    assert main(["profile", "--target", str(mine), "--task", str(config), "--out", str(tmp_path / "t.json")]) == 0
    assert (f'a search reads it with [cost.lut] path = "{tmp_path / "t.json"}" in its config ({config}) and '
            f'[cost] target = "{mine}"') in capsys.readouterr().out
    assert main(["profile", "--target", str(mine), "--task", str(config),
                 "--out", str(tmp_path / "c-mbv3-1x8x8.json")]) == 0
    assert f'a search of {config} finds it there by itself once its [cost] target is "{mine}"' in capsys.readouterr().out
    assert main(["profile", "--target", "cpu-ort-1t", "--task", str(config), "--out", str(tmp_path / "u.json")]) == 0
    assert "[cost] target" not in capsys.readouterr().out


def test_cli_profile_keeps_the_default_table_of_a_target_copied_under_the_same_name(tmp_path, monkeypatch, cli_error):
    import hwnas.cost.lut_paths as lut_paths
    import hwnas.profile
    from fakes import hand_table
    from hwnas.cost import load_target

    monkeypatch.setattr(lut_paths, "tables_dir", lambda: tmp_path / "tables")
    monkeypatch.setattr(hwnas.profile, "build_table", lambda *a, **k: pytest.fail("the build started"))
    target = load_target("cpu-ort-1t")
    shipped = hand_table(make_space("mbv3", (1, 8, 8), 10), target).save(
        lut_paths.local_table_path(target, make_space("mbv3", (1, 8, 8), 10)))
    before = shipped.read_text()
    copied = tmp_path / "mine.toml"  # copied from targets/cpu-ort-1t.toml, threads and batch changed, name not
    text = open(target.source).read()
    copied.write_text(text.replace("intra_op_threads = 1", "intra_op_threads = 2").replace("batch_size = 1", "batch_size = 4"))
    task = tmp_path / "task.toml"
    task.write_text('[task]\ndataset = "digits"\n[space]\nname = "mbv3"\n')
    cli_error(["profile", "--target", str(copied), "--task", str(task)],
              f"{shipped} holds the table of target 'cpu-ort-1t' built with intra_op_threads = 1, not 2; "
              f"batch_size = 1, not 4 and would be overwritten; give the target {copied} a name of its own")
    assert shipped.read_text() == before
    own = tmp_path / "own.toml"  # a target of its own, edited since its table was built: rebuilt where it was
    own.write_text(copied.read_text().replace('name = "cpu-ort-1t"', 'name = "own"'))
    hand_table(make_space("mbv3", (1, 8, 8), 10), target).save(lut_paths.local_table_path(load_target(own),
                                                                                    make_space("mbv3", (1, 8, 8), 10)))
    with pytest.raises(pytest.fail.Exception, match="the build started"):
        main(["profile", "--target", str(own), "--task", str(task)])
