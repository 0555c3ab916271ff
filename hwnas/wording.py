"""Wording shared by the messages hwnas prints: a count with its noun in the right number."""

from __future__ import annotations

from collections.abc import Sized


def counted(n: int | Sized, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1 (``plural``, default ``noun + "s"``).

    Args:
        n: a number, or a collection whose length is counted.
        noun: the singular.
        plural: the plural when it is not ``noun + "s"``.

    Example:
        >>> counted(1, "seed"), counted(3, "seed"), counted(["a", "b"], "strategy", "strategies")
        ('1 seed', '3 seeds', '2 strategies')
    """
    k = n if isinstance(n, int) else len(n)
    return f"{k} {noun if k == 1 else plural or noun + 's'}"
