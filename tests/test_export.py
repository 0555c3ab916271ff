"""hwnas.export: an evaluated architecture of a run written to ONNX."""

import textwrap

import onnx

from hwnas.cli import main

CONFIG = """
[task]
dataset = "digits"
[space]
name = "mlp"
max_layers = 2
[estimator]
name = "fake-accuracy"
[cost]
target = "mine.toml"
models = ["counts", "memory", "fake-latency"]
[search]
objectives = ["error", "latency_ms"]
evaluations = 4
population = 4
"""

TARGET = """
name = "mine"
execution_provider = "CPUExecutionProvider"
intra_op_threads = 1
batch_size = 2
"""


def test_export_keeps_the_batch_size_the_run_was_searched_with_after_the_target_file_changes(tmp_path, capsys):
    (tmp_path / "mine.toml").write_text(TARGET)
    (tmp_path / "c.toml").write_text(textwrap.dedent(CONFIG))
    run = tmp_path / "run"
    assert main(["search", str(tmp_path / "c.toml"), "--out", str(run), "--no-progress"]) == 0
    (tmp_path / "mine.toml").write_text(TARGET.replace("batch_size = 2", "batch_size = 3"))
    out = tmp_path / "m.onnx"
    assert main(["export", str(run), "1", "-o", str(out)]) == 0
    dims = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_value == 2  # the batch its latency_ms was measured at, not the edited file's 3
