"""Search spaces: genomes, canonical architecture strings and torch modules.

Registered spaces: ``mbv3`` (MobileNetV3-style CNNs), ``mlp`` (joint MLP + training choices).
"""

from .base import SPACES, Gene, SearchSpace, make_space
from . import mbv3, mlp  # noqa: F401  (registration)

__all__ = ["SPACES", "Gene", "SearchSpace", "make_space"]
