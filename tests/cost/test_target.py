"""Loading targets from TOML, and every bad-input message."""

from __future__ import annotations

import json
import re
from pathlib import Path

import onnxruntime
import pytest

from hwnas.cost import Target, load_target, make_session
from hwnas.cost.target import VALID_KEYS, targets_dir
from hwnas.exceptions import TargetError

GOOD = """
name = "tiny"
runtime = "onnxruntime"
execution_provider = "CPUExecutionProvider"
intra_op_threads = 1
batch_size = 1
dtype = "float32"
warmup_runs = 2
passes = 2
runs_per_pass = 3
"""


def write(tmp_path: Path, text: str, name: str = "t.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_bundled_targets_load_by_name():
    cpu = load_target("cpu-ort-1t")
    assert (cpu.name, cpu.execution_provider, cpu.intra_op_threads, cpu.inter_op_threads) == (
        "cpu-ort-1t", "CPUExecutionProvider", 1, 1)
    assert (cpu.batch_size, cpu.dtype, cpu.graph_optimization, cpu.opset) == (1, "float32", "all", 17)
    assert cpu.passes >= 2 and cpu.description
    assert Path(cpu.source) == targets_dir() / "cpu-ort-1t.toml"
    cuda = load_target("cuda-ort")  # loading never needs the provider; sessions do
    assert cuda.execution_provider == "CUDAExecutionProvider"
    assert load_target("cpu-ort-2t").intra_op_threads == 2


def test_load_by_path_uses_defaults_and_file_stem(tmp_path):
    path = write(tmp_path, GOOD.replace('name = "tiny"\n', ""), "my-board.toml")
    target = load_target(path)
    assert target.name == "my-board"
    assert (target.inter_op_threads, target.graph_optimization, target.opset) == (1, "all", 17)
    assert load_target(str(path)) == target


def test_describe_has_every_field_and_runtime_version():
    info = load_target("cpu-ort-1t").describe()
    assert set(VALID_KEYS) | {"source", "runtime_version"} == set(info)
    assert info["runtime_version"] == onnxruntime.__version__
    assert info["runs_per_pass"] == load_target("cpu-ort-1t").runs_per_pass


def test_malformed_toml_names_file_and_position(tmp_path):
    path = write(tmp_path, GOOD + "passes = = 3\n")
    with pytest.raises(TargetError, match=rf"target file {path} is not valid TOML: .*line 11, column 10"):
        load_target(path)


def test_unknown_key_is_named_with_valid_keys(tmp_path):
    path = write(tmp_path, GOOD + "threads = 4\n")
    with pytest.raises(TargetError) as info:
        load_target(path)
    assert str(info.value).startswith(
        f"target file {path}: unknown key 'threads'; valid keys are: " + ", ".join(VALID_KEYS)
    )


def test_every_unknown_key_is_named_with_the_likeliest_valid_one(tmp_path):
    path = write(tmp_path, GOOD + "batch_sise = 4\ndtyp = \"float32\"\n")
    with pytest.raises(TargetError, match=r"unknown keys 'batch_sise', 'dtyp'; valid keys are: .*; did you mean "
                                          r"'batch_size' for 'batch_sise', 'dtype' for 'dtyp'\?"):
        load_target(path)


def test_missing_required_key(tmp_path):
    path = write(tmp_path, GOOD.replace("intra_op_threads = 1\n", ""))
    with pytest.raises(TargetError, match=f"target file {path}: required key 'intra_op_threads' is missing; add it"):
        load_target(path)


def test_every_missing_required_key_is_named_at_once(tmp_path):
    # one per run made a two-line target file fail twice before it loaded
    path = write(tmp_path, 'name = "mine"\n')
    with pytest.raises(TargetError) as info:
        load_target(path)
    assert str(info.value) == (f"target file {path}: required keys 'execution_provider', 'intra_op_threads' are "
                               f"missing; add them (targets/cpu-ort-1t.toml has every key)")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("intra_op_threads = 0", "intra_op_threads = 0 is out of range; use an integer >= 1"),
        ('intra_op_threads = "4"', "intra_op_threads = '4' is of type str; use an integer >= 1"),
        ("inter_op_threads = 1.5", "inter_op_threads = 1.5 is of type float; use an integer >= 1"),
        ("passes = 1", r"passes = 1 is out of range; use an integer in \[2, 1000\]"),
        ("passes = true", r"passes = True is of type bool; use an integer in \[2, 1000\]"),
        ("batch_size = 0", r"batch_size = 0 is out of range; use an integer in \[1, 4096\]"),
        ("batch_size = 1000000000", r"batch_size = 1000000000 is out of range; use an integer in \[1, 4096\]"),
        ("warmup_runs = -1", r"warmup_runs = -1 is out of range; use an integer in \[0, 10000\]"),
        ("warmup_runs = 1000000000", r"warmup_runs = 1000000000 is out of range; use an integer in \[0, 10000\]"),
        ("runs_per_pass = 100000", r"runs_per_pass = 100000 is out of range; use an integer in \[1, 10000\]"),
        ("opset = 99", r"opset = 99 is out of range; use an integer in \[9, 20\]"),
        ('dtype = "int8"', "dtype = 'int8' is not valid; use one of: float32, float16"),
        ('runtime = "tflite"', "runtime = 'tflite' is not valid; use one of: onnxruntime"),
        ('graph_optimization = "max"', "graph_optimization = 'max' is not valid; use one of: all, extended, basic, disabled"),
        ('execution_provider = "CPU"', "execution_provider = 'CPU' is not an ONNX Runtime provider name"),
        ('dtype = "float16"', "dtype = 'float16' is only supported with CUDAExecutionProvider, TensorrtExecutionProvider, not CPUExecutionProvider; use dtype = 'float32'"),
    ],
)
def test_bad_value_names_key_value_file_and_range(tmp_path, line, message):
    key = line.split(" = ")[0]
    text = "\n".join(row for row in GOOD.splitlines() if not row.startswith(f"{key} =")) + f"\n{line}\n"
    path = write(tmp_path, text)
    with pytest.raises(TargetError, match=rf"^target tiny \({path}\): {message}"):
        load_target(path)


def test_float16_is_allowed_on_cuda():
    target = Target(execution_provider="CUDAExecutionProvider", intra_op_threads=1, dtype="float16")
    assert target.dtype == "float16"


def test_validation_also_applies_to_targets_built_in_code():
    with pytest.raises(TargetError, match=r"^target custom: runs_per_pass = 0 is out of range"):
        Target(execution_provider="CPUExecutionProvider", intra_op_threads=1, runs_per_pass=0)


def test_missing_file_and_unknown_name(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(TargetError, match=f"^target file {missing} does not exist; check the path$"):
        load_target(missing)
    with pytest.raises(TargetError, match=r"^unknown target 'cpu-ort-9t': .*cpu-ort-9t.toml does not exist; choose one of: .*cpu-ort-1t"):
        load_target("cpu-ort-9t")


def test_a_folder_given_as_the_target_is_called_a_folder_not_missing(tmp_path):
    write(tmp_path, GOOD)  # a folder holding a target file is still a folder
    with pytest.raises(TargetError, match="^" + re.escape(f"target {tmp_path} is a folder; give a target .toml file, "
                                                          f"e.g. {tmp_path / 'my-target.toml'} copied from "
                                                          f"targets/cpu-ort-1t.toml") + "$"):
        load_target(str(tmp_path))


def test_a_misspelt_target_name_suggests_the_close_one():
    with pytest.raises(TargetError, match=r"^unknown target 'cpu-ort-1': .* or pass a path to a .toml file; "
                                          r"did you mean 'cpu-ort-1t'\?$"):
        load_target("cpu-ort-1")


def test_unavailable_provider_fails_at_session_creation(monkeypatch):
    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["AzureExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(TargetError) as info:
        make_session(b"not used", load_target("cuda-ort"))
    assert str(info.value) == (
        f"target cuda-ort: execution provider 'CUDAExecutionProvider' is not available in onnxruntime "
        f"{onnxruntime.__version__} here (available: AzureExecutionProvider, CPUExecutionProvider); "
        "use targets/cpu-ort-1t.toml or install onnxruntime-gpu"
    )


def test_an_unavailable_provider_in_the_user_s_own_file_names_that_file(tmp_path, monkeypatch):
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    bundled = (targets_dir() / "cpu-ort-1t.toml").read_text()
    # a copy keeps name = "cpu-ort-1t": the name alone points at the bundled file, not this one
    copy = write(tmp_path, bundled.replace('"CPUExecutionProvider"', '"TensorrtExecutionProvider"'), "trt.toml")
    with pytest.raises(TargetError) as info:
        make_session(b"not used", load_target(copy))
    assert str(info.value).startswith("target cpu-ort-1t: execution provider 'TensorrtExecutionProvider' is not "
                                      "available in onnxruntime ")
    assert str(info.value).endswith(f"; set execution_provider in {copy} to an available one, use "
                                    "targets/cpu-ort-1t.toml or install onnxruntime-gpu")
    misspelt = write(tmp_path, bundled.replace('"CPUExecutionProvider"', '"TensorRTExecutionProvider"'), "m.toml")
    with pytest.raises(TargetError, match=rf"fix execution_provider \(known providers: .*\) in {re.escape(str(misspelt))}$"):
        make_session(b"not used", load_target(misspelt))
    remote = write(tmp_path, bundled.replace('"CPUExecutionProvider"', '"AzureExecutionProvider"'), "az.toml")
    with pytest.raises(TargetError, match=rf"; set execution_provider = \"CPUExecutionProvider\" in "
                                          rf"{re.escape(str(remote))}, or use targets/cpu-ort-1t.toml$"):
        make_session(b"not used", load_target(remote))


def test_silent_provider_fallback_is_an_error(monkeypatch):
    class FallbackSession:
        def __init__(self, *args, **kwargs):
            pass

        def get_providers(self):
            return ["CPUExecutionProvider"]

    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(onnxruntime, "InferenceSession", FallbackSession)
    with pytest.raises(TargetError, match=r"^target cuda-ort: .* created the session on CPUExecutionProvider instead of 'CUDAExecutionProvider'"):
        make_session(b"not used", load_target("cuda-ort"))


@pytest.mark.parametrize("name", ["a/b", "../../elsewhere", "/tmp/x", " ", "my board", ".hidden", "a\\b"])
def test_name_must_be_a_plain_folder_name(tmp_path, name):
    # The name is the target's folder under latency_tables/: "../x" or "/tmp/x" would put tables elsewhere.
    path = write(tmp_path, GOOD.replace('name = "tiny"', f"name = {json.dumps(name)}"))
    with pytest.raises(TargetError, match=rf"name = {re.escape(repr(name))} is not valid: it names the target's folder"):
        load_target(path)
    with pytest.raises(TargetError, match="use letters, digits"):
        Target(name=name, execution_provider="CPUExecutionProvider", intra_op_threads=1)


def test_plain_names_and_file_stems_are_accepted(tmp_path):
    for name in ("cpu-ort-1t", "pi4_ort.2t", "x86+avx512"):
        assert Target(name=name, execution_provider="CPUExecutionProvider", intra_op_threads=1).name == name
    path = write(tmp_path, GOOD.replace('name = "tiny"\n', ""), "my board.toml")
    with pytest.raises(TargetError, match=r"name = 'my board' is not valid"):  # the stem, when name is unset
        load_target(path)


def test_misspelt_provider_is_named_with_a_suggestion(tmp_path):
    path = write(tmp_path, GOOD.replace("CPUExecutionProvider", "CudaExecutionProvider"))
    with pytest.raises(TargetError) as info:
        make_session(b"not used", load_target(path))
    message = str(info.value)
    assert message.startswith("target tiny: execution provider 'CudaExecutionProvider' is not available in onnxruntime")
    assert ("; no ONNX Runtime provider has that name: did you mean 'CUDAExecutionProvider'? fix execution_provider "
            "(known providers: ") in message
    assert "onnxruntime-gpu" not in message and "\n" not in message


def test_unavailable_non_gpu_provider_does_not_suggest_onnxruntime_gpu():
    target = Target(execution_provider="OpenVINOExecutionProvider", intra_op_threads=1)
    if "OpenVINOExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has OpenVINO")
    with pytest.raises(TargetError, match=r"is not available in onnxruntime .*; use targets/cpu-ort-1t.toml or "
                                          r"install an onnxruntime build that includes it$"):
        make_session(b"not used", target)


def test_a_provider_that_would_time_the_cpu_under_another_name_is_refused():
    target = Target(execution_provider="AzureExecutionProvider", intra_op_threads=1)
    with pytest.raises(TargetError, match=r"'AzureExecutionProvider' cannot be timed here \(it calls a remote "
                                          r"endpoint; local nodes run on the CPU\); use CPUExecutionProvider"):
        make_session(b"not used", target)


def test_a_bad_name_stays_on_one_line():
    with pytest.raises(TargetError) as info:
        Target(name="a\nb", execution_provider="CPUExecutionProvider", intra_op_threads=1)
    assert "\n" not in str(info.value) and str(info.value).startswith("target 'a\\nb': name = 'a\\nb' is not valid")


def test_a_missing_target_file_named_like_a_bundled_target_suggests_its_name(tmp_path):
    from hwnas.cost import load_target
    from hwnas.exceptions import TargetError

    with pytest.raises(TargetError, match=r"cpu-ort-1t.toml does not exist; check the path, or name the bundled "
                                          r"target 'cpu-ort-1t' without a path \(target = \"cpu-ort-1t\"\)"):
        load_target(str(tmp_path / "cpu-ort-1t.toml"))
