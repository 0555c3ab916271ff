"""ONNX Runtime sessions and interleaved latency measurement."""

from __future__ import annotations

import dataclasses
import os
import time

import onnxruntime
import pytest

from hwnas.cost import (
    CostMeasurementError,
    LatencyMeasurement,
    count_macs_params,
    export_onnx,
    load_target,
    make_session,
    measure_latency,
)
from hwnas.cost import latency as latency_module
from hwnas.exceptions import TargetError

from .conftest import INPUT_SHAPE, conv_net


def test_session_follows_the_target(fast_target):
    session = make_session(export_onnx(conv_net(4, 0), INPUT_SHAPE), fast_target)
    options = session.get_session_options()
    assert session.get_providers() == ["CPUExecutionProvider"]
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
    assert options.execution_mode == onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    assert options.graph_optimization_level == onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL


def test_bigger_model_measures_slower_and_results_are_consistent(fast_target):
    tiny, big = conv_net(4, 0), conv_net(24, 2)
    tiny_macs, big_macs = (count_macs_params(m, INPUT_SHAPE)[0] for m in (tiny, big))
    assert big_macs > 20 * tiny_macs  # a gap the machine's noise cannot flip
    models = [export_onnx(m, INPUT_SHAPE) for m in (big, tiny)]
    results = measure_latency(models, fast_target, INPUT_SHAPE)
    assert [type(r) for r in results] == [LatencyMeasurement] * 2
    assert results[0].latency_ms > results[1].latency_ms > 0  # results keep the input order
    for r in results:
        assert len(r.pass_medians_ms) == fast_target.passes
        assert r.latency_ms == min(r.pass_medians_ms)
        assert r.spread_pct >= 0
        assert r.spread_pct == pytest.approx(100 * (max(r.pass_medians_ms) - r.latency_ms) / r.latency_ms)


def test_three_models_interleaved_keep_their_order(fast_target):
    nets = [conv_net(16, 2), conv_net(4, 0), conv_net(8, 1)]
    results = measure_latency([export_onnx(m, INPUT_SHAPE) for m in nets], fast_target, INPUT_SHAPE)
    assert len(results) == 3
    assert results[0].latency_ms > results[1].latency_ms


def test_models_of_several_batch_sizes_are_timed_in_one_interleaved_measurement(fast_target):
    net = conv_net(8, 1)
    models = [export_onnx(net, INPUT_SHAPE, batch_size=batch) for batch in (1, 16)]
    one, sixteen = measure_latency(models, fast_target, INPUT_SHAPE, batch_sizes=[1, 16])
    assert sixteen.latency_ms > one.latency_ms > 0
    with pytest.raises(ValueError, match="2 models but 1 batch sizes"):
        measure_latency(models, fast_target, INPUT_SHAPE, batch_sizes=[1])


def test_run_order_warms_up_then_rotates(monkeypatch, fast_target):
    calls: list[int] = []

    class Input:
        name = "input"

    class FakeSession:
        def __init__(self, index):
            self.index = index

        def get_inputs(self):
            return [Input()]

        def run(self, names, feed):
            assert feed["input"].shape == (1, *INPUT_SHAPE) and feed["input"].dtype == "float32"
            calls.append(self.index)

    monkeypatch.setattr(latency_module, "make_session", lambda onnx_bytes, target: FakeSession(onnx_bytes))
    measure_latency([0, 1, 2], fast_target, INPUT_SHAPE)
    warm, runs = fast_target.warmup_runs, fast_target.runs_per_pass
    expected = [i for i in (0, 1, 2) for _ in range(warm)]
    for order in ([0, 1, 2], [1, 2, 0], [2, 0, 1]):  # one pass each, order rotating
        expected += [i for i in order for _ in range(runs)]
    assert calls == expected


def test_empty_batch(fast_target):
    assert measure_latency([], fast_target, INPUT_SHAPE) == []


def test_default_target_is_cheap_for_a_small_model():
    target = load_target("cpu-ort-1t")
    onnx_bytes = export_onnx(conv_net(32, 2), (3, 32, 32))  # ~0.3-0.4 ms on the development VM
    start = time.perf_counter()
    (result,) = measure_latency([onnx_bytes], target, (3, 32, 32))
    elapsed_s = time.perf_counter() - start
    runs = target.warmup_runs + target.passes * target.runs_per_pass
    # Session creation plus all runs; 3x headroom over the timed runs for a loaded machine.
    assert elapsed_s < 0.1 + 3 * runs * result.latency_ms / 1e3
    assert elapsed_s < 1.0


def test_model_exported_for_another_shape_names_model_and_shape(fast_target):
    models = [export_onnx(conv_net(4, 0), INPUT_SHAPE), export_onnx(conv_net(4, 0), (3, 8, 8))]
    expected = (r"^ONNX model 2 of 2 failed to run on target test-cpu with an input of shape "
                r"\(1, 3, 16, 16\) and dtype float32: .*; export it with")
    with pytest.raises(CostMeasurementError, match=expected):
        measure_latency(models, fast_target, INPUT_SHAPE)


def test_a_model_that_cannot_be_loaded_names_the_model_and_the_fix(fast_target):
    models = [export_onnx(conv_net(4, 0), INPUT_SHAPE), b"not an onnx graph"]
    with pytest.raises(CostMeasurementError, match=r"^ONNX model 2 of 2 cannot be loaded on target test-cpu: .*; "
                                                   r"export it again"):
        measure_latency(models, fast_target, INPUT_SHAPE)


@pytest.mark.parametrize("key", ["intra_op_threads", "inter_op_threads"])
def test_more_threads_than_cores_is_refused_before_any_session(monkeypatch, fast_target, key):
    # A million intra-op threads made session creation hang; 2**31 failed every candidate with
    # "incompatible function arguments". Both are a target error, found before any work.
    monkeypatch.setattr(latency_module, "usable_cores", lambda: 2)
    model = export_onnx(conv_net(4, 0), INPUT_SHAPE)
    for threads in (3, 10**6, 2**31):
        target = dataclasses.replace(fast_target, **{key: threads})
        with pytest.raises(TargetError, match=rf"^target test-cpu: {key} = {threads} is more than the 2 CPU core\(s\) "
                                              rf"this process may use; .*; set {key} to at most 2$"):
            measure_latency([model], target, INPUT_SHAPE)
    latency_module.require_provider(dataclasses.replace(fast_target, **{key: 2}))


def test_usable_cores_is_this_process_share():
    assert 1 <= latency_module.usable_cores() <= (os.cpu_count() or 1)


def test_inter_op_threads_are_used(monkeypatch, fast_target):
    # ORT ignores inter_op_num_threads in sequential mode: inter_op_threads = 2 used to change nothing.
    monkeypatch.setattr(latency_module, "usable_cores", lambda: 4)
    target = dataclasses.replace(fast_target, inter_op_threads=2)
    session = make_session(export_onnx(conv_net(4, 0), INPUT_SHAPE), target)
    options = session.get_session_options()
    assert options.execution_mode == onnxruntime.ExecutionMode.ORT_PARALLEL
    assert options.inter_op_num_threads == 2
    (result,) = measure_latency([export_onnx(conv_net(4, 0), INPUT_SHAPE)], target, INPUT_SHAPE)
    assert result.latency_ms > 0
