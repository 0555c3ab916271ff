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
import inspect
import sys
from typing import Any, Callable, Generic, Iterable, Iterator, Mapping, TypeVar

from .exceptions import ConfigError, RegistryError

T = TypeVar("T")

#: Every registry made, so worker processes can re-import what user code registered.
_REGISTRIES: list["Registry[Any]"] = []


#: Appended wherever an unknown name could be a plugin's that was never imported.
PLUGIN_HINT = " (or a plugin's? load its module with hwnas --plugin MODULE or HWNAS_PLUGINS)"


class Registry(Generic[T]):
    """Maps names to registered objects; unknown names raise with close-match suggestions.

    Args:
        kind: what is registered, used in error messages ("search space", "dataset", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        #: name -> the module whose code registered it (an instance's own ``__module__`` is its
        #: class's, e.g. an ``Objective`` a user module adds reads ``hwnas.search.objectives``)
        self._origins: dict[str, str | None] = {}
        _REGISTRIES.append(self)

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name``.

        The same class defined again by the module that registered it (a notebook cell run
        again, ``importlib.reload``) replaces the old one.

        Raises:
            TypeError: ``name`` is not a non-empty string (``@SPACES.register`` without a name
                would otherwise replace the class with this decorator and register nothing).
            ValueError: if ``name`` is already taken (a programming error, not user input),
                naming what holds it: a plugin cannot replace a built-in.
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"{self.kind} registry: register() takes the name to register under, not "
                            f"{qualified_name(name)}; write @register(\"my-name\") (or add(\"my-name\", obj))")
        caller = sys._getframe(1)
        while caller is not None and caller.f_globals is globals():  # add() -> register()
            caller = caller.f_back
        origin = caller.f_globals.get("__name__") if caller is not None else None

        def deco(obj: T) -> T:
            held = self._items.get(name)
            redefined = (name in self._items and held is not obj and self._origins.get(name) == origin
                         and qualified_name(held) == qualified_name(obj))  # a notebook cell run again, a reloaded module
            if name in self._items and not redefined:
                if held is obj:
                    raise ValueError(f"{self.kind} {name!r} is registered twice ({qualified_name(obj)}); "
                                     f"register it once")
                raise ValueError(f"{self.kind} {name!r} is registered twice: it is already "
                                 f"{qualified_name(held)}, so {qualified_name(obj)} cannot take it; register "
                                 f"it under another name (taken: {', '.join(self.names())})")
            self._items[name] = obj
            self._origins[name] = origin
            # a plugin's class that names itself nowhere else, or only through the class it extends
            # (a subclass of proxy-trainer): messages and failure reasons give the registered name
            if isinstance(obj, type) and isinstance(getattr(obj, "name", None), str) and (
                    obj.name == "" or "name" not in vars(obj)):
                obj.name = name
            return obj

        return deco

    def add(self, name: str, obj: T) -> T:
        """Register ``obj`` under ``name`` (non-decorator form)."""
        return self.register(name)(obj)

    def get(self, name: str, *, where: str | None = None) -> T:
        """Return the object registered as ``name``.

        Args:
            name: the registered name.
            where: where the name came from (``"run.toml [search] strategy"``), to begin the error with.

        Raises:
            RegistryError: naming the unknown value, close matches and all valid names.
        """
        try:
            return self._items[name]
        except (KeyError, TypeError):  # TypeError: an unhashable value from a config file
            close = close_matches(name, self._items)
            hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
            raise RegistryError(f"{where + ': ' if where else ''}unknown {self.kind} {name!r}; {hint}choose one of: "
                                f"{', '.join(self.names())}"
                                f"{PLUGIN_HINT}") from None

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def close_matches(name: object, valid: Iterable[object]) -> list[str]:
    """Up to three of ``valid`` that look like ``name`` (a typo's likely intent), best first.

    ``valid`` may hold what a config file put there (``models = [0]``): compared as text.
    """
    text, valid = str(name), [str(v) for v in valid]
    same = [v for v in valid if v.lower() == text.lower()]  # INT8 for int8, NSGA2 for nsga2: difflib is case-bound
    return list(dict.fromkeys(same + difflib.get_close_matches(text.lower(), valid, n=3, cutoff=0.5)))[:3]


def did_you_mean(unknown: Iterable[object], valid: Iterable[str]) -> str:
    """``"; did you mean 'evaluations'?"`` for the unknown keys that look like a valid one, else ``""``.

    Appended to a message after the list of valid keys, so the message still reads without it.

    Example:
        >>> did_you_mean(["widht"], ["widths", "depths"])
        "; did you mean 'widths'?"
        >>> did_you_mean(["widht", "dpths"], ["widths", "depths"])
        "; did you mean 'widths' for 'widht', 'depths' for 'dpths'?"
    """
    unknown, valid = list(unknown), list(valid)
    # the likeliest one per key: a key has one intended spelling
    pairs = [(close[0], name) for name in unknown if (close := close_matches(name, valid))]
    if not pairs:
        return ""
    if len(unknown) == 1:
        return f"; did you mean {pairs[0][0]!r}?"
    return "; did you mean " + ", ".join(f"{good!r} for {str(bad)!r}" for good, bad in pairs) + "?"


def plugin_modules() -> list[str]:
    """Modules outside hwnas that registered something (a user's estimator, a test fake).

    A worker process (``--workers``, Ray) imports them before building a run's parts, so
    registrations made by user code are known there too.
    """
    modules = {getattr(obj, "__module__", None) for reg in _REGISTRIES for obj in reg._items.values()}
    modules |= {m for reg in _REGISTRIES for m in reg._origins.values()}  # who registered an instance
    return sorted(m for m in modules if isinstance(m, str) and m not in ("__main__", "__mp_main__")
                  and m.split(".")[0] != "hwnas")


def unimportable_parts() -> dict[str, str]:
    """``name -> kind`` of the parts that code of a ``__main__`` no other process can import (a
    notebook, ``python -c``) registered: worker processes import a run's plugin modules by name
    (:func:`plugin_modules` leaves ``__main__`` out), so they cannot build these. Empty when
    ``__main__`` is a script's file, which spawned workers run again."""
    import os

    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if path and os.path.isfile(path):
        return {}
    return {name: reg.kind for reg in _REGISTRIES for name, obj in reg._items.items()
            if "__main__" in (reg._origins.get(name), getattr(obj, "__module__", None))}


def raised_in(exc: BaseException, modules: Iterable[str]) -> str | None:
    """``module.function (line N)`` of the innermost frame of ``exc``'s traceback that runs code of
    one of ``modules`` (a plugin's), or None when none does (the exception is hwnas's own)."""
    modules, tb, where = set(modules), exc.__traceback__, None
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__")
        if module in modules:
            where = f"{module}.{tb.tb_frame.f_code.co_qualname} (line {tb.tb_lineno})"
        tb = tb.tb_next
    return where


def qualified_name(obj: object) -> str:
    """``module.Class`` of a registered class or function, else the object's repr."""
    name = getattr(obj, "__qualname__", None)
    return f"{getattr(obj, '__module__', '?')}.{name}" if isinstance(name, str) else repr(obj)[:80]


def option_names(cls: type) -> set[str] | None:
    """Names ``cls.__init__`` takes by keyword (None: any, it takes ``**kwargs``)."""
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    return {n for n, p in params.items() if n != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def option_defaults(cls: type, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The default of each option ``cls.__init__`` takes by keyword (those with a default), except
    ``exclude`` (what hwnas passes itself): with the given options, what a config leaves unsaid."""
    params = inspect.signature(cls.__init__).parameters
    return {n: p.default for n, p in params.items() if n != "self" and n not in set(exclude)
            and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not p.empty}


def construct(cls: type, *args: Any, options: Mapping[str, Any], where: str, label: str,
              fixed: Mapping[str, Any] | None = None, also: Iterable[str] = ()) -> Any:
    """Instantiate a registered class from config options, with config-quality errors.

    Args:
        cls: the class (a space, estimator, cost model, strategy...).
        *args: positional arguments that do not come from the config (task, space, ...).
        options: keyword arguments from the config table.
        fixed: keyword arguments set by hwnas itself (not user options).
        where: where the options came from, e.g. ``"run.toml [search]"``.
        label: the registered name, for messages.
        also: other keys valid in the same config table that hwnas itself reads (``[search]``
            ``evaluations``, ...): offered, with the class's options, as corrections of a typo.

    Raises:
        ConfigError: an option the class does not take (naming the valid ones), a required one
            missing, or a value of the wrong type or range (the class's own message, prefixed
            with ``where``).
        RegistryError: a (plugin) class whose constructor cannot take what hwnas passes it.
    """
    from .exceptions import HwnasError

    if inspect.isabstract(cls):  # a plugin class missing a method its base class requires
        missing = sorted(getattr(cls, "__abstractmethods__", ()))
        base = next((b for b in cls.__mro__[1:] if set(missing) & set(getattr(b, "__abstractmethods__", ()))
                     and b.__module__.split(".")[0] == "hwnas"), None)
        raise RegistryError(f"{where}: {label!r} ({qualified_name(cls)}) cannot be built: it does not implement "
                            f"{', '.join(missing)}; define "
                            f"{'it' if len(missing) == 1 else 'them'} in the class"
                            + (f" (see {qualified_name(base)})" if base is not None else ""))
    names = option_names(cls)
    if names is not None:
        params = list(inspect.signature(cls.__init__).parameters)
        taken = set(params[1:1 + len(args)]) | set(fixed or {})  # self, then positional args
        valid = [n for n in params if n in names and n not in taken]  # in signature order
        unknown = sorted(set(options) - set(valid))
        if unknown:
            also = [n for n in also if n not in valid]
            raise ConfigError(f"{where}: {label!r} has no option(s) {', '.join(map(repr, unknown))}; "
                              f"valid options: {', '.join(valid) or 'none'}"
                              + (f"; also valid here: {', '.join(also)}" if also else "")
                              + did_you_mean(unknown, [*valid, *also]))
    _check_call(cls, args, fixed or {}, options, where, label)
    try:
        return cls(*args, **(fixed or {}), **options)
    except HwnasError as exc:
        if where in str(exc):
            raise
        # its placeholders kept (exc.said({})): the CLI says them with its flags (HwnasError.said)
        wrapped = type(exc)(f"{where}: {exc.said({})}")
        wrapped.__dict__.update(vars(exc))  # what the error carries for its callers (a Ray address)
        raise wrapped from None
    except (TypeError, ValueError) as exc:  # a value of the wrong type, met inside the constructor
        raise ConfigError(f"{where}: {label!r} option values {dict(options)!r} are invalid ({exc}); "
                          f"fix the types and ranges") from None
    except Exception as exc:  # a plugin's own bug (hwnas's keeps its traceback)
        if (raised := raised_in(exc, {*plugin_modules(), "__main__"})) is None:
            raise
        from .exceptions import PluginError

        raise PluginError(f"{where}: {label!r} ({qualified_name(cls)}) cannot be built: its constructor failed in "
                          f"{raised}: {type(exc).__name__}: {exc}; fix the plugin") from None


def _check_call(cls: type, args: tuple, fixed: Mapping[str, Any], options: Mapping[str, Any], where: str,
                label: str) -> None:
    """Refuse, before calling it, a constructor that cannot take hwnas's arguments or lacks a
    required option, so a TypeError raised inside a correct constructor is the only one left."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):  # no signature to read (a builtin): let the call say
        return
    passes = (f"{len(args)} positional argument(s) ({', '.join(type(a).__name__ for a in args)})"
              + (f" and the keyword(s) {', '.join(fixed)}" if fixed else "") + ", then its options as keywords")
    try:
        bound = signature.bind_partial(*args, **fixed)
    except TypeError as exc:
        raise RegistryError(f"{where}: {label!r} ({qualified_name(cls)}) cannot be built: its constructor must accept "
                            f"{passes}, as hwnas passes them ({exc}); see the README's 'Extending hwnas'") from None
    params = signature.parameters
    missing = [n for n, p in params.items() if n not in bound.arguments and n not in options
               and p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if any(params[n].kind is params[n].POSITIONAL_ONLY for n in missing):
        raise RegistryError(f"{where}: {label!r} ({qualified_name(cls)}) cannot be built: its constructor must accept "
                            f"{passes}; it also needs {', '.join(missing)}, which hwnas does not pass")
    if missing:
        raise ConfigError(f"{where}: {label!r} needs the option(s) {', '.join(missing)}; add "
                          f"{', '.join(f'{n} = ...' for n in missing)} to {where}")
