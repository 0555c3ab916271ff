"""The sub-command interface of the ``hwnas`` CLI and its registry.

Each sub-command lives in its own module under :mod:`hwnas.commands`, subclasses
:class:`Command` and registers itself; :mod:`hwnas.cli` only builds the parser and dispatches.
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from pathlib import Path

from ..registry import Registry
from ..search.objectives import BUDGETS


class Command(ABC):
    """One ``hwnas <name>`` sub-command.

    Attributes:
        help: one-line description shown by ``hwnas --help``.
        parser: the command's own parser, set before :meth:`configure` (a resume hint reads the
            flags back through it, :func:`resume_command`).
    """

    help: str = ""
    parser: argparse.ArgumentParser

    @abstractmethod
    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Add this command's arguments."""

    @abstractmethod
    def run(self, args: argparse.Namespace) -> int:
        """Execute; return the exit code. Raise :class:`HwnasError` for user errors."""


COMMANDS: Registry[type[Command]] = Registry("command")


def int_list(text: str) -> list[int]:
    """argparse type: comma-separated positive integers (``"50,200,1000"``)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} needs positive integers, e.g. 50,200,1000")
    return values


def check_at_least(args: argparse.Namespace, lows: dict[str, int]) -> None:
    """Refuse an integer flag below its lowest valid value (flags left unset are skipped).

    Args:
        lows: argparse dest -> lowest valid value, e.g. ``{"seed": 0, "passes": 2}``.

    Raises:
        ConfigError: ``--seed -1 is out of range; use an integer >= 0``.
    """
    from ..exceptions import ConfigError

    for key, low in lows.items():
        value = getattr(args, key)
        if value is not None and value < low:
            raise ConfigError(f"--{key.replace('_', '-')} {value} is out of range; use an integer >= {low}")


def names(text: str) -> list[str]:
    """argparse type: comma-separated names, blanks and repeats dropped (order kept)."""
    return list(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))


def add_budget_flags(parser: argparse.ArgumentParser) -> None:
    """Add one ``--max-...`` flag per declared budget."""
    for name in BUDGETS.names():
        b = BUDGETS.get(name)
        parser.add_argument(b.flag, dest=name, type=float, metavar=b.unit.upper(),
                            help=f"budget: {b.column} <= this ({b.unit})".replace("%", "%%"))  # argparse %-formats


def budgets_from(args: argparse.Namespace) -> dict[str, float]:
    """The budget flags the user gave."""
    return {n: getattr(args, n) for n in BUDGETS.names() if getattr(args, n, None) is not None}


def resume_command(parser: argparse.ArgumentParser, args: argparse.Namespace, out: Path, command: str) -> str:
    """The command that continues an interrupted ``hwnas <command>``: the same config (or table),
    every flag the user gave (overrides change what is run, and ``--resume`` refuses a different
    one), ``--out`` and ``--resume``.

    Built from the parsed arguments, not ``sys.argv``, so it is right however ``main`` was called.

    Args:
        parser: the command's parser that parsed ``args``.
        args: the parsed arguments (a ``config`` positional, when the command has one).
        out: the output directory (``--out``, or its default).
        command: the command's name, e.g. ``"search"``.

    Returns:
        A shell command line, each word quoted as the shell needs.
    """
    import shlex

    plugins = [w for m in getattr(args, "plugin", None) or [] for w in ("--plugin", m)]  # hwnas's own flag
    words = ["hwnas", *plugins, command] + ([args.config] if getattr(args, "config", None) is not None else [])
    for action in parser._actions:  # argparse's list of arguments, in the order they were added
        value = getattr(args, action.dest, None)
        if not action.option_strings or action.dest in ("help", "out", "resume") or value in (None, action.default):
            continue
        flag = max(action.option_strings, key=len)
        if action.nargs == 0:  # store_true
            words.append(flag)
        elif isinstance(value, list) and type(action).__name__ != "_AppendAction":  # one comma-separated list
            words += [flag, ",".join(map(str, value))]
        else:
            for v in value if isinstance(value, list) else [value]:
                words += [flag, str(v)]
    words += ["--out", str(out), "--resume"]
    return " ".join(shlex.quote(w) for w in words)


def unfinished_search_note(run, run_dir: str, what: str, again: str) -> str | None:
    """The note for a command that reads the evaluations of a search that has not finished: still
    running (another process holds the run) or stopped (Ctrl-C, kill or an error); None once finished.

    Args:
        run: the run read back (:func:`hwnas.outputs.load_run`).
        run_dir: the run folder as the user named it.
        what: what the command takes from the evaluations stored so far, e.g. "this pick is among".
        again: what to do once the search has finished, e.g. "pick again".
    """
    from ..search.run_folder import writer
    from ..wording import counted

    if run.finished is not False:
        return None
    n, of = len(run.evaluations), counted(run.config.search["evaluations"], "evaluation")
    running = writer(run.path)
    if running:  # not stopped: a --resume now would be refused
        return (f"hwnas: note: the search in {run_dir} is still running (pid {running}); {what} the {n} "
                f"of its {of} stored so far; {again} when it has finished")
    return (f"hwnas: note: the search in {run_dir} was stopped (Ctrl-C, kill or an error) after {n} of its {of}; "
            f"{what} those; continue it with the same hwnas search command, adding --resume")
