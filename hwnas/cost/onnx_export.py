"""Export a torch module to ONNX bytes for timing with ONNX Runtime.

The TorchScript exporter (``dynamo=False``) is used on purpose: in torch 2.13 it exports a small
CNN in about 0.2 s where the dynamo exporter needs about 4 s, and a search exports thousands of
candidates. Its deprecation warnings are silenced locally.
"""

from __future__ import annotations

import copy
import io
import warnings
from pathlib import Path

import torch

from ..exceptions import ConfigError
from ._model_state import eval_on_cpu, module_dtype
from .errors import CostMeasurementError

INPUT_NAME = "input"
OUTPUT_NAME = "output"
_TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def export_onnx(
    model: torch.nn.Module,
    input_shape: tuple[int, ...],
    *,
    batch_size: int = 1,
    opset: int = 17,
    path: str | Path | None = None,
    dtype: str = "float32",
) -> bytes:
    """Export ``model`` to an ONNX graph with one input ``"input"`` and one output ``"output"``.

    The model is exported in eval mode on the CPU with a fixed batch dimension; its own mode and
    device are restored afterwards and it is not copied unless ``dtype`` differs from its own.

    Args:
        model: the module to export.
        input_shape: shape of one sample, without the batch dimension, e.g. ``(3, 32, 32)``.
        batch_size: batch dimension baked into the graph.
        opset: ONNX opset version.
        path: if given, the ONNX file is also written there.
        dtype: ``"float32"`` or ``"float16"`` (weights and input of the exported graph).

    Returns:
        The serialised ONNX model.

    Raises:
        ConfigError: if ``dtype`` is unknown.
        CostMeasurementError: if the exporter fails (e.g. an op unsupported at this opset);
            the message names the model class and the opset.

    Example:
        >>> onnx_bytes = export_onnx(torch.nn.Linear(4, 2), (4,))
        >>> import onnx
        >>> [i.name for i in onnx.load_from_string(onnx_bytes).graph.input]
        ['input']
    """
    if dtype not in _TORCH_DTYPES:
        raise ConfigError(
            f"export dtype {dtype!r} is not supported; use one of: {', '.join(_TORCH_DTYPES)}"
        )
    torch_dtype = _TORCH_DTYPES[dtype]
    with eval_on_cpu(model):
        # Converting in place would round a float32 training model's weights; copy instead.
        exported = model if module_dtype(model) == torch_dtype else copy.deepcopy(model).to(torch_dtype)
        example = torch.randn((batch_size, *input_shape), generator=torch.Generator().manual_seed(0))
        buffer = io.BytesIO()
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", torch.jit.TracerWarning)
                torch.onnx.export(
                    exported,
                    (example.to(torch_dtype),),
                    buffer,
                    input_names=[INPUT_NAME],
                    output_names=[OUTPUT_NAME],
                    opset_version=opset,
                    do_constant_folding=True,
                    dynamo=False,
                )
        except Exception as exc:  # noqa: BLE001 - any exporter failure is a per-candidate failure
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CostMeasurementError(
                f"ONNX export of {type(model).__name__} (input {(batch_size, *input_shape)}, "
                f"opset {opset}) failed: {reason}; try a higher opset in the target or replace the op"
            ) from exc
    onnx_bytes = buffer.getvalue()
    if path is not None:
        Path(path).write_bytes(onnx_bytes)
    return onnx_bytes
