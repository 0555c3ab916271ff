"""The outputs of a search stopped by an interrupt or an error: everything that finished is
written (the front not re-measured) so it can be read before a ``--resume``; the interrupt or
error, and its resume hint, always win over any trouble writing them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..evaluation import Evaluation
from ..outputs import write_outputs
from ..store import Store

if TYPE_CHECKING:
    from .runner import SearchRun


def write_stored(run: SearchRun, store: Store) -> int:
    """:func:`write_unverified` for a run stopped before it read its evaluations: what
    ``store`` holds; nothing when the run was not recorded yet, or the store cannot be read
    (it holds everything; the outputs follow on resume). Returns how many are stored."""
    with second_interrupt_held():  # a second Ctrl-C while the store is read
        try:
            if store.get_meta("config") is None:  # stopped before the run was recorded
                return 0
            evaluations = store.all()
        except Exception:  # noqa: BLE001 - the interrupt or error, and its resume hint, win
            return 0
        return write_unverified(run, evaluations)


def write_unverified(run: SearchRun, evaluations: list[Evaluation]) -> int:
    """On an interrupt or an error: the outputs of ``evaluations`` (everything that finished),
    readable before a ``--resume`` (the front not re-measured); returns how many there are.
    The interrupt or error, and its resume hint, win over any trouble writing them."""
    try:
        if run.outputs:
            # a second Ctrl-C (pressed twice) would leave no evaluations.csv: the one already
            # under way stops the command once they are written
            with second_interrupt_held():
                write_outputs(run.run_dir, run.config, evaluations, regression=run.regression)
    except Exception:  # noqa: BLE001 - the store holds everything; outputs follow on resume
        pass
    return len(evaluations)


def second_interrupt_held():
    """:func:`~hwnas.interrupts.held_interrupts` in the main thread (the only one that may set
    signal handlers: a search run from another thread writes its outputs unheld)."""
    import threading
    from contextlib import nullcontext

    from ..interrupts import held_interrupts

    return held_interrupts() if threading.current_thread() is threading.main_thread() else nullcontext([])
