"""``quantize``: INT8 post-training quantization with ``onnxruntime.quantization``.

Static quantization calibrates activation ranges (min/max) on a seeded subset of the training
split and stores uint8 activations with int8 weights (U8S8), the combination ONNX Runtime's
x86 kernels run fastest: on the development machine (AVX-512) digits models with int8
activations (S8S8) ran 3.2-3.8x slower than float, with uint8 activations 1.05-1.2x. The
graph is first pre-processed (shape inference and ORT graph optimisation, as
``onnxruntime.quantization`` recommends). Both graph formats exist:

* ``qdq``: QuantizeLinear/DequantizeLinear pairs around float ops, fused by ORT at load time;
* ``qoperator``: explicit QLinearConv/QGemm/... operators.

Which is faster depends on the target, so the ``int8`` scheme builds both and lets the
measurement decide. Dynamic quantization (int8 weights, activations quantized at run time)
is offered as ``int8-dynamic`` because measurement, not belief, should rule it out: on the
development CPU it made digits CNNs 7-15x slower (ORT has no fast dynamic convolution).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import ConfigError
from ..registry import Registry
from .base import COMPRESSORS, CompressContext, Compressor, Subject

MODES = ("static", "dynamic")
FORMATS = ("qdq", "qoperator")

#: Training samples that calibrate static INT8 when none are asked (fewer when the split is smaller).
DEFAULT_CALIBRATION_SAMPLES = 256

#: ``--quantize`` names -> the quantize settings each one builds (one variant per entry).
QUANT_SCHEMES: Registry[tuple[dict[str, Any], ...]] = Registry("quantization scheme")
QUANT_SCHEMES.add("int8", ({"mode": "static", "format": "qdq"}, {"mode": "static", "format": "qoperator"}))
QUANT_SCHEMES.add("int8-qdq", ({"mode": "static", "format": "qdq"},))
QUANT_SCHEMES.add("int8-qoperator", ({"mode": "static", "format": "qoperator"},))
QUANT_SCHEMES.add("int8-dynamic", ({"mode": "dynamic"},))


@COMPRESSORS.register("quantize")
class QuantizeCompressor(Compressor):
    """INT8 quantization of the subject's ONNX graph.

    Args:
        mode: ``"static"`` (calibrated activations) or ``"dynamic"``.
        format: ``"qdq"`` or ``"qoperator"`` (static only; dynamic always uses operators).
        per_channel: one weight scale per output channel instead of per tensor.
        calibration_samples: training samples used to calibrate activation ranges (static);
            None: 256, or the whole training split when it is smaller (:meth:`check_target`).

    Raises:
        ConfigError: an unknown mode or format, or a bad sample count.

    Example:
        >>> int8 = QuantizeCompressor("static", format="qdq").apply(Subject(model), context)
        >>> int8.weight_bits
        8
    """

    name = "quantize"

    def __init__(self, mode: str = "static", *, format: str = "qdq", per_channel: bool = False,
                 calibration_samples: int | None = None) -> None:
        if mode not in MODES:
            raise ConfigError(f"quantize mode {mode!r} is unknown; use one of: {', '.join(MODES)}")
        if format not in FORMATS:
            raise ConfigError(f"quantize format {format!r} is unknown; use one of: {', '.join(FORMATS)}")
        if not isinstance(per_channel, bool):
            raise ConfigError(f"quantize per_channel {per_channel!r} must be true or false")
        self.default_samples = calibration_samples is None
        calibration_samples = DEFAULT_CALIBRATION_SAMPLES if calibration_samples is None else calibration_samples
        if isinstance(calibration_samples, bool) or not isinstance(calibration_samples, int) or calibration_samples < 1:
            raise ConfigError(f"quantize calibration_samples {calibration_samples!r} must be an integer >= 1, e.g. 256")
        self.mode = mode
        self.format = "qoperator" if mode == "dynamic" else format
        self.per_channel = per_channel
        self.calibration_samples = int(calibration_samples)

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode, "format": self.format, "per_channel": self.per_channel}
        if self.mode == "static":
            out.update(activations="uint8", weights="int8", calibration_samples=self.calibration_samples)
        return out

    @property
    def label(self) -> str:
        return "int8-dynamic" if self.mode == "dynamic" else f"int8-{self.format}"

    def check_target(self, target, task=None) -> None:
        if target.dtype != "float32":
            raise ConfigError(f"quantize needs float32 graphs but target {target.name!r} has "
                              f"dtype {target.dtype!r}; compress on a float32 target")
        if self.mode != "static":
            return
        if task is not None and len(task.x_train) < target.batch_size:  # no --calibration-samples can help
            raise ConfigError(f"static INT8 calibrates on at least one batch of target {target.name!r} ("
                              f"batch_size {target.batch_size}), but the run has only {len(task.x_train)} training "
                              f"samples; quantize with --quantize int8-dynamic (no calibration) or compress on a "
                              f"target with a smaller batch_size")
        if task is not None and self.default_samples:  # the default takes what a small split has
            self.calibration_samples = min(self.calibration_samples, len(task.x_train))
        if self.calibration_samples < target.batch_size:
            raise ConfigError(f"--calibration-samples {self.calibration_samples} cannot fill one batch of target "
                              f"{target.name!r} (batch_size {target.batch_size}); pass --calibration-samples "
                              f"{target.batch_size} or more")
        if task is not None and self.calibration_samples > len(task.x_train):
            raise ConfigError(f"--calibration-samples {self.calibration_samples} is more than the run's "
                              f"{len(task.x_train)} training samples; pass --calibration-samples "
                              f"{len(task.x_train)} or fewer")
        # calibration reads whole batches: record the samples it reads (100 at batch_size 16 reads 96)
        self.calibration_samples -= self.calibration_samples % target.batch_size

    def apply(self, subject: Subject, context: CompressContext) -> Subject:
        """Quantize ``subject.onnx(context)``; the float module is kept for counting.

        Raises:
            ConfigError: the target's graphs are not float32, or the subject is already INT8.
        """
        self.check_target(context.target, context.task)
        if subject.quantized:
            raise ConfigError("quantize was asked twice in one chain; quantize once")
        from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process

        with tempfile.TemporaryDirectory(prefix="hwnas-quant-") as tmp:
            src, pre, out = (Path(tmp) / n for n in ("float.onnx", "pre.onnx", "int8.onnx"))
            src.write_bytes(subject.onnx(context))
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            if self.mode == "dynamic":
                quantize_dynamic(str(pre), str(out), per_channel=self.per_channel, weight_type=QuantType.QInt8)
            else:
                fmt = QuantFormat.QDQ if self.format == "qdq" else QuantFormat.QOperator
                quantize_static(str(pre), str(out), _calibration_reader(context, self.calibration_samples),
                                quant_format=fmt, per_channel=self.per_channel,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
            int8 = out.read_bytes()
        return subject.with_(onnx_bytes=int8, weight_bits=8, activation_bits=8 if self.mode == "static" else 32)


def _calibration_batches(context: CompressContext, samples: int) -> list[np.ndarray]:
    """A seeded subset of the training split in batches of the target's batch size."""
    x = context.task.x_train
    take = np.sort(np.random.default_rng(context.seed).permutation(len(x))[:samples])
    bs = context.target.batch_size
    if len(take) < bs:
        raise ValueError(f"{len(take)} calibration samples cannot fill one batch of {bs}; "
                         f"raise calibration_samples")
    return [np.ascontiguousarray(x[take[i:i + bs]]) for i in range(0, len(take) - bs + 1, bs)]


def _calibration_reader(context: CompressContext, samples: int):
    """An ``onnxruntime.quantization.CalibrationDataReader`` over training batches."""
    from onnxruntime.quantization import CalibrationDataReader

    from ..cost.onnx_export import INPUT_NAME

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(_calibration_batches(context, samples))

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    return Reader()
