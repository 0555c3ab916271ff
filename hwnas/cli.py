"""The ``hwnas`` command line. Sub-commands live in :mod:`hwnas.commands`.

``main(argv) -> int`` is testable in-process. User errors print one line and return 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .exceptions import CLI_WORDS, HwnasError


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors (a bad flag value, a missing argument) on one line like every
    other user error, instead of the usage block before them; ``--help`` still shows it."""

    def error(self, message: str):
        if message.startswith("unrecognized arguments:") and any(w.startswith("--plugin") for w in message.split()):
            message += "; --plugin goes before the sub-command, e.g. hwnas --plugin MODULE search ..."
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> tuple[argparse.ArgumentParser, dict]:
    from .commands import COMMANDS

    parser = _Parser(prog="hwnas", description="Hardware-aware neural architecture search.")
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help=f"import MODULE first: its registered spaces, estimators, cost models, strategies, "
                             f"datasets... become usable by name (repeatable; also ${PLUGINS_ENV}, comma-separated)")
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {}
    for name in COMMANDS.names():
        command = COMMANDS.get(name)()
        command.parser = sub.add_parser(name, help=command.help)  # e.g. for resume hints that repeat the flags
        command.configure(command.parser)
        commands[name] = command
    return parser, commands


#: Environment variable naming plugin modules to import, comma-separated.
PLUGINS_ENV = "HWNAS_PLUGINS"


def _env_plugins() -> list[str]:
    import os

    return [m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",") if m.strip()]


def load_plugins(modules: Sequence[str], source: str = "") -> None:
    """Import user modules that register parts (``@SPACES.register("myspace")`` ...).

    Worker processes import them again by name (:func:`hwnas.registry.plugin_modules`).

    Raises:
        PluginError: a module that cannot be imported, or whose import fails (a name registered
            twice, an error in its code), in one line naming the module and the fix; ``source``
            (e.g. the environment variable that named it) is said too, so a user who never typed
            the name knows where it came from.
    """
    import importlib
    import shlex

    from .exceptions import PluginError

    for module in modules:
        if module.endswith(".py") or "/" in module or "\\" in module:  # a file path, where a module name goes
            from pathlib import Path

            path, name = Path(module), Path(module).name.removesuffix(".py")
            load = f"{source}={name} hwnas" if source else f"hwnas --plugin {name}"
            raise PluginError(f"plugin {module!r}" + (f" (from {source})" if source else "") + " is a file path; "
                              f"plugins are loaded by module name: "
                              f"PYTHONPATH={shlex.quote(str(path.parent))} {load} ...")
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - any failure of user code at import is the user's to fix
            detail = str(exc).splitlines()[0] if str(exc) else ""
            named = f"plugin {module!r}" + (f" (from {source})" if source else "")
            fix = f", or remove it from {source}" if source else ""
            raise PluginError(f"{named} cannot be imported ({type(exc).__name__}: {detail}); give an importable "
                              f"module name (installed, or its folder on PYTHONPATH) and fix its code{fix}")


def _plugins_given(argv: Sequence[str] | None) -> list[str]:
    """The ``--plugin`` modules on the command line (before the sub-command), read ahead of the
    full parse: the parsers are built after the plugins load, so a budget a plugin declares gets
    its ``--max-...`` flag."""
    ahead = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    ahead.add_argument("--plugin", action="append", default=[])
    try:
        known, _ = ahead.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    except (argparse.ArgumentError, SystemExit):  # e.g. --plugin without a module: the full parse says so
        return []
    return known.plugin


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 user error, 130 interrupted)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C before a command took charge of it (while importing, reading the config)
        print("\nhwnas: interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    try:
        load_plugins(_env_plugins(), source=PLUGINS_ENV)
        load_plugins(_plugins_given(argv))
    except HwnasError as exc:
        print(f"hwnas: error: {exc}", file=sys.stderr)
        return 2
    parser, commands = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return commands[args.command].run(args)
    except HwnasError as exc:  # its fix in the command line's words (--resume, --out)
        print(f"hwnas: error: {exc.said(CLI_WORDS)}", file=sys.stderr)
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
