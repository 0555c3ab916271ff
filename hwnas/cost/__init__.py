"""Hardware cost of architectures: targets, MACs/params, peak memory and ONNX Runtime latency.

Example:
    >>> from hwnas.cost import COST_MODELS, load_target
    >>> target = load_target("cpu-ort-1t")
    >>> metrics = COST_MODELS.get("ort")(target, (3, 32, 32)).measure("arch", model)
    >>> sorted(metrics)
    ['latency_ms', 'latency_spread_pct']
"""

from .base import COST_MODELS, CostModel
from .counts import count_macs_params
from .errors import CostMeasurementError
from .latency import LatencyMeasurement, make_session, measure_latency, require_provider
from .memory import peak_memory_mb
from . import models as _models  # noqa: F401  - registers "counts", "memory", "ort"
from . import table as _table  # noqa: F401  - registers "table"
from . import lut as _lut  # noqa: F401  - registers "lut"
from .onnx_export import export_onnx
from .target import Target, load_target

__all__ = [
    "COST_MODELS",
    "CostMeasurementError",
    "CostModel",
    "LatencyMeasurement",
    "Target",
    "count_macs_params",
    "export_onnx",
    "load_target",
    "make_session",
    "require_provider",
    "measure_latency",
    "peak_memory_mb",
]
