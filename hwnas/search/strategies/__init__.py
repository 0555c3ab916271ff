"""Search strategies behind one interface; ``STRATEGIES.get(name)`` returns the class."""

from .base import STRATEGIES, Strategy
from . import bayes, darts, evolution, grid, nsga2, random, reinforce, surrogate  # noqa: F401  (registration)

__all__ = ["STRATEGIES", "Strategy"]
