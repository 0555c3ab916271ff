"""`hwnas compress` and `hwnas pick --include-compressed` in-process; one-line errors with exit 2."""

from __future__ import annotations

import pytest

from hwnas.cli import main
from hwnas.compress.results import COMPRESSED_CSV, ORIGINAL, compare_with_parents, read_compressed, write_compressed


def _one_line_error(capsys, argv, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("hwnas: error:"), err
    for n in needles:
        assert n in err, err


def test_compress_prints_the_best_variant_and_where_everything_is(run_copy, best_arch, capsys):
    argv = ["compress", str(run_copy), "--arch", best_arch, "--prune", "0.5", "--quantize", "int8-qdq",
            "--finetune-epochs", "0", "--no-stack"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "variants: 2 (0 failed" in out and f"  {best_arch}: " in out
    assert "hypervolume: original front" in out and "compressed.csv" in out and "--include-compressed" in out
    rows = read_compressed(run_copy / COMPRESSED_CSV)
    assert [r["variant"] for r in rows] == [ORIGINAL, "prune0.5", "int8-qdq"]


def test_pick_chooses_compressed_variants_but_never_a_slower_one(run_copy, best_arch, capsys):
    # a hand-made table: one variant faster than its parent, one slower but far more accurate
    parent = {"parent_id": 1, "parent_arch": best_arch, "variant": ORIGINAL, "method": ORIGINAL, "status": "ok",
              "latency_ms": 1e-6, "accuracy_pct": 50.0, "error_pct": 50.0, "macs": 10.0, "params": 5.0,
              "peak_memory_mb": 0.1, "model_size_mb": 0.1, "onnx": ""}
    fast = {**parent, "variant": "prune0.5", "method": "prune", "latency_ms": 0.5e-6, "accuracy_pct": 49.0,
            "error_pct": 51.0, "onnx": "compressed/x-prune0.5.onnx", "settings": "prune(ratio=0.5)"}
    slow = {**parent, "variant": "int8-qdq", "method": "quantize", "latency_ms": 2e-6, "accuracy_pct": 99.9,
            "error_pct": 0.1, "onnx": "compressed/x-int8-qdq.onnx", "settings": "quantize()"}
    rows = [parent, fast, slow]
    compare_with_parents(rows)
    write_compressed(run_copy / COMPRESSED_CSV, rows)
    assert main(["pick", str(run_copy), "--max-latency-ms", "1e-5", "--include-compressed"]) == 0
    out = capsys.readouterr().out
    assert "compressed variant prune0.5 of evaluation 1" in out and "x-prune0.5.onnx" in out
    assert "int8-qdq" not in out
    assert main(["pick", str(run_copy), "--include-compressed"]) == 0  # knee: still never the slower one
    assert "int8-qdq" not in capsys.readouterr().out


def test_bad_inputs_give_one_line_and_exit_2(run_copy, best_arch, capsys):
    run = str(run_copy)
    _one_line_error(capsys, ["compress", run, "--front", "--prune", "1.5"], "prune ratio (--prune) 1.5", "(0, 1)")
    _one_line_error(capsys, ["compress", run, "--front", "--prune", "half"], "--prune 'half'", "--prune 0.25,0.5")
    _one_line_error(capsys, ["compress", run, "--front", "--quantize", "int4"], "unknown quantization scheme 'int4'",
                    "did you mean 'int8'")
    _one_line_error(capsys, ["compress", run, "--prune", "0.5"], "--front", "--arch")
    _one_line_error(capsys, ["compress", run, "--front"], "nothing to compress")
    _one_line_error(capsys, ["compress", run, "--arch", "w9:k3e3", "--prune", "0.5"], "--arch 'w9:k3e3'", "stages")
    _one_line_error(capsys, ["compress", run, "--front", "--prune", "0.5", "--importance", "l7"], "importance 'l7'")
    _one_line_error(capsys, ["pick", run, "--include-compressed"], "compressed.csv does not exist",
                    f"hwnas compress {run} --front")
    assert not (run_copy / COMPRESSED_CSV).exists()


@pytest.mark.parametrize("flag", ["--prune", "--quantize"])
def test_help_names_the_choices(flag, capsys):
    assert main(["compress", "--help"]) == 0
    assert flag in capsys.readouterr().out


def test_an_evaluation_id_the_run_lacks_and_a_negative_drop_are_refused(run_copy, capsys):
    from hwnas.outputs import load_run

    ids = [ev.id for ev in load_run(run_copy).evaluations]
    run = str(run_copy)
    _one_line_error(capsys, ["compress", run, "--arch", "99", "--prune", "0.5"],
                    f"no evaluation 99 in {run} (ids {min(ids)}-{max(ids)})", "from front.csv")
    _one_line_error(capsys, ["compress", run, "--front", "--prune", "0.5", "--max-accuracy-drop", "-5"],
                    "--max-accuracy-drop -5 must be >= 0")
    assert not (run_copy / COMPRESSED_CSV).exists()


ALL_FAIL = """
[task]
dataset = "digits"
[space]
name = "mlp"
max_layers = 1
[estimator]
name = "fake-accuracy"
fail_substring = "h"
[cost]
target = "cpu-ort-1t"
models = ["counts", "fake-latency"]
[search]
objectives = ["error", "latency_ms"]
evaluations = 3
population = 3
"""


def test_a_run_whose_evaluations_all_failed_has_no_front_to_compress(tmp_path, capsys):
    config = tmp_path / "fail.toml"
    config.write_text(ALL_FAIL)
    run = tmp_path / "run"
    assert main(["search", str(config), "--out", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    _one_line_error(capsys, ["compress", str(run), "--front", "--prune", "0.5"],
                    f"no successful evaluation on the front of {run} (all 3 evaluations failed)", "--arch")
    assert not (run / COMPRESSED_CSV).exists()


def test_a_target_that_cannot_run_here_is_refused_before_any_variant_is_built(run_copy, capsys, monkeypatch):
    import onnxruntime

    # as on a machine without the run's provider (a run searched elsewhere, or from a remote table)
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["AzureExecutionProvider"])
    _one_line_error(capsys, ["compress", str(run_copy), "--front", "--prune", "0.5"],
                    "'CPUExecutionProvider' is not available")
    assert not (run_copy / COMPRESSED_CSV).exists()
