"""hwnas.export: an evaluated architecture of a run written to ONNX."""

import textwrap

import onnx
import pytest

from fakes import MLP_CONFIG
from hwnas.cli import main
from hwnas.exceptions import HwnasError

# the run's own target file, which a test edits after the search
CONFIG = (MLP_CONFIG.replace('target = "cpu-ort-1t"', 'target = "mine.toml"')
          .replace("evaluations = 24\npopulation = 8", "evaluations = 4\npopulation = 4"))

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
    # and it says so: feeding a whole data set at once fails in ONNX Runtime
    assert "batch fixed at 2 (the run's target batch_size): feed 2 sample(s) per run" in capsys.readouterr().out


def test_a_python_caller_exports_the_evaluation_it_picked_by_its_id(tmp_path, make_config):
    # hwnas had no export function, and export_run_arch(run_dir, ev.id, ...) failed: 'int' object has no attribute 'strip'
    import hwnas

    hwnas.run_search(make_config(search={"evaluations": 4, "population": 4}), tmp_path / "run", progress=False)
    best = hwnas.load_run(tmp_path / "run").pick()
    ev, path = hwnas.export_run_arch(tmp_path / "run", best.id, tmp_path / "best.onnx")
    assert ev.arch == best.arch and path == tmp_path / "best.onnx"
    onnx.checker.check_model(onnx.load(str(path)))


def test_export_tells_a_python_caller_its_arguments_and_the_command_line_its_flags(tmp_path, make_config, cli_error):
    # export_run_arch said "pass --untrained" and "-o ... is a directory" to a Python caller
    import pytest

    import hwnas
    from hwnas.exceptions import HwnasError

    hwnas.run_search(make_config(search={"evaluations": 4, "population": 4}), tmp_path / "run", progress=False)
    (tmp_path / "models").mkdir()
    with pytest.raises(HwnasError, match=rf"^output {tmp_path / 'models'} is a directory; give the ONNX file to "
                                         rf"write, e.g. output {tmp_path / 'models' / 'model.onnx'}$"):
        hwnas.export_run_arch(tmp_path / "run", 1, tmp_path / "models")
    cli_error(["export", str(tmp_path / "run"), "1", "-o", str(tmp_path / "models")],
              f"hwnas: error: -o {tmp_path / 'models'} is a directory; give the ONNX file to write, e.g. "
              f"-o {tmp_path / 'models' / 'model.onnx'}")
    unseen = "h512-512-512_relu_adam_lr0.003_do0.3"
    with pytest.raises(HwnasError, match=r"\(not evaluated there\); pick one from front.csv, or pass untrained=True "
                                         r"for random weights$"):
        hwnas.export_run_arch(tmp_path / "run", unseen, tmp_path / "m.onnx")
    line = cli_error(["export", str(tmp_path / "run"), unseen, "-o", str(tmp_path / "m.onnx")],
                     "pick one from front.csv, or pass --untrained for random weights")
    assert "untrained=True" not in line
    assert hwnas.export_run_arch(tmp_path / "run", unseen, tmp_path / "m.onnx", untrained=True)[0] is None


def test_export_of_a_lut_run_reads_no_table(tmp_path, capsys):
    import csv

    from fakes import hand_table
    from hwnas.config import config_from_dict
    from hwnas.cost import load_target
    from hwnas.search.runner import run_search
    from hwnas.space import make_space

    space = {"name": "mbv3", "widths": [0.5], "depths": [1], "kernels": [3], "expands": [3], "stage_channels": [16, 24]}
    table = hand_table(make_space("mbv3", (1, 8, 8), 10, **{k: v for k, v in space.items() if k != "name"}),
                       load_target("cpu-ort-1t"), coef=(1.0, 0.0, 0.0)).save(tmp_path / "t.json")
    config = config_from_dict({
        "task": {"dataset": "digits", "seed": 0}, "space": space, "estimator": {"name": "fake-accuracy"},
        "cost": {"target": "cpu-ort-1t", "models": ["counts", "ort"], "latency": "lut", "lut": {"path": str(table)}},
        "search": {"objectives": ["error", "latency_ms"], "evaluations": 2, "population": 2, "seed": 0}})
    run_search(config, tmp_path / "run", progress=False)
    table.unlink()  # rebuilt, moved or deleted since the search: the trained model is still the run's
    with open(tmp_path / "run" / "front.csv") as fh:
        arch = next(csv.DictReader(fh))["arch"]
    assert main(["export", str(tmp_path / "run"), arch, "-o", str(tmp_path / "m.onnx")]) == 0, capsys.readouterr().err
    onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")))


def test_the_preprocessing_of_a_resized_task_says_how_it_was_resized():
    import numpy as np
    import torch
    import torch.nn.functional as F

    from hwnas.data import load_task
    from hwnas.export import preprocessing_summary

    task = load_task({"dataset": "digits", "resize": 12})
    pre = task.preprocessing
    assert "bilinear, align_corners=False" in pre["resize_method"]
    assert f"resized to 12x12 ({pre['resize_method']})" in preprocessing_summary(pre)
    # the recorded method reproduces the task's inputs from the raw images; nearest would not
    raw = load_task({"dataset": "digits", "standardize": False}).x_val.copy()
    mean, std = np.array(pre["x_mean"]).reshape(1, -1, 1, 1), np.array(pre["x_std"]).reshape(1, -1, 1, 1)
    bilinear = F.interpolate(torch.from_numpy(raw), size=(12, 12), mode="bilinear", align_corners=False).numpy()
    nearest = F.interpolate(torch.from_numpy(raw), size=(12, 12), mode="nearest").numpy()
    assert np.allclose((bilinear - mean) / std, task.x_val, atol=1e-5)
    assert not np.allclose((nearest - mean) / std, task.x_val, atol=1e-2)
    assert "resize_method" not in load_task({"dataset": "digits"}).preprocessing
    assert "(the training split's figures, in the file's metadata_props" in preprocessing_summary(pre)


def test_the_preprocessing_of_unstandardised_pixels_claims_no_training_split_figures():
    # x / 255 is the pixel format's, not a figure of the training split
    from hwnas.export import preprocessing_summary

    line = preprocessing_summary({"pixel_max": 255.0})
    assert line.startswith("input: x / 255 (in the file's metadata_props") and "training split" not in line


def test_how_to_feed_a_float16_file_says_to_cast_the_input(tmp_path):
    import torch

    from hwnas.cost.onnx_export import export_onnx
    from hwnas.export import how_to_feed

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    export_onnx(model, (4,), dtype="float16", path=tmp_path / "half.onnx")
    export_onnx(model, (4,), path=tmp_path / "full.onnx")
    assert how_to_feed(tmp_path / "half.onnx")[-1].endswith(
        "feed 1 sample(s) per run; its elements are float16 (the run's target dtype): cast the input to float16")
    assert "cast" not in how_to_feed(tmp_path / "full.onnx")[-1]


def test_weights_saved_with_nb201_dead_edges_load_into_the_network_without_them(tmp_path, monkeypatch):
    # a run trained before dead edges stopped being built saved their unused convolutions
    import torch

    import hwnas.space.nb201 as nb201
    from hwnas.export import trained_module
    from hwnas.space import make_space

    space = make_space("nb201", (1, 8, 8), 10, cells_per_stage=1, channels=4)
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|none~1|none~2|"
    with monkeypatch.context() as m:
        m.setattr(nb201, "without_dead_edges", lambda cell: cell)  # the build as it was
        old = space.build(space.parse(arch)).eval()
    torch.save(old.state_dict(), tmp_path / "w.pt")
    new = trained_module(space, arch, tmp_path / "w.pt").eval()
    assert len(new.state_dict()) < len(old.state_dict())
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(new(x), old(x))  # the same network, the same weights
    # weights that lack a parameter the network has are not this architecture's
    torch.save(make_space("nb201", (1, 8, 8), 10, cells_per_stage=1, channels=4).build(
        space.parse("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")).state_dict(), tmp_path / "x.pt")
    with pytest.raises(HwnasError, match=r"x\.pt does not hold the weights of .* \(it lacks .*\): the search did not "
                                         r"write it for this architecture"):
        trained_module(space, arch, tmp_path / "x.pt")


def test_export_of_a_candidate_successive_halving_stopped_early_says_its_weights_are_short(tmp_path, monkeypatch, capsys):
    # pick said so; export wrote the 1-epoch weights without a word
    from pathlib import Path

    import hwnas.export
    import hwnas.outputs
    from hwnas.config import config_from_dict
    from hwnas.evaluation import Evaluation
    from hwnas.outputs import Run

    config = config_from_dict({"space": {"name": "mbv3"}, "estimator": {"name": "successive-halving", "rungs": [1, 3]},
                               "search": {"objectives": ["error", "latency_ms"], "evaluations": 4}})
    stopped = Evaluation("a1", [1], "ok", {"error_pct": 9.0, "latency_ms": 0.05, "epochs": 1.0, "rung": 0.0}, id=1)
    out = tmp_path / "m.onnx"
    monkeypatch.setattr(hwnas.export, "export_run_arch", lambda *a, **k: (stopped, out))
    monkeypatch.setattr(hwnas.outputs, "load_run", lambda run_dir: Run(Path(run_dir), config, [stopped]))
    assert main(["export", str(tmp_path), "1", "-o", str(out)]) == 0
    assert "epochs: 1 of the last rung's 3: successive halving stopped it early" in capsys.readouterr().out


def test_weights_of_another_nb201_cell_with_more_edges_are_refused(tmp_path):
    # extra parameters load only when they are the cell's own dead edges, not another cell's live ones
    import torch

    from hwnas.export import trained_module
    from hwnas.space import make_space

    space = make_space("nb201", (1, 8, 8), 10, cells_per_stage=1, channels=4)
    conv = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    torch.save(space.build(space.parse(conv)).state_dict(), tmp_path / "w.pt")
    fewer = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|none~2|"
    with pytest.raises(HwnasError, match=r"w\.pt does not hold the weights of .* \(it holds .*, which the network "
                                         r"has not\): the search did not write it"):
        trained_module(space, fewer, tmp_path / "w.pt")
