"""Exporting, timing in anchored sessions and layer memory (:mod:`hwnas.profile.measure`)."""

import pytest

from hwnas.profile.measure import export_models, layer_memory


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


def test_network_sessions_are_put_on_the_anchors_level(monkeypatch):
    import hwnas.profile.measure as measure
    from hwnas.cost.latency import LatencyMeasurement

    speeds = iter([1.3, 0.9])  # each session runs at its own speed

    def timed(models, timing, shape):
        speed = next(speeds)
        return [LatencyMeasurement(m * speed, 1.0, (m * speed,)) for m in models]

    monkeypatch.setattr(measure, "measure_latency", timed)
    monkeypatch.setattr(measure, "CHUNK", 3)
    models = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]  # stand-ins whose true latency is their value
    anchor_times = [LatencyMeasurement(1.0, 0.0, (1.0,)), LatencyMeasurement(2.0, 0.0, (2.0,))]
    said = []
    out, levels = measure.measure_in_chunks(models, [0, 1], anchor_times, None, (1,), said.append)
    assert said == ["profile: networks 3/6 timed", "profile: networks 6/6 timed"]  # minutes of timing, not silence
    assert levels == pytest.approx([1.3, 0.9])
    assert [m.latency_ms for m in out] == pytest.approx(models)
    assert out[0] is anchor_times[0] and out[5].pass_medians_ms == pytest.approx((6.0,))


def test_layer_memory_counts_weights_input_and_largest_tensor():
    import torch

    layer = torch.nn.Sequential(torch.nn.Conv2d(2, 8, 1), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 1))
    assert layer_memory(layer, (2, 4, 4)) == {"weights": 2 * 8 + 8 + 8 * 4 + 4, "activations": 2 * 16 + 8 * 16}
