"""The generic registry: unknown names and option keys suggest the likeliest valid one."""

import pytest

from hwnas.exceptions import ConfigError
from hwnas.registry import construct


class _Thing:
    def __init__(self, size: int, *, widths=(1,), depths=(2,)) -> None:
        self.widths, self.depths = widths, depths


def test_construct_suggests_close_options_and_the_table_s_other_keys():
    with pytest.raises(ConfigError, match=r"^here: 'thing' has no option\(s\) 'widht', 'zzz'; valid options: widths, "
                                          r"depths; did you mean 'widths' for 'widht'\?$"):
        construct(_Thing, 1, options={"widht": [1], "zzz": 1}, where="here", label="thing")
    with pytest.raises(ConfigError, match=r"^here: 'thing' has no option\(s\) 'evalutions'; valid options: widths, "
                                          r"depths; also valid here: evaluations, seed; did you mean 'evaluations'\?$"):
        construct(_Thing, 1, options={"evalutions": 6}, where="here", label="thing", also=("evaluations", "seed"))
    with pytest.raises(ConfigError, match=r"^here: 'thing' has no option\(s\) 'zzz'; valid options: widths, depths$"):
        construct(_Thing, 1, options={"zzz": 1}, where="here", label="thing")
    assert construct(_Thing, 1, options={"widths": (3,)}, where="here", label="thing").widths == (3,)


def test_suggestions_survive_non_text_values_from_a_config():
    from hwnas.registry import did_you_mean

    # [cost] models = [0] with a misspelt key: found by the malformed-input fuzz test
    assert did_you_mean(["modles"], ["models", 0]) == "; did you mean 'models'?"
    # a name in other case is the likeliest intent, though difflib compares case-bound
    assert did_you_mean(["INT8"], ["int8-qdq", "int8", "int8-dynamic"]) == "; did you mean 'int8'?"
    assert did_you_mean(["NSGA2"], ["nsga2", "random"]) == "; did you mean 'nsga2'?"


def test_a_class_missing_a_required_method_is_named_not_blamed_on_its_options():
    from hwnas.estimate.base import AccuracyEstimator
    from hwnas.exceptions import RegistryError

    class NoEstimate(AccuracyEstimator):  # a plugin that forgot estimate()
        def __init__(self, task, epochs: int = 1) -> None:
            pass

    with pytest.raises(RegistryError, match=r"^run.toml \[estimator\]: 'mine' \(.*NoEstimate\) cannot be built: it "
                                            r"does not implement estimate; define it in the class \(see "
                                            r"hwnas.estimate.base.AccuracyEstimator\)$"):
        construct(NoEstimate, None, options={"epochs": 2}, where="run.toml [estimator]", label="mine")


def test_a_name_taken_twice_names_what_holds_it():
    from hwnas.registry import _REGISTRIES, Registry

    spaces = Registry("search space")
    try:
        @spaces.register("mlp")
        class BuiltIn: ...

        with pytest.raises(ValueError, match=r"^search space 'mlp' is registered twice: it is already .*BuiltIn, so "
                                             r".*Mine cannot take it; register it under another name \(taken: mlp\)$"):
            @spaces.register("mlp")
            class Mine: ...
        with pytest.raises(ValueError, match=r"^search space 'mlp' is registered twice \(.*BuiltIn\); register it once$"):
            spaces.add("mlp", BuiltIn)
    finally:
        _REGISTRIES.remove(spaces)


def test_a_class_defined_again_by_its_module_replaces_the_old_one():
    # a notebook cell (or importlib.reload) that defines and registers the class again: the new one wins
    from hwnas.registry import _REGISTRIES, Registry

    spaces = Registry("search space")
    try:
        classes = []
        for _ in range(2):
            @spaces.register("audit-tiny")
            class Tiny: ...

            classes.append(Tiny)
        assert classes[0] is not classes[1] and spaces.get("audit-tiny") is classes[1]
    finally:
        _REGISTRIES.remove(spaces)


def test_plugin_modules_name_a_module_that_registers_an_instance(plugin_modules):
    """An objective a user module adds is an ``Objective`` whose ``__module__`` is hwnas's: the
    module that added it must still be imported by worker processes, or they cannot resolve it."""
    from hwnas import registry

    __import__(plugin_modules.write("audit_objective_plugin",
                                    "from hwnas.search.objectives import OBJECTIVES, Objective\n"
                                    "OBJECTIVES.add('audit_kb', Objective('audit_kb', 'audit_kb', 'kB', True, "
                                    "'cost', 'weights (kB)'))\n"))
    assert "audit_objective_plugin" in registry.plugin_modules()


def test_a_class_registered_without_a_name_takes_the_registered_one():
    from hwnas.registry import _REGISTRIES, Registry

    parts = Registry("estimator")
    try:
        class Base:
            name = ""

        @parts.register("my-estimator")
        class Mine(Base): ...

        @parts.register("named")
        class Named(Base):
            name = "its-own"

        @parts.register("my-named-subclass")
        class Extends(Named): ...  # inherits 'its-own', a name registered for another class

        assert Mine.name == "my-estimator" and Named.name == "its-own" and Base.name == ""
        assert Extends.name == "my-named-subclass"
    finally:
        _REGISTRIES.remove(parts)


def test_an_unknown_name_always_says_it_may_be_an_unloaded_plugin_s():
    from hwnas.exceptions import RegistryError
    from hwnas.space.base import SPACES

    # a close match ('mlp') must not hide that 'tinymlp' may be a plugin's never imported
    with pytest.raises(RegistryError, match=r"^unknown search space 'tinymlp'; did you mean 'mlp'\? choose one of: "
                                            r".*\(or a plugin's\? load its module with hwnas --plugin MODULE"):
        SPACES.get("tinymlp")


def test_a_constructor_that_cannot_take_hwnas_s_arguments_or_lacks_an_option_is_named():
    from hwnas.exceptions import RegistryError

    class NoInit:
        pass

    class NeedsSize:
        def __init__(self, shape, classes, *, size) -> None:
            pass

    class Strict:
        def __init__(self, shape, classes, *, size=1) -> None:
            raise TypeError("size must be odd")

    with pytest.raises(RegistryError, match=r"^\[space\]: 'x' \(.*NoInit\) cannot be built: its constructor must "
                                            r"accept 2 positional argument\(s\) \(tuple, int\), then its options"):
        construct(NoInit, (1, 8, 8), 10, options={}, where="[space]", label="x")
    with pytest.raises(ConfigError, match=r"^\[space\]: 'x' needs the option\(s\) size; add size = \.\.\. to \[space\]$"):
        construct(NeedsSize, (1, 8, 8), 10, options={}, where="[space]", label="x")
    # a TypeError raised inside a constructor that takes the arguments is still the options' fault
    with pytest.raises(ConfigError, match=r"^\[space\]: 'x' option values \{'size': 2\} are invalid \(size must be odd\)"):
        construct(Strict, (1, 8, 8), 10, options={"size": 2}, where="[space]", label="x")


def test_a_plugin_constructor_that_raises_is_one_line_naming_the_plugin():
    from hwnas.exceptions import PluginError
    from hwnas.registry import _REGISTRIES, Registry, construct

    parts = Registry("estimator")
    try:
        @parts.register("audit-broken-init")
        class Broken:
            def __init__(self, task):
                raise KeyError("missing thing")

        with pytest.raises(PluginError, match=r"^run\.toml \[estimator\]: 'audit-broken-init' \(.*Broken\) cannot be "
                                              r"built: its constructor failed in .*test_registry\..*Broken\.__init__ "
                                              r"\(line \d+\): KeyError: 'missing thing'; fix the plugin$"):
            construct(Broken, None, options={}, where="run.toml [estimator]", label="audit-broken-init")
    finally:
        _REGISTRIES.remove(parts)


def test_register_without_a_name_is_refused():
    # @SPACES.register (timm's style, no name) replaced the class with the decorator and registered nothing
    from hwnas.registry import _REGISTRIES, Registry

    spaces = Registry("search space")
    try:
        with pytest.raises(TypeError, match=r"^search space registry: register\(\) takes the name to register under, "
                                            r'not .*Mine; write @register\("my-name"\) \(or add\("my-name", obj\)\)$'):
            @spaces.register
            class Mine: ...
        assert spaces.names() == []
    finally:
        _REGISTRIES.remove(spaces)


def test_an_error_construct_prefixes_keeps_its_fix_in_the_caller_s_words():
    # construct wrapped str(exc), which says the fix in Python's words: the CLI then printed
    # "resume=True" where it says "--resume"
    from hwnas.exceptions import CLI_WORDS, RESUME

    class Refusing:
        def __init__(self):
            raise ConfigError(f"cannot go on; {RESUME} later")

    with pytest.raises(ConfigError) as err:
        construct(Refusing, options={}, where="here", label="refusing")
    assert str(err.value) == "here: cannot go on; resume=True later"
    assert err.value.said(CLI_WORDS) == "here: cannot go on; --resume later"
