"""From the Pareto front to deployable models: structured pruning and INT8 quantization,
each re-measured on the run's target (accuracy with ONNX Runtime, latency, MACs, memory, size).

Example:
    >>> from hwnas.compress import build_chains, compress_run
    >>> result = compress_run("runs/digits", build_chains([0.25, 0.5], ["int8"]), front=True)
    >>> best_variants(result.rows)  # parent arch -> fastest variant within 1 accuracy point
"""

from .base import COMPRESSORS, CompressContext, Compressor, Subject
from . import prune as _prune  # noqa: F401  - registers "prune"
from . import quantize as _quantize  # noqa: F401  - registers "quantize"
from .pipeline import Chain, CompressResult, build_chains, compress_run
from .quantize import QUANT_SCHEMES
from .results import COMPRESSED_CSV, best_variants, fronts, hypervolumes, read_compressed

__all__ = [
    "COMPRESSED_CSV",
    "COMPRESSORS",
    "QUANT_SCHEMES",
    "Chain",
    "CompressContext",
    "CompressResult",
    "Compressor",
    "Subject",
    "best_variants",
    "build_chains",
    "compress_run",
    "fronts",
    "hypervolumes",
    "read_compressed",
]
