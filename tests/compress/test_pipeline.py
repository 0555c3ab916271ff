"""compress_run end to end on a tiny trained run; chains; failures recorded; bad input refused."""

from __future__ import annotations

import csv
import shutil

import pytest

from hwnas.compress import Chain, Compressor, build_chains, compress_run
from hwnas.compress.pipeline import run_trainer_options
from hwnas.compress.results import COMPRESSED_CSV, COMPRESSED_PNG, ORIGINAL
from hwnas.exceptions import CompressError, ConfigError, RegistryError, SpaceError


def test_chains_prune_then_quantize_then_both():
    chains = build_chains([0.25, 0.5], ["int8"])
    assert [c.variant for c in chains] == [
        "prune0.25", "prune0.5", "int8-qdq", "int8-qoperator", "prune0.25+int8-qdq",
        "prune0.25+int8-qoperator", "prune0.5+int8-qdq", "prune0.5+int8-qoperator"]
    assert chains[-1].method == "prune+quantize"
    assert chains[-1].settings.startswith("prune(ratio=0.5,importance=l1,round_to=16,finetune_epochs=3) quantize(")
    assert [c.variant for c in build_chains([0.5], ["int8-qdq"], stack=False)] == ["prune0.5", "int8-qdq"]
    # int8 already holds int8-qdq: each variant is built and timed once
    assert [c.variant for c in build_chains([], ["int8", "int8-qdq"])] == ["int8-qdq", "int8-qoperator"]


@pytest.mark.parametrize("ratios, schemes, error, message", [
    ([], [], ConfigError, "nothing to compress: pass --prune"),
    ([0.5, 0.5], [], ConfigError, "--prune 0.5,0.5 repeats a value"),
    ([1.2], [], ConfigError, "prune ratio (--prune) 1.2"),
    ([], ["int4"], RegistryError, "unknown quantization scheme 'int4'"),
    ([0.25, 0.2500001], [], ConfigError, "would both be saved as variant 'prune0.25'"),
])
def test_bad_chains(ratios, schemes, error, message):
    with pytest.raises(error) as err:
        build_chains(ratios, schemes)
    assert message in str(err.value)


class _Boom(Compressor):
    """A step that always fails, as a broken quantizer would."""

    name = "boom"

    def settings(self):
        return {}

    def apply(self, subject, context):
        raise RuntimeError("simulated failure")


def _rows(run_dir):
    with open(run_dir / COMPRESSED_CSV, newline="") as fh:
        return list(csv.DictReader(fh))


def test_compress_run_measures_every_variant_and_records_failures(run_copy, best_arch):
    chains = build_chains([0.5], ["int8-qdq"], prune_options={"finetune_epochs": 1}) + [Chain((_Boom(),))]
    lines = []
    result = compress_run(run_copy, chains, archs=[best_arch], progress=lines.append)
    assert len(lines) == 1 and "(1 failed)" in lines[0]
    rows = {r["variant"]: r for r in result.new_rows}
    assert list(rows) == [ORIGINAL, "prune0.5", "int8-qdq", "prune0.5+int8-qdq", "boom"]
    assert rows["boom"]["status"] == "failed" and "boom: RuntimeError: simulated failure" in rows["boom"]["reason"]
    ok = [r for r in rows.values() if r["status"] == "ok"]
    assert len(ok) == 4
    parent = rows[ORIGINAL]
    assert parent["latency_ratio"] == 1.0 and parent["recommended"] is False
    for r in ok[1:]:
        assert r["latency_ms"] > 0 and r["target"] == "cpu-ort-1t" and r["runtime_version"]
        assert r["recommended"] is (r["latency_ratio"] < 1.0) and r["slower_than_parent"] is (r["latency_ratio"] >= 1.0)
        assert (run_copy / r["onnx"]).is_file()
        assert r["accuracy_change_pts"] == pytest.approx(r["accuracy_pct"] - parent["accuracy_pct"])
    assert rows["prune0.5"]["macs"] < parent["macs"] and rows["prune0.5"]["params"] < parent["params"]
    assert rows["int8-qdq"]["macs"] == parent["macs"] and rows["int8-qdq"]["weight_bits"] == 8
    assert rows["prune0.5+int8-qdq"]["macs"] == rows["prune0.5"]["macs"]
    # the parent, scored by ONNX Runtime, matches what the search's trainer measured in torch
    from hwnas.outputs import load_run

    stored = next(ev for ev in load_run(run_copy).evaluations if ev.arch == best_arch).metrics["accuracy_pct"]
    assert parent["accuracy_pct"] == pytest.approx(stored, abs=0.5)
    assert (run_copy / COMPRESSED_PNG).is_file()
    assert [r["variant"] for r in _rows(run_copy)] == list(rows)

    # a second call redoes its own variants and keeps the others
    compress_run(run_copy, build_chains([], ["int8-qoperator"]), archs=[best_arch])
    assert sorted(r["variant"] for r in _rows(run_copy)) == sorted([*rows, "int8-qoperator"])


def test_bad_input_is_refused_before_any_work(run_copy, best_arch):
    chains = build_chains([], ["int8-qdq"])
    with pytest.raises(CompressError, match="pass --front .* or --arch"):
        compress_run(run_copy, chains)
    with pytest.raises(SpaceError, match="--arch 'banana': mbv3: cannot parse architecture 'banana'"):
        compress_run(run_copy, chains, archs=["banana"])
    with open(run_copy / "evaluations.csv", newline="") as fh:
        evaluated = {r["arch"] for r in csv.DictReader(fh)}
    other = next(a for a in ("w0.5:k3e3/k3e3/k3e3/k3e3", "w1:k3e3/k3e3/k3e3/k3e3") if a not in evaluated)
    with pytest.raises(CompressError, match=f"architecture '{other}' was not evaluated successfully"):
        compress_run(run_copy, chains, archs=[other])
    shutil.rmtree(run_copy / "weights")
    # a training run whose weights/ went missing: restore them (not "search with a training estimator")
    with pytest.raises(CompressError, match=r"has no trained weights in .* \(.* is missing: moved or deleted\); "
                                            r"restore it from where the run was searched$"):
        compress_run(run_copy, chains, archs=[best_arch])
    assert not (run_copy / COMPRESSED_CSV).exists()


def test_fine_tuning_uses_the_run_s_trainer_options_whatever_training_estimator_it_used():
    assert run_trainer_options({"name": "proxy-trainer", "epochs": 2, "lr": 0.01}) == {"epochs": 2, "lr": 0.01}
    assert run_trainer_options({"name": "successive-halving", "rungs": [1, 3], "eta": 3, "batch_size": 32,
                                "seed": 4}) == {"batch_size": 32, "seed": 4}
    assert run_trainer_options({"name": "zero-cost-filtered", "proxy": "naswot", "quantile": 0.25,
                                "lr": 0.02}) == {"lr": 0.02}


def test_a_parent_compressed_again_takes_every_ratio_in_one_timing_session(run_copy, best_arch):
    from hwnas.compress.results import STALE, read_compressed

    compress_run(run_copy, build_chains([], ["int8-qdq"]), archs=[best_arch])
    first = {r["variant"]: r for r in read_compressed(run_copy / COMPRESSED_CSV)}
    result = compress_run(run_copy, build_chains([], ["int8-qoperator"]), archs=[best_arch])
    rows = {r["variant"]: r for r in read_compressed(run_copy / COMPRESSED_CSV)}
    assert set(rows) == {ORIGINAL, "int8-qdq", "int8-qoperator"}
    parent = rows[ORIGINAL]
    assert parent["latency_ms"] != first[ORIGINAL]["latency_ms"]  # re-timed: the earlier session is gone
    for r in rows.values():  # the kept variant was re-timed beside its parent, not left on the old level
        assert r["status"] == "ok" and r["measured_at"] == parent["measured_at"]
        assert r["latency_ratio"] == pytest.approx(r["latency_ms"] / parent["latency_ms"], rel=1e-9)
        assert r["recommended"] is (r["variant"] != ORIGINAL and r["latency_ratio"] < 1.0)
    assert [r["variant"] for r in result.kept_rows] == ["int8-qdq"]

    # a kept variant whose ONNX file is gone keeps its row and numbers, but no ratio
    (run_copy / rows["int8-qdq"]["onnx"]).unlink()
    compress_run(run_copy, build_chains([], ["int8-qoperator"]), archs=[best_arch])
    again = {r["variant"]: r for r in read_compressed(run_copy / COMPRESSED_CSV)}
    stale = again["int8-qdq"]
    assert stale["status"] == STALE and "is missing" in stale["reason"]
    kept = rows["int8-qdq"]
    assert stale["latency_ms"] == kept["latency_ms"] and stale["accuracy_pct"] == kept["accuracy_pct"]
    assert stale["latency_ratio"] == "" and stale["recommended"] is False


def test_int8_on_a_float16_target_is_refused_before_any_parent_is_pruned(run_copy, best_arch, monkeypatch):
    import copy

    from hwnas import components
    from hwnas.compress import pipeline

    real = components.build_components

    def half_precision(config, **kwargs):  # as a CUDA target with dtype = "float16" would be
        parts = real(config, **kwargs)
        parts.target = copy.copy(parts.target)
        object.__setattr__(parts.target, "dtype", "float16")  # past the CPU check a real target makes
        return parts

    monkeypatch.setattr(components, "build_components", half_precision)
    monkeypatch.setattr(pipeline, "_apply_chain", lambda *a: pytest.fail("a parent was compressed"))
    with pytest.raises(ConfigError, match="quantize needs float32 graphs .* dtype 'float16'"):
        compress_run(run_copy, build_chains([0.5], ["int8"]), archs=[best_arch])


def test_calibration_samples_beyond_the_training_split_are_refused_before_any_parent(run_copy, best_arch,
                                                                                     monkeypatch):
    from hwnas.compress import pipeline

    monkeypatch.setattr(pipeline, "_apply_chain", lambda *a: pytest.fail("a parent was compressed"))
    with pytest.raises(ConfigError, match="--calibration-samples 1000000 is more than the run's .* training"):
        compress_run(run_copy, build_chains([], ["int8-qdq"], quant_options={"calibration_samples": 1_000_000}),
                     archs=[best_arch])
    assert not (run_copy / COMPRESSED_CSV).exists()


def test_two_calls_on_one_run_at_once_both_keep_their_rows(run_copy, best_arch, monkeypatch):
    import contextlib
    import threading

    from hwnas.compress import pipeline
    from hwnas.compress.results import read_compressed

    real, lines, events = pipeline._time_all, [], {"waiting": threading.Event(), "done": threading.Event()}
    second = {}

    def other_call():
        def progress(line):
            lines.append(line)
            if line.startswith("waiting for another hwnas compress"):
                events["waiting"].set()
        try:
            second["result"] = compress_run(run_copy, build_chains([], ["int8-qoperator"]), archs=[best_arch],
                                            progress=progress)
        finally:
            events["done"].set()

    def time_all(*args, **kwargs):  # the first call, between reading compressed.csv and writing it
        if "thread" not in second:
            second["thread"] = threading.Thread(target=other_call)
            second["thread"].start()
            for _ in range(3000):  # until the second call waits for this one, or (with no lock) has saved
                if events["waiting"].wait(0.1) or events["done"].is_set():
                    break
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_time_all", time_all)
    monkeypatch.setattr(pipeline, "held_interrupts", lambda: contextlib.nullcontext([]))  # signals: main thread only
    compress_run(run_copy, build_chains([], ["int8-qdq"]), archs=[best_arch])
    second["thread"].join(300)
    assert "result" in second, lines
    variants = {r["variant"] for r in read_compressed(run_copy / COMPRESSED_CSV)}
    assert {"int8-qdq", "int8-qoperator"} <= variants, variants


def test_a_run_with_an_objective_compress_does_not_measure_plots_on_the_others(run_copy, best_arch, monkeypatch):
    from hwnas import outputs
    from hwnas.report import print_compress_summary
    from hwnas.search.objectives import resolve_objectives

    # e.g. energy_mj from a plugin cost model: the variants have no energy_mj column
    monkeypatch.setattr(outputs.Run, "objectives", property(lambda self: resolve_objectives(["error", "energy_mj"])))
    lines = []
    result = compress_run(run_copy, build_chains([], ["int8-qdq"]), archs=[best_arch], progress=lines.append)
    assert (run_copy / COMPRESSED_PNG).is_file() and [o.name for o in result.objectives] == ["error", "latency_ms"]
    assert ("note: compressed.png and the hypervolumes compare on error, latency_ms: compress does not measure "
            "energy_mj on the variants") in lines
    print_compress_summary(result)  # hypervolumes on what the variants have



def test_a_table_run_is_refused_saying_it_has_no_models_and_what_to_compress_instead(tmp_path):
    from fakes import write_nb201_table
    from hwnas.search.runner import run_search
    from hwnas.table import table_search_config

    write_nb201_table(tmp_path / "t.csv")
    config = table_search_config(space="nb201", table=tmp_path / "t.csv", arch_column="arch_str",
                                 accuracy_column="acc", costs={"latency_ms": "lat"}, evaluations=4)
    run_search(config, tmp_path / "r", progress=False)
    with pytest.raises(ConfigError, match=r"has no \[task\] \(a table-backed run: .* with no models\); compress a "
                                          r"run searched with both, e.g. examples/digits.toml"):
        compress_run(tmp_path / "r", build_chains([0.5], []), front=True)
    (tmp_path / "t.csv").unlink()  # the table moved since: the reason stays the same, not "table not found"
    with pytest.raises(ConfigError, match=r"has no \[task\] \(a table-backed run"):
        compress_run(tmp_path / "r", build_chains([0.5], []), front=True)


def test_compressed_onnx_files_record_the_input_scaling_as_export_does(run_copy, best_arch):
    import json

    import onnx

    result = compress_run(run_copy, build_chains([0.5], [], prune_options={"finetune_epochs": 0}), archs=[best_arch])
    row = next(r for r in result.new_rows if r["variant"] == "prune0.5")
    meta = {p.key: p.value for p in onnx.load(str(run_copy / row["onnx"])).metadata_props}
    pre = json.loads(meta["hwnas.preprocessing"])
    assert pre["pixel_max"] == 16 and len(pre["x_mean"]) == len(pre["x_std"]) >= 1


def test_an_int8_row_says_int8_in_its_dtype_column_not_the_target_s_float_dtype(monkeypatch):
    from types import SimpleNamespace

    from hwnas.compress import measure, pipeline

    monkeypatch.setattr(measure, "latency_metrics",
                        lambda graphs, *a: [{"latency_ms": 1.0, "latency_spread_pct": 0.0} for _ in graphs])
    info = {"name": "cpu", "runtime": "onnxruntime", "runtime_version": "1", "execution_provider": "CPU",
            "intra_op_threads": 1, "batch_size": 1, "dtype": "float32"}
    target = SimpleNamespace(describe=lambda: info, passes=3)
    rows = [{"variant": ORIGINAL, "weight_bits": 32.0}, {"variant": "int8-qdq", "weight_bits": 8.0},
            {"variant": "prune0.5+int8-dynamic", "weight_bits": 8.0}]
    pipeline._time_all([(r, b"") for r in rows], target, (1, 8, 8))
    assert [r["dtype"] for r in rows] == ["float32", "int8", "int8"]


def test_a_graph_that_fails_under_timing_is_failed_and_the_rest_are_timed_together(monkeypatch):
    from types import SimpleNamespace

    from hwnas.compress import measure, pipeline
    from hwnas.cost import CostMeasurementError

    calls = []

    def latency_metrics(graphs, *a):  # each call is a timing session of its own speed
        calls.append(list(graphs))
        if b"bad" in graphs:
            raise CostMeasurementError("ONNX model failed to run")
        return [{"latency_ms": len(g) * len(calls), "latency_spread_pct": 0.0} for g in graphs]

    monkeypatch.setattr(measure, "latency_metrics", latency_metrics)
    info = {"name": "cpu", "runtime": "onnxruntime", "runtime_version": "1", "execution_provider": "CPU",
            "intra_op_threads": 1, "batch_size": 1, "dtype": "float32"}
    target = SimpleNamespace(describe=lambda: info, passes=3)
    rows = [{"parent_arch": "a", "variant": v, "status": "ok", "weight_bits": 32.0, "accuracy_pct": 90.0}
            for v in (ORIGINAL, "int8-qdq", "prune0.5")]
    pipeline._time_all(list(zip(rows, [b"parent", b"bad", b"par"])), target, (1, 8, 8))
    assert rows[1]["status"] == "failed" and "failed to run" in rows[1]["reason"]
    assert [b"parent", b"par"] in calls  # the survivors re-timed in one interleaved session
    pipeline.compare_with_parents(rows)
    assert rows[2]["latency_ratio"] == pytest.approx(3 / 6)  # not two sessions' speeds mixed


def test_a_remake_that_fails_under_timing_leaves_the_earlier_variant_and_its_file(run_copy, best_arch, monkeypatch):
    from hwnas.compress import measure
    from hwnas.compress.results import read_compressed
    from hwnas.cost import CostMeasurementError

    compress_run(run_copy, build_chains([], ["int8-qdq"]), archs=[best_arch])
    before = {r["variant"]: r for r in read_compressed(run_copy / COMPRESSED_CSV)}["int8-qdq"]
    kept_file = (run_copy / before["onnx"]).read_bytes()
    real = measure.latency_metrics

    def latency_metrics(graphs, *args):  # the remade INT8 graph runs for accuracy, then fails under timing
        if any(b"QuantizeLinear" in g and b"hwnas.preprocessing" not in g for g in graphs):
            raise CostMeasurementError("ONNX model failed to run")
        return real(graphs, *args)

    monkeypatch.setattr(measure, "latency_metrics", latency_metrics)
    result = compress_run(run_copy, build_chains([], ["int8-qdq"], quant_options={"calibration_samples": 64}),
                          archs=[best_arch])
    remade = next(r for r in result.new_rows if r["variant"] == "int8-qdq")
    assert remade["status"] == "failed" and not remade.get("onnx")  # no file of its own
    row = {r["variant"]: r for r in read_compressed(run_copy / COMPRESSED_CSV)}["int8-qdq"]
    assert row["status"] == "ok" and row["settings"] == before["settings"]
    assert (run_copy / row["onnx"]).read_bytes() == kept_file  # the model the kept row describes
