"""Re-measuring compressed models: accuracy with ONNX Runtime, counts, memory, size, latency.

Every number describes the deployable ONNX graph or the float module it came from:

* ``error_pct`` / ``accuracy_pct``: the ONNX graph run by ONNX Runtime (the target's session
  settings) on the whole validation split, so an INT8 model is scored as INT8, not as the
  float module it was made from. Same units as the estimators (see :mod:`hwnas.estimate.base`).
* ``macs``, ``params``: fvcore on the float module (quantization keeps both; pruning cuts them).
* ``peak_memory_mb``: the search's memory model with weights at ``weight_bits`` and
  activations at ``activation_bits`` per element.
* ``model_size_mb``: bytes of the serialised ONNX graph / 2**20.
* ``latency_ms``, ``latency_spread_pct``: :func:`hwnas.cost.measure_latency`, all models of
  one call timed together, interleaved, so their ratios are fair.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..cost.memory import BYTES_PER_MB, peak_memory_mb
from .base import CompressContext, Subject


#: ONNX Runtime input type names of the float dtypes a graph may take.
_ORT_FLOATS = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


def onnx_error_pct(onnx_bytes: bytes, task: Any, target: Any) -> float:
    """Validation error of an ONNX graph run by ONNX Runtime, in percent.

    The graph's batch dimension is fixed (the target's batch size), so the split is fed in
    batches of that size, the last one padded.

    Args:
        onnx_bytes: a graph with one input of shape ``(target.batch_size, *task.input_shape)``.
        task: the data; classification scores top-1 error, regression ``100 * (1 - R^2)``.
        target: session settings.

    Returns:
        ``error_pct``.

    Raises:
        FloatingPointError: outputs are not finite (or regression targets are constant).

    Example:
        >>> onnx_error_pct(export_onnx(model, (1, 12, 12)), task, load_target("cpu-ort-1t"))
        1.333
    """
    from ..cost import make_session

    session = make_session(onnx_bytes, target)
    graph_input = session.get_inputs()[0]
    name = graph_input.name
    bs = target.batch_size
    # the graph's own input type (a float16 target's graph takes float16)
    x = task.x_val.astype(_ORT_FLOATS.get(graph_input.type, np.float32), copy=False)
    outs = []
    for i in range(0, len(x), bs):
        batch = x[i:i + bs]
        if len(batch) < bs:
            batch = np.concatenate([batch, np.repeat(batch[-1:], bs - len(batch), axis=0)])
        outs.append(session.run(None, {name: np.ascontiguousarray(batch)})[0])
    out = np.concatenate(outs)[:len(x)].astype(np.float64)
    if not np.isfinite(out).all():
        raise FloatingPointError("validation outputs of the ONNX graph are NaN or infinite")
    y = task.y_val
    if task.is_regression:
        pred = out.reshape(len(x), -1)[:, 0]
        ss_tot = float(((y - y.mean()) ** 2).sum())
        if ss_tot == 0.0:
            raise FloatingPointError("validation targets are constant; R^2 is undefined")
        return 100.0 * float(((pred - y) ** 2).sum()) / ss_tot
    return 100.0 * float((out.argmax(axis=1) != y).mean())


def static_metrics(subject: Subject, context: CompressContext) -> dict[str, float]:
    """Everything but latency for one subject (see the module docstring for units).

    Raises:
        Exception: the graph fails to load or run (the caller records the variant as failed).
    """
    from ..cost import count_macs_params

    onnx_bytes = subject.onnx(context)
    error = onnx_error_pct(onnx_bytes, context.task, context.target)
    macs, params = count_macs_params(subject.module, context.input_shape)
    return {"error_pct": error, "accuracy_pct": 100.0 - error, "macs": float(macs), "params": float(params),
            "peak_memory_mb": _peak_memory_mb(subject, context),
            "model_size_mb": len(onnx_bytes) / BYTES_PER_MB,
            "weight_bits": float(subject.weight_bits), "activation_bits": float(subject.activation_bits)}


def latency_metrics(onnx_models: Sequence[bytes], target: Any,
                    input_shape: tuple[int, ...]) -> list[dict[str, float]]:
    """Latency of all graphs timed together, interleaved, with the run's target settings.

    Raises:
        CostMeasurementError: a graph fails to run.
    """
    from ..cost import measure_latency

    results = measure_latency(list(onnx_models), target, input_shape)
    return [{"latency_ms": r.latency_ms, "latency_spread_pct": r.spread_pct} for r in results]


def _peak_memory_mb(subject: Subject, context: CompressContext) -> float:
    """Peak memory with weights and activations at their own widths (bits per element)."""
    module = subject.module
    weight_elements = sum(p.numel() for p in module.parameters())
    weight_elements += sum(b.numel() for b in module.buffers() if b.is_floating_point())
    # peak_memory_mb at one byte per element is the element count (weights + activations) in MB
    total_elements = peak_memory_mb(module, context.input_shape, batch_size=context.target.batch_size,
                                    dtype_bytes=1) * BYTES_PER_MB
    activation_elements = total_elements - weight_elements
    return (weight_elements * subject.weight_bits + activation_elements * subject.activation_bits) / 8 / BYTES_PER_MB
