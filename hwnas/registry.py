"""One generic name -> object registry used for spaces, datasets, estimators, cost models,
strategies and objectives.

Example:
    >>> SPACES = Registry("search space")
    >>> @SPACES.register("mlp")
    ... class MLPSpace: ...
    >>> SPACES.get("mlp") is MLPSpace
    True
"""

from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from .exceptions import RegistryError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to registered objects; unknown names raise with close-match suggestions.

    Args:
        kind: what is registered, used in error messages ("search space", "dataset", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name``.

        Raises:
            ValueError: if ``name`` is already taken (a programming error, not user input).
        """

        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name`` (non-decorator form)."""
        return self.register(name)(obj)

    def get(self, name: str) -> T:
        """Return the object registered as ``name``.

        Raises:
            RegistryError: naming the unknown value, close matches and all valid names.
        """
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), self._items, n=3, cutoff=0.5)
            hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
            raise RegistryError(
                f"unknown {self.kind} {name!r}; {hint}choose one of: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
