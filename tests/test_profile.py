"""``hwnas profile`` on a reduced space: a real (tiny) build with ONNX Runtime, reports and the CLI."""

import copy
import json
import textwrap

import numpy as np
import pytest

from hwnas.cli import main
from hwnas.cost import COST_MODELS, Target
from hwnas.cost.lut_calibration import calibrated
from hwnas.cost.lut_table import LatencyTable
from hwnas.profile import (build_table, error_sources, export_models, fit_calibration, format_report, layer_memory,
                           level_shift_warning, tau_gap, tau_gap_line)
from hwnas.space import make_space

TINY = dict(widths=[0.5], depths=[1, 2], kernels=[3, 5], expands=[3], stage_channels=[16, 24])


@pytest.fixture(scope="module")
def fast_target():
    return Target(name="cpu-ort-1t", execution_provider="CPUExecutionProvider", intra_op_threads=1,
                  warmup_runs=2, passes=3, runs_per_pass=3)


@pytest.fixture(scope="module")
def space():
    return make_space("mbv3", (1, 8, 8), 10, **TINY)


@pytest.fixture(scope="module")
def table(fast_target, space):
    return build_table(fast_target, space, calibration=3, fidelity=4, seed=0, log=lambda _: None)


def test_export_in_worker_processes_gives_the_same_graphs(fast_target, space):
    import onnx

    signatures = space.all_layer_signatures()[:5]
    archs = [space.canonical(space.smallest())]
    serial = export_models(space, fast_target, signatures, archs, workers=1)
    parallel = export_models(space, fast_target, signatures, archs, workers=2)
    assert len(serial) == len(parallel) == 6

    def ops(blob):
        return [node.op_type for node in onnx.load_from_string(blob).graph.node]

    assert [ops(b) for b in serial] == [ops(b) for b in parallel]


def test_build_covers_every_layer_and_reports(table, space):
    assert set(table.entries) == {s.key for s in space.all_layer_signatures()}
    assert all(e["latency_ms"] > 0 and e["spread_pct"] >= 0 for e in table.entries.values())
    cal = table.calibration
    assert cal["model"] == "linear" and len(cal["coef"]) == len(cal["features"]) and "n_layers" in cal["features"]
    fid = table.fidelity
    assert fid["networks"] == 4
    # fidelity networks are never calibration networks
    assert not {r["arch"] for r in fid["rows"]} & set(table.calibration["networks"])
    for key in ("table_vs_first", "table_vs_second", "noise_ceiling_second_vs_first"):
        assert 0 <= fid[key]["within_10_pct"] <= 1 and fid[key]["n"] == 4
    meta = table.meta
    for key in ("target", "runtime_version", "execution_provider", "intra_op_threads", "batch_size", "dtype",
                "device", "date", "estimator"):
        assert meta[key] not in (None, "")
    report = table.device_report
    assert "CPUExecutionProvider" in report["providers_available"]
    assert report["op_breakdown"] and abs(sum(r["share_pct"] for r in report["op_breakdown"]) - 100) < 1
    assert "times include profiler overhead, so they add up to more than its latency; read the shares" in (
        format_report(table))
    assert [r["batch_size"] for r in report["latency_vs_batch"]] == [1, 2, 4, 8, 16]
    text = format_report(table)
    assert "noise ceiling" in text and "latency vs batch size" in text and "table's own error" in text
    assert "table τ minus noise ceiling" in text and set(table.fidelity["tau_gap"]) == {"gap", "low", "high"}


def test_built_table_loads_and_predicts(table, space, fast_target, tmp_path):
    path = table.save(tmp_path / "t.json")
    lut = COST_MODELS.get("lut")(fast_target, space.input_shape, space=space, path=str(path))
    rows = table.fidelity["rows"]
    predicted = lut.predict([r["arch"] for r in rows])
    assert predicted == pytest.approx([r["predicted_ms"] for r in rows], rel=1e-4)
    assert LatencyTable.load(path).meta == table.meta


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


def test_error_sources_separate_table_error_from_measurement_noise():
    rng = np.random.default_rng(0)
    true = np.exp(rng.uniform(-3, 0, 4000))
    first, second = (true * np.exp(rng.normal(0, 0.01, true.size)) for _ in range(2))
    exact = error_sources(true * 1.05, first, second)  # a constant offset is no ranking error
    assert exact["measurement_noise_pct"] == pytest.approx(1.0, rel=0.05) and exact["table_error_pct"] < 0.2
    off = error_sources(true * np.exp(rng.normal(0, 0.02, true.size)), first, second)
    assert off["table_error_pct"] == pytest.approx(2.0, rel=0.05)


def test_tau_gap_tells_a_closer_table_from_one_as_close_as_a_remeasurement():
    rng = np.random.default_rng(2)
    groups = {"exact": [], "remeasured": []}
    for _ in range(3):  # three checks of 100 networks each
        true = np.exp(rng.uniform(-3, 0, 100))
        first, second, third = (true * np.exp(rng.normal(0, 0.05, true.size)) for _ in range(3))
        groups["exact"].append((true, first, second))
        groups["remeasured"].append((third, first, second))
    exact, remeasured = (tau_gap(g, resamples=300) for g in groups.values())
    assert exact["low"] > 0 and "above the ceiling" in tau_gap_line(exact)
    assert remeasured["low"] < 0 < remeasured["high"] and "not distinguishable" in tau_gap_line(remeasured)
    worse = tau_gap([(p * np.exp(rng.normal(0, 0.1, p.size)), a, b) for p, a, b in groups["exact"]], resamples=300)
    assert worse["high"] < 0 and "below the ceiling" in tau_gap_line(worse)


def test_a_level_shift_between_the_measurements_is_flagged(table):
    rng = np.random.default_rng(1)
    true = np.exp(rng.uniform(-3, 0, 200))
    first = true * np.exp(rng.normal(0, 0.01, true.size))
    steady = error_sources(true, first, true * np.exp(rng.normal(0, 0.01, true.size)))
    slow = error_sources(true, first, 1.35 * true * np.exp(rng.normal(0, 0.01, true.size)))
    assert abs(steady["level_shift_pct"]) < 1 and level_shift_warning(steady) is None
    assert slow["level_shift_pct"] == pytest.approx(35, abs=1)
    # the offset itself is no ranking error, but the user is told to measure again
    assert slow["table_error_pct"] < 0.5 and "reads +35 % against measurement 1" in level_shift_warning(slow)
    # the tiny build's own 3-pass measurements may well differ in level: report on fixed sources
    def report(sources):
        return format_report(LatencyTable(meta=table.meta, entries=table.entries, calibration=table.calibration,
                                          fidelity={**table.fidelity, "error_sources": sources},
                                          device_report=table.device_report))

    assert "WARNING" not in report(steady)
    assert "WARNING: measurement 2 reads +35 %" in report(slow)


def test_network_sessions_are_put_on_the_anchors_level(monkeypatch):
    import hwnas.profile as profile
    from hwnas.cost.latency import LatencyMeasurement

    speeds = iter([1.3, 0.9])  # each session runs at its own speed

    def timed(models, timing, shape):
        speed = next(speeds)
        return [LatencyMeasurement(m * speed, 1.0, (m * speed,)) for m in models]

    monkeypatch.setattr(profile, "measure_latency", timed)
    monkeypatch.setattr(profile, "CHUNK", 3)
    models = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]  # stand-ins whose true latency is their value
    anchor_times = [LatencyMeasurement(1.0, 0.0, (1.0,)), LatencyMeasurement(2.0, 0.0, (2.0,))]
    said = []
    out, levels = profile.measure_in_chunks(models, [0, 1], anchor_times, None, (1,), said.append)
    assert said == ["profile: networks 3/6 timed", "profile: networks 6/6 timed"]  # minutes of timing, not silence
    assert levels == pytest.approx([1.3, 0.9])
    assert [m.latency_ms for m in out] == pytest.approx(models)
    assert out[0] is anchor_times[0] and out[5].pass_medians_ms == pytest.approx((6.0,))


def test_build_without_fidelity_networks_times_the_anchors_only(fast_target, space):
    said = []
    table = build_table(fast_target, space, calibration=2, fidelity=0, device_report=False, log=said.append)
    assert table.fidelity == {} and len(table.calibration["networks"]) == 4
    assert any(line.startswith("profile: ") and "layers timed" in line for line in said)


def test_op_breakdown_drops_warm_up_runs_and_runs_the_machine_disturbed(fast_target, monkeypatch, tmp_path):
    """Conv and Mul take 100 us each a run; the first run of a session (cold) and one run preempted
    for 50 ms while in Mul must not make Mul most of the network's time."""
    import hwnas.profile as profile

    class FakeSession:
        def __init__(self):
            self.runs = 0

        def get_inputs(self):
            return [type("I", (), {"name": "input"})()]

        def run(self, outputs, feed):
            self.runs += 1

        def end_profiling(self):
            events, ts = [], 0
            for run in range(self.runs):
                mul_us = 50_000 if run in (0, self.runs - 3) else 100
                events.append({"cat": "Session", "name": "model_run", "ts": ts, "dur": 200 + mul_us})
                for name, op, dur in (("c", "Conv", 100), ("m", "Mul", mul_us)):
                    events.append({"cat": "Node", "name": f"{name}_kernel_time", "ts": ts + 1, "dur": dur,
                                   "args": {"op_name": op}})
                ts += 300 + mul_us
            path = tmp_path / f"trace{id(self)}.json"
            path.write_text(json.dumps(events))
            return str(path)

    monkeypatch.setattr(profile, "make_session", lambda *args, **kwargs: FakeSession())
    rows = {r["op"]: r for r in profile.op_breakdown(b"", fast_target, (1, 8, 8), runs=10)}
    assert rows["Conv"]["share_pct"] == rows["Mul"]["share_pct"] == 50.0
    assert rows["Conv"]["ms_per_run"] == rows["Mul"]["ms_per_run"] == 0.1


def test_latency_against_batch_size_is_one_interleaved_measurement(fast_target, space, monkeypatch):
    import hwnas.profile as profile

    calls, real = [], profile.measure_latency
    monkeypatch.setattr(profile, "op_breakdown", lambda *args, **kwargs: [])
    monkeypatch.setattr(profile, "measure_latency",
                        lambda models, *a, **k: calls.append(len(models)) or real(models, *a, **k))
    report = profile.describe_device(fast_target, space, fast_target)
    assert calls == [len(profile.REPORT_BATCHES)]  # one call: the machine's drift hits every batch size alike
    assert [r["batch_size"] for r in report["latency_vs_batch"]] == list(profile.REPORT_BATCHES)
    assert report["latency_vs_batch"][-1]["latency_ms"] > report["latency_vs_batch"][0]["latency_ms"]


def test_report_sums_the_op_types_beyond_the_eighth_into_one_line(table):
    # graph_optimization = "basic" leaves Relu, HardSwish, Add, ... as op types of their own
    ops = [{"op": f"Op{i}", "nodes": 2, "ms_per_run": 0.01, "share_pct": 10.0} for i in range(10)]
    text = format_report(LatencyTable(table.meta, table.entries, table.calibration,
                                      device_report={**table.device_report, "op_breakdown": ops}))
    shares = [float(line.rsplit(None, 2)[-2]) for line in text.splitlines() if " node" in line]
    assert sum(shares) == 100.0 and "2 other op types" in text


def test_report_counts_one_node_in_the_singular(table):
    ops = [{"op": "Conv", "nodes": 3, "ms_per_run": 0.03, "share_pct": 75.0},
           {"op": "Gemm", "nodes": 1, "ms_per_run": 0.01, "share_pct": 25.0}]
    text = format_report(LatencyTable(table.meta, table.entries, table.calibration,
                                      device_report={**table.device_report, "op_breakdown": ops}))
    assert "  3 nodes 0.0300 ms" in text and "   1 node 0.0100 ms" in text and "1 nodes" not in text


def test_layer_memory_counts_weights_input_and_largest_tensor():
    import torch

    layer = torch.nn.Sequential(torch.nn.Conv2d(2, 8, 1), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 1))
    assert layer_memory(layer, (2, 4, 4)) == {"weights": 2 * 8 + 8 + 8 * 4 + 4, "activations": 2 * 16 + 8 * 16}


def test_calibration_finds_the_memory_threshold_and_activation_share(table, space):
    """Networks that pay for memory (weights plus all activations) beyond a threshold: the fit
    picks that share and a threshold near it, and predicts them closely."""
    table = copy.deepcopy(table)  # the fit writes residual weights into the entries
    archs = sorted({space.canonical(space.sample(np.random.default_rng(i))) for i in range(400)})
    sigs = [space.layer_signatures(space.parse(a)) for a in archs]
    feats = [table.features(s) for s in sigs]
    memory = np.array([f["weights_m"] + f["activations_m"] for f in feats])
    cut = float(np.median(memory))
    measured = np.array([f["sum_ms"] for f in feats]) * 0.8 + 0.01 + 40.0 * np.maximum(0.0, memory - cut)
    fitted, residual = fit_calibration(table, space, archs, feats, measured, seed=0)
    assert len(archs) > 20 and fitted["activation_share"] == 1.0
    assert residual["memory_thresholds"]["chosen"]
    feats = [table.features(s) for s in sigs]  # with the residual weights now in the entries
    predicted = np.array([calibrated(fitted, f) for f in feats])
    assert np.abs(predicted / measured - 1).max() < 0.02
    table.calibration = {**fitted, "networks": archs}
    assert "memory_m = millions of weights + 1 x millions of activations" in format_report(table)


def test_cli_profile_checks_its_arguments_before_any_work(tmp_path, capsys, monkeypatch, cli_error):
    import hwnas.profile

    def no_work(*args, **kwargs):
        raise AssertionError("the build started")

    monkeypatch.setattr(hwnas.profile, "build_table", no_work)
    monkeypatch.setattr(hwnas.profile, "export_models", no_work)
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


def test_report_gives_no_tau_verdict_from_too_few_networks(table):
    report = format_report(table)  # 4 fidelity networks, 5 calibration networks
    assert "table τ minus noise ceiling: too few networks (4) for a verdict; check it with --fidelity 10" in report
    assert not any(verdict in report for verdict in ("distinguishable", "above the ceiling", "below the ceiling"))
    assert (f"too few calibration networks: {len(table.calibration['coef'])} coefficients fitted on 5 networks"
            in report)
    assert "too few networks" in tau_gap_line({"gap": float("nan"), "low": float("nan"), "high": float("nan")})


def test_cli_profile_of_a_target_this_machine_cannot_run_says_to_build_it_there(cli_error, monkeypatch):
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    cli_error(["profile", "--target", "cuda-ort"], "'CUDAExecutionProvider' is not available",
              "build the table on a machine where target cuda-ort runs",
              "latency_tables/cuda-ort/<that device>/ here with \"remote\": true in its meta", "[cost.lut] path")


def test_build_checks_the_provider_before_exporting(fast_target, space, monkeypatch):
    import dataclasses

    import hwnas.profile
    from hwnas.exceptions import TargetError

    monkeypatch.setattr(hwnas.profile, "export_models", lambda *a, **k: pytest.fail("exported first"))
    gpu = dataclasses.replace(fast_target, execution_provider="NoSuchExecutionProvider")
    with pytest.raises(TargetError, match="'NoSuchExecutionProvider' is not available"):
        build_table(gpu, space, calibration=1, fidelity=0, device_report=False, log=lambda _: None)


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


def test_the_fidelity_networks_second_timing_is_put_on_the_layers_level_like_the_first(fast_target, space,
                                                                                       monkeypatch):
    # this machine's speed drifts in phases: a second timing in a slow phase judged the machine
    import dataclasses

    import hwnas.profile as profile

    real, slow = profile.measure_latency, {"on": False}

    def measure(models, *args, **kwargs):
        times = real(models, *args, **kwargs)
        return [dataclasses.replace(m, latency_ms=1.3 * m.latency_ms) for m in times] if slow["on"] else times

    def log(message):
        slow["on"] = slow["on"] or "fidelity networks again" in message

    monkeypatch.setattr(profile, "measure_latency", measure)
    table = build_table(fast_target, space, calibration=3, fidelity=4, seed=0, device_report=False, log=log)
    assert slow["on"] and abs(table.fidelity["error_sources"]["level_shift_pct"]) < 10, table.fidelity["error_sources"]
