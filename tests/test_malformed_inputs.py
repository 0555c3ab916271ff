"""Property-based bad input: every malformed config or target gives a one-line HwnasError.

Hypothesis generates configs and target files with wrong types, unknown keys and out-of-range
values; anything but a clean HwnasError (a TypeError, KeyError, traceback...) fails.
"""

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwnas.config import config_from_dict
from hwnas.cost import load_target
from hwnas.exceptions import HwnasError

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                     st.text(string.printable, max_size=8), st.lists(st.integers(-2, 3), max_size=3))
_keys = st.sampled_from(["name", "dataset", "target", "objectives", "evaluations", "seed", "population",
                         "max_latency_ms", "models", "val_fraction", "epochs", "bogus", "latency",
                         "widths", "depths", "kernels", "lrs", "activations", "max_layers", "crossover_prob",
                         "strategy", "resize", "batch_size", "optimizer", "workers", "eval_timeout_s",
                         "executor"])
_section = st.dictionaries(_keys, _scalars, max_size=4)
_sections = st.sampled_from(["task", "space", "estimator", "cost", "search", "budgets", "execution", "extra"])

BASE = {"task": {"dataset": "digits"}, "space": {"name": "mlp"}, "cost": {"target": "cpu-ort-1t"},
        "search": {"objectives": ["error", "latency_ms"], "evaluations": 4}}


def _one_line(exc: Exception) -> bool:
    return "\n" not in str(exc) and len(str(exc)) > 10


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.dictionaries(_sections, _section, max_size=3))
def test_malformed_config_sections(tmp_path, patch):
    """Validation and construction of every part (no evaluation): clean error or a usable run."""
    from hwnas.search.runner import SearchRun

    data = {k: dict(v) for k, v in BASE.items()}
    for section, values in patch.items():
        data[section] = {**data.get(section, {}), **values}
    try:
        SearchRun(config_from_dict(data, source="fuzz.toml"), tmp_path / "run", progress=False)
    except HwnasError as exc:
        assert _one_line(exc), str(exc)
    assert not (tmp_path / "run").exists()  # nothing written on bad input


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["execution_provider", "intra_op_threads", "batch_size", "dtype",
                                         "passes", "runs_per_pass", "opset", "warmup_runs", "nonsense"]),
                       _scalars, max_size=4))
def test_malformed_targets(tmp_path_factory, fields):
    import json

    lines = ['execution_provider = "CPUExecutionProvider"', "intra_op_threads = 1"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in fields.items() if v is not None]
    path = tmp_path_factory.mktemp("t") / "fuzz.toml"
    path.write_text("\n".join(lines))
    try:
        load_target(path)
    except HwnasError as exc:
        assert _one_line(exc), str(exc)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_as_config(tmp_path_factory, text):
    from hwnas.config import load_config

    path = tmp_path_factory.mktemp("c") / "fuzz.toml"
    path.write_text(text)
    try:
        load_config(path)
    except HwnasError as exc:
        assert _one_line(exc), str(exc)
