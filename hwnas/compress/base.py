"""The compressor interface, what it works on, and its registry.

A :class:`Compressor` turns one trained model into a smaller one. Pruning works on the torch
module (and fine-tunes it); quantization works on the exported ONNX graph. A
:class:`Subject` carries both sides through a chain of compressors, so ``prune`` then
``quantize`` is simply two steps: the first changes the module, the second replaces the ONNX
graph by an INT8 one while the (pruned, float) module stays for counting MACs and parameters.

Example:
    >>> prune = COMPRESSORS.get("prune")(ratio=0.5)
    >>> smaller = prune.apply(Subject(module=trained_model), context)
    >>> smaller.module is not trained_model
    True
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Mapping

import torch

from ..registry import Registry


@dataclass(frozen=True)
class CompressContext:
    """What every compressor of one ``hwnas compress`` call may use.

    Attributes:
        task: the run's data (:class:`hwnas.data.Task`): fine-tuning and calibration read its
            training split, never the validation split.
        target: the run's target (batch size, opset, dtype of the exported graph).
        trainer_options: options of the run's proxy trainer (``epochs``, ``lr``, ``seed``...),
            the base of the fine-tuning recipe.
        recipe: the architecture's training recipe from the space (``lr``, ``optimizer``...).
        seed: seeds calibration subsets.
    """

    task: Any
    target: Any
    trainer_options: Mapping[str, Any] = field(default_factory=dict)
    recipe: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample, without the batch dimension."""
        return self.task.input_shape

    def export(self, module: torch.nn.Module) -> bytes:
        """The module as ONNX, exported exactly as the search's latency cost model does."""
        from ..cost import export_onnx

        return export_onnx(module, self.input_shape, batch_size=self.target.batch_size,
                           opset=self.target.opset, dtype=self.target.dtype)


@dataclass(frozen=True)
class Subject:
    """A model on its way through a chain of compressors.

    Attributes:
        module: the float torch module (pruned or not); MACs, parameters and peak memory are
            counted on it.
        onnx_bytes: the deployable graph; None until something needs it (then it is the
            export of ``module``).
        weight_bits: bits per stored weight in ``onnx_bytes`` (32 float, 8 after INT8).
        activation_bits: bits per activation between quantized ops (32 float, 8 after static
            INT8); dynamic quantization keeps float activations.
    """

    module: torch.nn.Module
    onnx_bytes: bytes | None = None
    weight_bits: int = 32
    activation_bits: int = 32

    @property
    def quantized(self) -> bool:
        """True once the ONNX graph holds integer weights."""
        return self.weight_bits <= 8

    def onnx(self, context: CompressContext) -> bytes:
        """The deployable ONNX graph (the float export when no step replaced it)."""
        return self.onnx_bytes if self.onnx_bytes is not None else context.export(self.module)

    def with_(self, **changes: Any) -> "Subject":
        """A copy with some fields replaced."""
        return replace(self, **changes)


class Compressor(ABC):
    """One compression step with fixed settings.

    Attributes:
        name: the registry name, also the ``method`` column of ``compressed.csv``.
    """

    name: ClassVar[str] = ""

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """The settings that define this step, as recorded in ``compressed.csv``."""

    @abstractmethod
    def apply(self, subject: Subject, context: CompressContext) -> Subject:
        """Compress ``subject`` and return a new one; ``subject`` itself is left unchanged.

        Raises:
            Exception: any failure of this model (recorded as a failed variant, the rest go
                on); :class:`hwnas.exceptions.HwnasError` for user errors, which stop the call.
        """

    def check_target(self, target: Any, task: Any = None) -> None:
        """Refuse a target (or the run's task data) this step cannot work for, before any model
        is compressed (the default accepts every target).

        Raises:
            ConfigError: naming the target and what to do.
        """

    @property
    def label(self) -> str:
        """Short, file-name-safe tag of this step, e.g. ``prune0.5`` or ``int8-qdq``."""
        return self.name

    def describe(self) -> str:
        """``name(key=value, ...)``: the step with all its settings, one token without spaces."""
        return f"{self.name}(" + ",".join(f"{k}={v}" for k, v in self.settings().items()) + ")"


class VariantFailure(Exception):
    """A variant this step cannot make from this model (e.g. pruning that would remove nothing):
    recorded as a failed row with the message as its reason, the other variants go on."""


COMPRESSORS: Registry[type[Compressor]] = Registry("compressor")
