"""A real (tiny) table build with ONNX Runtime (:mod:`hwnas.profile.build`)."""

import pytest

from hwnas.cost import COST_MODELS
from hwnas.cost.lut_table import LatencyTable
from hwnas.profile.build import build_table
from hwnas.profile.report import format_report


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


def test_build_without_fidelity_networks_times_the_anchors_only(fast_target, space):
    said = []
    table = build_table(fast_target, space, calibration=2, fidelity=0, device_report=False, log=said.append)
    assert table.fidelity == {} and len(table.calibration["networks"]) == 4
    assert any(line.startswith("profile: ") and "layers timed" in line for line in said)


def test_build_checks_the_provider_before_exporting(fast_target, space, monkeypatch):
    import dataclasses

    import hwnas.profile.build
    from hwnas.exceptions import TargetError

    monkeypatch.setattr(hwnas.profile.build, "export_models", lambda *a, **k: pytest.fail("exported first"))
    gpu = dataclasses.replace(fast_target, execution_provider="NoSuchExecutionProvider")
    with pytest.raises(TargetError, match="'NoSuchExecutionProvider' is not available"):
        build_table(gpu, space, calibration=1, fidelity=0, device_report=False, log=lambda _: None)


def test_the_fidelity_networks_second_timing_is_put_on_the_layers_level_like_the_first(fast_target, space,
                                                                                       monkeypatch):
    # this machine's speed drifts in phases: a second timing in a slow phase judged the machine
    import dataclasses

    import hwnas.profile.build
    import hwnas.profile.measure

    real, slow = hwnas.profile.measure.measure_latency, {"on": False}

    def measure(models, *args, **kwargs):
        times = real(models, *args, **kwargs)
        return [dataclasses.replace(m, latency_ms=1.3 * m.latency_ms) for m in times] if slow["on"] else times

    def log(message):
        slow["on"] = slow["on"] or "fidelity networks again" in message

    for module in (hwnas.profile.build, hwnas.profile.measure):  # the layers' session, the networks'
        monkeypatch.setattr(module, "measure_latency", measure)
    table = build_table(fast_target, space, calibration=3, fidelity=4, seed=0, device_report=False, log=log)
    assert slow["on"] and abs(table.fidelity["error_sources"]["level_shift_pct"]) < 10, table.fidelity["error_sources"]
