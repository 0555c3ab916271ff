"""quantize: static (QDQ, QOperator) and dynamic INT8 graphs, scored with ONNX Runtime; bad settings."""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import onnx
import pytest
import torch

from hwnas.compress.base import CompressContext, Subject
from hwnas.compress.measure import onnx_error_pct, static_metrics
from hwnas.compress.quantize import QUANT_SCHEMES, QuantizeCompressor
from hwnas.cost import load_target, make_session
from hwnas.estimate.trainer import ProxyTrainer
from hwnas.exceptions import ConfigError, RegistryError


@pytest.fixture(scope="module")
def trained(digits_12):
    """A small CNN trained briefly on 12x12 digits, and a context to compress it in."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1, bias=False), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(32, 10))
    ProxyTrainer(digits_12, epochs=3, batch_size=64, device="cpu", max_train_samples=512).estimate("cnn", model)
    context = CompressContext(digits_12, load_target("cpu-ort-1t"), seed=0)
    return model.eval(), context


def _ops(onnx_bytes):
    return {n.op_type for n in onnx.load_from_string(onnx_bytes).graph.node}


@pytest.mark.parametrize("fmt, op", [("qdq", "QuantizeLinear"), ("qoperator", "QLinearConv")])
def test_static_int8_is_scored_as_int8(trained, fmt, op):
    model, context = trained
    float_subject = Subject(model)
    int8 = QuantizeCompressor("static", format=fmt, calibration_samples=64).apply(float_subject, context)
    assert op in _ops(int8.onnx_bytes)
    assert int8.quantized and int8.activation_bits == 8 and int8.module is model
    before, after = static_metrics(float_subject, context), static_metrics(int8, context)
    assert after["model_size_mb"] < 0.6 * before["model_size_mb"]
    assert after["peak_memory_mb"] < 0.5 * before["peak_memory_mb"]
    assert after["macs"] == before["macs"]  # quantization keeps the multiply-accumulates
    assert before["accuracy_pct"] > 50  # trained: the comparison below means something
    assert abs(after["accuracy_pct"] - before["accuracy_pct"]) < 5
    assert onnx_error_pct(int8.onnx_bytes, context.task, context.target) == after["error_pct"]
    # the INT8 graph is what ran: its logits are close to the float graph's, not equal
    x = {"input": context.task.x_val[:1]}
    f = make_session(float_subject.onnx(context), context.target).run(None, x)[0]
    q = make_session(int8.onnx_bytes, context.target).run(None, x)[0]
    assert not np.array_equal(f, q) and np.abs(f - q).max() < 0.5 * np.abs(f).max()


def test_dynamic_keeps_float_activations(trained):
    model, context = trained
    out = QuantizeCompressor("dynamic").apply(Subject(model), context)
    assert out.weight_bits == 8 and out.activation_bits == 32
    assert "ConvInteger" in _ops(out.onnx_bytes) or "DynamicQuantizeLinear" in _ops(out.onnx_bytes)


def test_refuses_float16_targets_and_double_quantization(trained):
    model, context = trained
    # a float16 target (valid only with a GPU provider): the check comes before any other use
    half = dataclasses.replace(context, target=types.SimpleNamespace(name="gpu-fp16", dtype="float16"))
    with pytest.raises(ConfigError, match="needs float32 graphs .* dtype 'float16'"):
        QuantizeCompressor().apply(Subject(model), half)
    with pytest.raises(ConfigError, match="quantize once"):
        QuantizeCompressor().apply(Subject(model, b"", weight_bits=8), context)


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "int4"}, "quantize mode 'int4' is unknown; use one of: static, dynamic"),
    ({"format": "qop"}, "quantize format 'qop' is unknown; use one of: qdq, qoperator"),
    ({"calibration_samples": 0}, "calibration_samples 0 must be an integer >= 1"),
    ({"per_channel": "yes"}, "per_channel 'yes' must be true or false"),
])
def test_bad_settings_name_the_value(kwargs, message):
    with pytest.raises(ConfigError) as err:
        QuantizeCompressor(**kwargs)
    assert message in str(err.value)


def test_schemes():
    assert [s["format"] for s in QUANT_SCHEMES.get("int8")] == ["qdq", "qoperator"]
    assert QuantizeCompressor(**QUANT_SCHEMES.get("int8-dynamic")[0]).label == "int8-dynamic"
    with pytest.raises(RegistryError, match="unknown quantization scheme 'int4'; did you mean 'int8'"):
        QUANT_SCHEMES.get("int4")


def test_calibration_samples_are_checked_against_the_batch_and_the_training_split(digits_12):
    target = types.SimpleNamespace(name="cpu-b4", dtype="float32", batch_size=4)
    with pytest.raises(ConfigError, match=r"--calibration-samples 2 cannot fill one batch of target 'cpu-b4' "
                                          r"\(batch_size 4\); pass --calibration-samples 4 or more"):
        QuantizeCompressor(calibration_samples=2).check_target(target, digits_12)
    n = len(digits_12.x_train)
    with pytest.raises(ConfigError, match=f"--calibration-samples 1000000 is more than the run's {n} training "
                                          f"samples; pass --calibration-samples {n} or fewer"):
        QuantizeCompressor(calibration_samples=1_000_000).check_target(target, digits_12)
    QuantizeCompressor("dynamic", calibration_samples=2).check_target(target, digits_12)  # calibrates nothing
    tiny = types.SimpleNamespace(x_train=digits_12.x_train[:3])  # fewer samples than one batch: no flag helps
    with pytest.raises(ConfigError, match=r"but the run has only 3 training samples; quantize with --quantize "
                                          r"int8-dynamic"):
        QuantizeCompressor(calibration_samples=4).check_target(target, tiny)


def test_the_default_calibration_takes_a_small_training_split_whole():
    import numpy as np

    target = types.SimpleNamespace(name="cpu", dtype="float32", batch_size=1)
    small = types.SimpleNamespace(x_train=np.zeros((40, 4), np.float32))
    step = QuantizeCompressor()
    step.check_target(target, small)
    assert step.settings()["calibration_samples"] == 40  # recorded as used, not 256


def test_the_calibration_samples_recorded_are_the_whole_batches_read():
    # calibration reads whole batches of the target's batch size: 100 at batch size 16 read 96
    # samples, and the variant's settings said 100
    import numpy as np

    from hwnas.compress.quantize import _calibration_batches

    target = types.SimpleNamespace(name="cpu-b16", dtype="float32", batch_size=16)
    task = types.SimpleNamespace(x_train=np.zeros((300, 4), np.float32))
    for asked, used in ((100, 96), (96, 96), (None, 256)):
        step = QuantizeCompressor(calibration_samples=asked)
        step.check_target(target, task)
        read = _calibration_batches(types.SimpleNamespace(task=task, target=target, seed=0), step.calibration_samples)
        assert step.settings()["calibration_samples"] == sum(len(batch) for batch in read) == used
    small = types.SimpleNamespace(x_train=np.zeros((40, 4), np.float32))  # the default takes it whole: 2 batches
    step = QuantizeCompressor()
    step.check_target(target, small)
    assert step.settings()["calibration_samples"] == 32
