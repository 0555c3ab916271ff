"""Search spaces: genomes, canonical architecture strings and torch modules.

Registered spaces: ``mbv3`` (MobileNetV3-style CNNs), ``mlp`` (joint MLP + training choices),
``nb201`` (NAS-Bench-201 cells).
"""

from .base import SPACES, Gene, LayerSignature, SearchSpace, make_space
from . import mbv3, mlp, nb201  # noqa: F401  (registration)

__all__ = ["SPACES", "Gene", "LayerSignature", "SearchSpace", "make_space"]
