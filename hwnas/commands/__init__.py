"""The ``hwnas`` sub-commands, one module each; importing this package registers them."""

from .base import COMMANDS, Command
from . import bench, compress, export, fidelity, listing, pick, profile, search  # noqa: F401  (registration)

__all__ = ["COMMANDS", "Command"]
