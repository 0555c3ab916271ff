"""What a strategy proposes, checked before anything is evaluated: each genome becomes its
canonical string (the store's key), and a failure in a plugin's code (a strategy's ask, a
space's decode) is one error line that names the plugin, not a traceback."""

from __future__ import annotations

import numpy as np

from ..exceptions import HwnasError, PluginError, SpaceError
from ..registry import plugin_modules, qualified_name, raised_in


def canonical_archs(space, genomes, strategy: str) -> list[str]:
    """The proposed genomes' canonical strings; a genome the space refuses is the strategy's fault.

    Args:
        space: the run's search space.
        genomes: the strategy's proposals, shape ``(n, n_genes)``.
        strategy: the strategy's name, for the message.

    Raises:
        SpaceError: a genome the space refuses (naming the strategy), or one a plugin space
            cannot decode or turns into no string (naming the space).
    """
    try:
        shape = np.shape(genomes)
    except ValueError:  # rows of different lengths
        shape = "ragged"
    if shape == (0,):  # an empty batch: nothing proposed (the runner counts it as a stale ask)
        return []
    if len(shape) != 2:  # one genome as a flat row read as n genomes of 1 gene each
        raise SpaceError(f"strategy {strategy!r} proposed an array of shape {shape}, not (n, {space.n_genes}); its "
                         f"ask() must return one genome per row (a single genome g as g[None]) within the space's "
                         f"upper_bounds")
    try:
        valid = [space.validate(g) for g in genomes]
    except SpaceError as exc:
        raise SpaceError(f"strategy {strategy!r} proposed a genome the {space.name} space refuses "
                         f"({exc}); its ask() must return integers of shape (n, {space.n_genes}) "
                         f"within the space's upper_bounds") from None
    archs = []
    for genome in valid:
        try:
            archs.append(space.canonical(space.decode(genome)))
        except HwnasError:
            raise
        except Exception as exc:  # noqa: BLE001 - a plugin space's own bug, told in one line
            if raised_in(exc, {*plugin_modules(), "__main__"}) is None:
                raise  # hwnas's own: its traceback says where
            raise SpaceError(f"space {space.name!r} ({qualified_name(type(space))}) cannot "
                             f"decode the genome {genome.tolist()}, which is within its upper_bounds "
                             f"({type(exc).__name__}: {exc}); its decode() and canonical() must accept every "
                             f"such genome") from None
        if not isinstance(archs[-1], str):  # the store's key: sqlite's refusal would read as a full disk
            raise SpaceError(f"space {space.name!r} ({qualified_name(type(space))}) "
                             f"canonical() returned {type(archs[-1]).__name__} {archs[-1]!r:.60} for the genome "
                             f"{genome.tolist()}, not a string; return a string that its parse() reads back")
    return archs


def blamed(method, role: str, name: str, *args):
    """``method(*args)``; an exception raised in a plugin's code (a space's decode called by the
    strategy, a strategy's own ask) becomes one :class:`PluginError` line naming the plugin's
    function, so the search stops with its outputs written instead of a traceback. An exception
    raised in hwnas itself (a bug) keeps its traceback."""
    try:
        return method(*args)
    except HwnasError:
        raise
    except Exception as exc:  # noqa: BLE001 - re-raised unless a plugin's code raised it
        where = raised_in(exc, {*plugin_modules(), "__main__"})  # __main__: a script that registers its own parts
        if where is None:
            raise
        raise PluginError(f"{role} {name!r}: {method.__name__}() failed in the plugin code {where}: "
                          f"{type(exc).__name__}: {exc}; fix the plugin") from None
