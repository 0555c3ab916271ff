"""The built-in cost models: ``counts`` (MACs, params), ``memory`` and ``ort`` (latency).

Example:
    >>> latency = COST_MODELS.get("ort")(load_target("cpu-ort-1t"), (3, 32, 32))
    >>> fast, slow = latency.measure_many(["small", "big"], [small_net, big_net])
    >>> sorted(fast), fast["latency_ms"] < slow["latency_ms"]
    (['latency_ms', 'latency_spread_pct'], True)
"""

from __future__ import annotations

from typing import Sequence

import torch

from .base import COST_MODELS, CostModel
from .counts import count_macs_params
from .latency import measure_latency
from .memory import peak_memory_mb
from .onnx_export import export_onnx

_DTYPE_BYTES = {"float32": 4, "float16": 2}


@COST_MODELS.register("counts")
class CountsCostModel(CostModel):
    """MACs (fvcore, batch 1) and parameter count; independent of the target's device."""

    name = "counts"
    provides = ("macs", "params")

    def measure(self, arch: str, model: torch.nn.Module | None) -> dict[str, float]:
        """Count MACs and parameters of ``model`` (see :func:`count_macs_params`)."""
        macs, params = count_macs_params(self._require_model(arch, model), self.input_shape)
        return {"macs": float(macs), "params": float(params)}


@COST_MODELS.register("memory")
class MemoryCostModel(CostModel):
    """Peak inference memory at the target's batch size and dtype (see :func:`peak_memory_mb`)."""

    name = "memory"
    provides = ("peak_memory_mb",)

    def measure(self, arch: str, model: torch.nn.Module | None) -> dict[str, float]:
        """Estimate weights + peak live activations of ``model``, in MB (2**20 bytes)."""
        peak = peak_memory_mb(
            self._require_model(arch, model),
            self.input_shape,
            batch_size=self.target.batch_size,
            dtype_bytes=_DTYPE_BYTES[self.target.dtype],
        )
        return {"peak_memory_mb": peak}


@COST_MODELS.register("ort")
class OrtLatencyCostModel(CostModel):
    """Latency measured with ONNX Runtime on the target (see :func:`measure_latency`).

    Each model is exported on the CPU with the target's batch size, dtype and opset. Prefer
    :meth:`measure_many` for a generation of candidates: they are timed interleaved, so drift in
    the machine's speed affects them alike.
    """

    name = "ort"
    provides = ("latency_ms", "latency_spread_pct")

    def measure(self, arch: str, model: torch.nn.Module | None) -> dict[str, float]:
        """Time one model; returns ``latency_ms`` and ``latency_spread_pct``."""
        return self.measure_many([arch], [model])[0]

    def measure_many(
        self, archs: Sequence[str], models: Sequence[torch.nn.Module | None]
    ) -> list[dict[str, float]]:
        """Export every model, then time them together, interleaved.

        Raises:
            CostMeasurementError: if any model fails to export or run; measure the batch one
                by one to isolate the failing candidate.
            TargetError: if the target's provider is unavailable here.
        """
        if len(archs) != len(models):
            raise ValueError(f"{len(archs)} archs but {len(models)} models")
        onnx_models = [
            export_onnx(
                self._require_model(arch, model),
                self.input_shape,
                batch_size=self.target.batch_size,
                opset=self.target.opset,
                dtype=self.target.dtype,
            )
            for arch, model in zip(archs, models)
        ]
        results = measure_latency(onnx_models, self.target, self.input_shape)
        return [{"latency_ms": r.latency_ms, "latency_spread_pct": r.spread_pct} for r in results]
