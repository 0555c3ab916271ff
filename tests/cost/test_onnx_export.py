"""ONNX export: round trip through ONNX Runtime, names, batch, dtype, mode restore, failures."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from hwnas.cost import CostMeasurementError, export_onnx
from hwnas.exceptions import ConfigError, HwnasError

from .conftest import INPUT_SHAPE, conv_net


def run_ort(onnx_bytes: bytes, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": x})[0]


def test_round_trip_matches_torch_in_eval_mode():
    torch.manual_seed(0)
    model = conv_net(8, 2)
    model(torch.randn(4, *INPUT_SHAPE))  # move BN running stats away from their defaults
    model.train()
    onnx_bytes = export_onnx(model, INPUT_SHAPE, batch_size=2)
    x = np.random.default_rng(1).standard_normal((2, *INPUT_SHAPE)).astype(np.float32)
    assert model.training, "the caller's train mode must be restored"
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(run_ort(onnx_bytes, x), expected, atol=1e-4)


def test_graph_names_batch_and_file(tmp_path):
    path = tmp_path / "m.onnx"
    onnx_bytes = export_onnx(conv_net(4, 0), INPUT_SHAPE, batch_size=3, opset=13, path=path)
    assert path.read_bytes() == onnx_bytes
    graph = onnx.load_from_string(onnx_bytes)
    assert [i.name for i in graph.graph.input] == ["input"]
    assert [o.name for o in graph.graph.output] == ["output"]
    dims = [d.dim_value for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [3, *INPUT_SHAPE]
    assert graph.opset_import[0].version == 13


def test_float16_export_keeps_the_float32_model_intact():
    model = conv_net(4, 1)
    before = [p.detach().clone() for p in model.parameters()]
    graph = onnx.load_from_string(export_onnx(model, INPUT_SHAPE, dtype="float16"))
    assert graph.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert all(p.dtype == torch.float32 and torch.equal(p, b) for p, b in zip(model.parameters(), before))


def test_export_failure_is_a_candidate_failure_naming_model_and_opset():
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("no kernel for this op")

    # Not a HwnasError: the evaluation loop records it as a failed candidate and goes on.
    assert not issubclass(CostMeasurementError, HwnasError)
    with pytest.raises(CostMeasurementError, match=r"^ONNX export of Broken \(input \(1, 3, 16, 16\), opset 17\) failed: no kernel for this op; "):
        export_onnx(Broken(), INPUT_SHAPE)


def test_unknown_dtype():
    with pytest.raises(ConfigError, match="export dtype 'bfloat16' is not supported; use one of: float32, float16"):
        export_onnx(conv_net(4, 0), INPUT_SHAPE, dtype="bfloat16")
