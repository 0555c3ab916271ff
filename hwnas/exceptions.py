"""Every user-facing failure in hwnas is a :class:`HwnasError`.

The CLI prints ``str(error)`` as one line and exits with code 2, so each message names the
offending value, where it came from, and what to do about it.
"""

from __future__ import annotations

from typing import Mapping

#: Placeholders for the words of a fix that a Python caller and the command line say differently
#: (how to continue a stored run, how to name another run folder, how to choose the latency's
#: source). A message writes them (``f"{RESUME}: ..."``); ``str(error)`` says them as a caller of
#: :func:`hwnas.run_search` writes them, and the CLI prints :meth:`HwnasError.said` with its flags.
RESUME, OUT, LATENCY_LUT, LATENCY_MEASURE = "{resume}", "{out}", "{latency lut}", "{latency measure}"
#: export's (:func:`hwnas.export.export_run_arch`): its output file, and random weights asked for
OUTPUT, UNTRAINED = "{output}", "{untrained}"
#: how to load a run's plugin modules ``a`` and ``b``: f"{LOAD_PLUGIN} a{AND_PLUGIN} b{PLUGIN_END}" says
#: ``import a, b`` in Python and ``hwnas --plugin a --plugin b ...`` on the command line
LOAD_PLUGIN, AND_PLUGIN, PLUGIN_END = "{load plugin}", "{and plugin}", "{plugin end}"
PYTHON_WORDS = {LOAD_PLUGIN: "import", AND_PLUGIN: ",", PLUGIN_END: "", RESUME: "resume=True", OUT: "run_dir", LATENCY_LUT: "config.cost['latency'] = 'lut'",
                LATENCY_MEASURE: "config.cost['latency'] = 'measure'", OUTPUT: "output", UNTRAINED: "untrained=True"}
CLI_WORDS = {LOAD_PLUGIN: "hwnas --plugin", AND_PLUGIN: " --plugin", PLUGIN_END: " ...", RESUME: "--resume", OUT: "--out", LATENCY_LUT: "--latency lut", LATENCY_MEASURE: "--latency measure",
             OUTPUT: "-o", UNTRAINED: "--untrained"}


class HwnasError(Exception):
    """Base class for errors caused by user input or environment, never by a bug.

    Its message may name a fix with placeholders (:data:`RESUME`, :data:`OUT`, ...): ``str(error)``
    says them in Python's words (:data:`PYTHON_WORDS`), :meth:`said` in any caller's.
    """

    def said(self, words: Mapping[str, str] = PYTHON_WORDS) -> str:
        """The message with its placeholders said in ``words`` (:data:`CLI_WORDS`: the command line's)."""
        # a subclass (a plugin's) may say its message its own way
        text = super().__str__() if type(self).__str__ is HwnasError.__str__ else str(self)
        for placeholder, word in words.items():
            text = text.replace(placeholder, word)
        return text

    def __str__(self) -> str:
        return self.said()


class ConfigError(HwnasError):
    """A config file, CLI flag or option has a missing, malformed or out-of-range value."""


class RegistryError(ConfigError):
    """A name (space, objective, dataset, ...) is not registered."""


class PluginError(ConfigError):
    """A plugin module (``--plugin``, ``HWNAS_PLUGINS``) that cannot be imported, or whose code raised
    where the search called it (a space's decode inside a strategy's ask)."""


class SpaceError(HwnasError):
    """A genome or architecture string is not valid in its search space."""


class DataError(HwnasError):
    """A dataset cannot be found or read, or has the wrong shape."""


class TargetError(HwnasError):
    """A target description is invalid or cannot run on this machine."""


class LatencyTableError(TargetError):
    """A latency table is missing, malformed, built for another target/runtime/input, or lacks an entry."""


class BudgetError(HwnasError):
    """A budget (constraint) that no architecture in the space can meet."""


class StoreError(HwnasError):
    """The run directory or its SQLite store cannot be used (e.g. resume with another config)."""


class RunExistsError(StoreError):
    """A new search into a folder that already holds one.

    The fix is said in the caller's words (:meth:`HwnasError.said`): ``resume=True`` or another
    ``run_dir`` from Python (the default), ``--resume`` or another ``--out`` from the command line.

    Args:
        run_dir: the folder.
        resume: how the caller continues the stored run (default: :data:`RESUME`).
        out: how the caller names another folder (default: :data:`OUT`).
    """

    def __init__(self, run_dir, resume: str = RESUME, out: str = OUT) -> None:
        self.run_dir, self.resume, self.out = run_dir, resume, out
        super().__init__(f"{str(run_dir)!r} already holds a search; pass {resume} to continue it "
                         f"or choose another {out}")

    def __reduce__(self):  # pickled (to or from a worker) with its words, not its message as the folder
        return type(self), (self.run_dir, self.resume, self.out)


class ExecutionError(HwnasError):
    """Worker processes or a Ray cluster cannot be started or reached."""


class CompressError(HwnasError):
    """A model cannot be compressed as asked (not evaluated in the run, no trained weights, ...)."""


class MissingExtraError(HwnasError):
    """An optional dependency is not installed."""


def require(module: str, extra: str):
    """Import an optional dependency or raise a one-line install hint.

    Args:
        module: importable module name, e.g. ``"matplotlib.pyplot"``.
        extra: the hwnas extra that provides it, e.g. ``"plot"``.

    Returns:
        The imported module.

    Raises:
        MissingExtraError: if the module cannot be imported.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{module} is not installed ({exc}); install it with: pip install 'hwnas[{extra}]'"
        ) from None


def attach_metrics(exc: BaseException, metrics: Mapping[str, float]) -> BaseException:
    """Carry what was measured before a candidate failed on the exception that fails it (e.g. a
    pre-filter's score, the finite metrics of a part that returned a NaN): the evaluator keeps
    them in the failed row (:func:`measured_before`). Adds to what the exception already carries.

    Returns:
        ``exc``, to ``raise attach_metrics(exc, {...})``.
    """
    exc.metrics = {**measured_before(exc), **metrics}  # type: ignore[attr-defined]
    return exc


def measured_before(exc: BaseException) -> dict[str, float]:
    """The metrics :func:`attach_metrics` put on ``exc`` (empty when none)."""
    return dict(getattr(exc, "metrics", None) or {})
