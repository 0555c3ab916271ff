"""The cost-model interface and its registry.

A cost model turns one architecture (its canonical string and, usually, its torch module) into
hardware-cost metrics on a :class:`~hwnas.cost.target.Target`. Concrete models register by name
in :data:`COST_MODELS`; the built-in ones are in :mod:`hwnas.cost.models`.

Example:
    >>> cost = COST_MODELS.get("counts")(load_target("cpu-ort-1t"), (3, 32, 32))
    >>> sorted(cost.measure("arch-0", model))
    ['macs', 'params']
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Mapping, Sequence

import torch

from ..exceptions import ConfigError
from ..registry import Registry
from .target import Target


class CostModel(ABC):
    """Gives hardware-cost metrics of one architecture on a target.

    Args:
        target: the device/runtime the cost refers to.
        input_shape: shape of one sample, without the batch dimension, e.g. ``(3, 32, 32)``.

    Attributes:
        name: the registry name.
        provides: metric names :meth:`measure` returns, e.g. ``("latency_ms", "latency_spread_pct")``.
        needs_model: whether :meth:`measure` needs the torch module (a table lookup would not).

    Raises:
        ConfigError: if ``input_shape`` is not a tuple of positive integers.
    """

    name: ClassVar[str] = ""
    provides: ClassVar[tuple[str, ...]] = ()
    needs_model: ClassVar[bool] = True

    def __init__(self, target: Target, input_shape: tuple[int, ...]) -> None:
        shape = tuple(input_shape)
        if not shape or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
            raise ConfigError(
                f"cost model {self.name}: input_shape = {input_shape!r} is invalid; use positive "
                "integers without the batch dimension, e.g. (3, 32, 32)"
            )
        self.target = target
        self.input_shape = shape

    @abstractmethod
    def measure(self, arch: str, model: torch.nn.Module | None) -> dict[str, float]:
        """Measure one architecture.

        Args:
            arch: canonical architecture string (used in messages and by table-based models).
            model: its torch module, possibly in train mode; left in the mode it came in.

        Returns:
            One float per name in :attr:`provides`.
        """

    def measure_many(
        self, archs: Sequence[str], models: Sequence[torch.nn.Module | None]
    ) -> list[dict[str, float]]:
        """Measure several architectures; subclasses override this where batching helps.

        Args:
            archs: canonical architecture strings.
            models: their modules, same length as ``archs``.

        Returns:
            One metrics dict per architecture, in order.
        """
        if len(archs) != len(models):
            raise ValueError(f"{len(archs)} archs but {len(models)} models")
        return [self.measure(arch, model) for arch, model in zip(archs, models)]

    def lowest(self, space: Any, smallest: str, model: torch.nn.Module | None) -> dict[str, tuple[float, str]]:
        """The lowest value each metric takes over ``space``, with an architecture that has it.

        A search refuses, before it starts, a budget no architecture can meet. By default this is
        the space's smallest architecture (``smallest``, built as ``model``): computed costs
        grow with width and depth. Models whose values do not (a table) override it.
        """
        return {name: (value, smallest) for name, value in self.measure(smallest, model).items()}

    def closest_together(self, space: Any, bounds: Mapping[str, float]) -> tuple[str, dict[str, float]] | None:
        """The architecture closest to meeting ``bounds`` (metric -> upper bound) together, when no
        architecture of ``space`` meets them all.

        A search also refuses, before it starts, budgets that some architecture meets one by one
        but none meets together, where the model can know it. By default it cannot (a computed cost
        is known only once an architecture is built), and this is None; a table overrides it.

        Returns:
            None when some architecture meets every bound on this model's metrics (or it cannot
            be known); else the architecture closest to meeting them and its values of them.
        """
        return None

    def verify_front(self, archs: Sequence[str]) -> list[dict[str, float]]:
        """Extra columns for the final front; a model that predicts re-measures here.

        Args:
            archs: canonical strings of the front's architectures.

        Returns:
            One dict per architecture (empty for models that measure directly, the default).
        """
        return [{} for _ in archs]

    def source(self) -> dict[str, Any] | None:
        """What this model's numbers come from besides the config, when that can change between
        sessions (a latency table's file and content): recorded with a run, and a ``--resume``
        whose source differs is refused. None (the default): nothing beyond the config."""
        return None

    def describe(self) -> dict[str, Any]:
        """Metadata stored with every number: the cost model, its metrics and the target."""
        return {"cost_model": self.name, "provides": list(self.provides), **self.target.describe()}

    def _require_model(self, arch: str, model: torch.nn.Module | None) -> torch.nn.Module:
        if model is None:
            raise ConfigError(
                f"cost model {self.name!r} needs the torch module of {arch!r} but got None; "
                "build the model before measuring or use a table-based cost model"
            )
        return model


COST_MODELS: Registry[type[CostModel]] = Registry("cost model")
