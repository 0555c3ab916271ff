"""The ``hwnas`` command line. Sub-commands live in :mod:`hwnas.commands`.

``main(argv) -> int`` is testable in-process. User errors print one line and return 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .exceptions import HwnasError


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors (a bad flag value, a missing argument) on one line like every
    other user error, instead of the usage block before them; ``--help`` still shows it."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> tuple[argparse.ArgumentParser, dict]:
    from .commands import COMMANDS

    parser = _Parser(prog="hwnas", description="Hardware-aware neural architecture search.")
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {}
    for name in COMMANDS.names():
        command = COMMANDS.get(name)()
        command.configure(sub.add_parser(name, help=command.help))
        commands[name] = command
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 user error, 130 interrupted)."""
    parser, commands = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return commands[args.command].run(args)
    except HwnasError as exc:
        print(f"hwnas: error: {exc}", file=sys.stderr)
        return 2


def main_entry() -> None:
    """Console-script entry point."""
    try:
        sys.exit(main())
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main_entry()
