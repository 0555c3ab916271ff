"""Search strategies behind one interface; ``STRATEGIES.get(name)`` returns the class."""

from .base import STRATEGIES, Strategy
from . import nsga2  # noqa: F401  (registration)

__all__ = ["STRATEGIES", "Strategy"]
