"""``hwnas fidelity``: rank statistics, out-of-fold predictors, sampling, the command and resume."""

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from hwnas.cli import main
from hwnas.config import config_from_dict
from hwnas.exceptions import ConfigError
from hwnas.fidelity import (
    oof_predictions,
    rank_fidelity,
    run_fidelity,
    sample_architectures,
)
from hwnas.space import make_space

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

TINY = {
    "task": {"dataset": "digits", "max_train_samples": 120, "max_val_samples": 100, "seed": 0},
    "space": {"name": "mlp", "max_layers": 2, "widths": [8, 32, 128], "activations": ["relu", "tanh"],
              "lrs": [0.003], "optimizers": ["adam"], "dropouts": [0.0]},
    "estimator": {"name": "proxy-trainer", "batch_size": 32, "seed": 0},
    "cost": {"target": "cpu-ort-1t"},
    "search": {"objectives": ["error", "latency_ms"]},
}


def _write(tmp_path, data):
    lines = []
    for section, values in data.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path = tmp_path / "tiny.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_rank_fidelity_values_and_missing_pairs():
    assert rank_fidelity([1, 2, 3, 4], [10, 20, 30, 40]) == (1.0, 1.0, 4)
    rho, tau, n = rank_fidelity([4, 3, 2, 1, np.nan], [10, 20, 30, 40, 50])
    assert (rho, tau, n) == (-1.0, -1.0, 4)
    assert rank_fidelity([1, 2, 3], [5, 5, 5])[2] == 3 and np.isnan(rank_fidelity([1, 2, 3], [5, 5, 5])[0])
    rho, tau, _ = rank_fidelity([1, 2, 3, 4, 5], [1, 3, 2, 5, 4])
    assert rho == pytest.approx(0.8) and tau == pytest.approx(0.6)


def test_predictions_are_out_of_fold():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=(20, 4)).astype(float)
    y = x @ [1.0, 2.0, 0.0, -1.0] + rng.normal(0, 0.1, 20)
    base = oof_predictions(x, y, folds=4, seed=0)
    changed = y.copy()
    changed[7] = 1e6  # an architecture's own label cannot move its own prediction
    moved = oof_predictions(x, changed, folds=4, seed=0)
    assert moved[7] == base[7]
    assert not np.allclose(moved, base)
    assert rank_fidelity(base, y)[0] > 0.7
    with pytest.raises(ConfigError, match="--folds 4"):
        oof_predictions(x[:3], y[:3], folds=4, seed=0)


@pytest.mark.parametrize("n, folds, flagged", [(5, 2, True), (8, 2, True), (14, 2, False), (5, 5, True),
                                               (8, 5, True), (9, 5, False), (4, 4, True), (40, 5, False)])
def test_a_predictor_over_too_few_architectures_is_flagged(n, folds, flagged):
    from hwnas.fidelity import MIN_SAMPLES_LEAF, predictor_note

    assert bool(predictor_note(n, folds)) == flagged
    # what the flag rests on: a forest that learns from too few predicts one value, the mean
    x, y = np.arange(n, dtype=float)[:, None], np.arange(n, dtype=float) ** 2  # one feature ranks them exactly
    preds = oof_predictions(x, y, folds=folds, seed=0)
    if n - n // folds < 2 * MIN_SAMPLES_LEAF:  # no fold learns from enough
        assert len(np.unique(np.round(preds, 9))) <= folds  # one value per fold
    if not flagged:
        assert rank_fidelity(preds, y)[0] > 0.85


def test_a_predictor_whose_bootstrap_samples_cannot_split_is_flagged():
    # --archs 5 --folds 5 (the smallest the command accepts): each fold learns from 4, but each
    # tree's bootstrap sample holds about 2.7 distinct of them, so nearly every tree predicts the
    # mean of the other four and the figure is the folds' order reversed: -1 with no note before
    from hwnas.fidelity import predictor_note

    x, y = np.arange(5, dtype=float)[:, None], np.arange(5, dtype=float) ** 2
    assert rank_fidelity(oof_predictions(x, y, folds=5, seed=0), y)[0] == pytest.approx(-1.0)
    note = predictor_note(5, 5)
    assert "learns from as few as 4, each tree from about 2.7 distinct" in note and "use --archs 9 or more" in note


def test_sample_is_distinct_seeded_and_bounded():
    space = make_space("mlp", (64,), 10, max_layers=1, widths=[8, 16], activations=["relu"], lrs=[0.001],
                       optimizers=["adam"], dropouts=[0.0])  # exactly two architectures
    assert sorted(sample_architectures(space, 2, seed=0)) == ["h16_relu_adam_lr0.001_do0", "h8_relu_adam_lr0.001_do0"]
    big = make_space("mlp", (64,), 10)
    assert sample_architectures(big, 6, seed=4) == sample_architectures(big, 6, seed=4)
    assert sample_architectures(big, 6, seed=4)[:3] == sample_architectures(big, 3, seed=4)  # prefix: --resume
    with pytest.raises(ConfigError, match="only 2 distinct usable architectures.*--archs 2"):
        sample_architectures(space, 3, seed=0)


def test_run_fidelity_tiny():
    result = run_fidelity(config_from_dict(TINY), archs=5, epochs=[1, 2], proxies=["params", "naswot"], folds=2,
                          proxy_batch_size=16)
    assert result.reference == "accuracy_pct_2ep"
    assert [s["signal"] for s in result.summary] == ["params", "naswot", "train-1ep", "predictor", "predictor+zc"]
    by = {s["signal"]: s for s in result.summary}
    # A singular NASWOT kernel (a narrow net) is a missing value with its reason, not a crash.
    singular = [r for r in result.rows if "naswot" in r["failures"]]
    assert all("singular" in r["failures"] and np.isnan(r["naswot"]) for r in singular)
    assert by["naswot"]["n"] == 5 - len(singular)
    assert all(s["n"] == 5 for name, s in by.items() if name != "naswot")
    assert len({r["arch"] for r in result.rows}) == 5
    for row in result.rows:
        assert row["params"] > 0 and 0 <= row["accuracy_pct_1ep"] <= 100 and row["train_s_2ep"] > 0
    again = run_fidelity(config_from_dict(TINY), archs=5, epochs=[1, 2], proxies=["params", "naswot"], folds=2,
                         proxy_batch_size=16)
    for column in ("accuracy_pct_2ep", "naswot", "predictor_accuracy_pct"):  # bit-identical, NaN included
        np.testing.assert_array_equal([r[column] for r in again.rows], [r[column] for r in result.rows])


def test_command_writes_files_and_resumes(tmp_path, capsys, monkeypatch):
    cfg = _write(tmp_path, TINY)
    out = tmp_path / "fid"
    argv = ["fidelity", cfg, "--archs", "5", "--epochs", "2,1", "--proxies", "params,synflow", "--folds", "2",
            "--proxy-batch", "16", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| train-1ep |" in printed and "accuracy_pct_2ep" in printed
    # the header's seconds are the reference's training (2 epochs), not each architecture's whole cost
    assert re.search(r"rank fidelity against accuracy_pct_2ep \(5 architectures; the reference trains one in "
                     r"[0-9.]+ s, median\):", printed)
    rows = _csv(out / "fidelity.csv")
    assert len(rows) == 5 and {"synflow", "synflow_s", "accuracy_pct_1ep", "predictor_accuracy_pct"} <= set(rows[0])
    summary = _csv(out / "fidelity_summary.csv")
    assert [s["signal"] for s in summary] == ["params", "synflow", "train-1ep", "predictor", "predictor+zc"]
    # 5 architectures in 2 folds: each fold's forest learns from 2 and predicts their mean
    assert [bool(s["note"]) for s in summary] == [False, False, False, True, True]
    assert "use --archs 14 or more" in summary[3]["note"]
    assert "note: predictor, predictor+zc: too few architectures" in printed
    assert (out / "fidelity.png").stat().st_size > 0
    assert json.loads((out / "fidelity.json").read_text())["settings"]["epochs"] == [1, 2]

    from hwnas.estimate import ProxyTrainer

    def no_training(*_a, **_k):
        raise AssertionError("a resumed run trained an architecture again")

    monkeypatch.setattr(ProxyTrainer, "estimate", no_training)
    with open(cfg, "a") as fh:  # a comment changes the file, not the config the rows depend on
        fh.write("\n# edited after the run\n")
    assert main([*argv, "--resume"]) == 0
    ranks = ("signal", "spearman", "kendall", "n")  # seconds differ from run to run
    assert [[s[k] for k in ranks] for s in _csv(out / "fidelity_summary.csv")] == [[s[k] for k in ranks] for s in summary]
    # Extending a finished run: only the new proxy's column is computed.
    assert main([*argv[:7], "params,synflow,naswot", *argv[8:], "--resume"]) == 0
    extended = _csv(out / "fidelity.csv")
    assert [r["synflow"] for r in extended] == [r["synflow"] for r in rows]
    assert all(r["naswot"] or "naswot" in r["failures"] for r in extended)
    capsys.readouterr()
    assert main([*argv[:-1], "--seed", "1", "--resume"]) == 2
    assert "--resume" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "3"], "--epochs 3 needs at least two distinct budgets in [1, 1000]"),
    (["--epochs", "1,2000"], "--epochs 1,2000 needs at least two distinct budgets in [1, 1000]"),
    (["--proxy-batch", "5000"], "--proxy-batch = 5000 is invalid; it must be an integer in [2, 120]"),
    (["--archs", "2"], "--archs 2 must be an integer >= 5"),
    (["--proxies", "nasowt"], "unknown zero-cost proxy 'nasowt'; did you mean 'naswot'"),
    (["--proxy-batch", "1"], "--proxy-batch 1 must be an integer >= 2"),
])
def test_bad_flags_give_one_line(tmp_path, flags, message, cli_error):
    cli_error(["fidelity", _write(tmp_path, TINY), "--out", str(tmp_path / "o"), *flags], message)
    assert not (tmp_path / "o").exists()  # refused before anything is written (a later --resume would fail)


def test_a_config_that_does_not_train_is_refused(tmp_path, capsys):
    data = {**TINY, "estimator": {"name": "zero-cost"}}
    assert main(["fidelity", _write(tmp_path, data), "--out", str(tmp_path / "o")]) == 2
    assert 'trains with [estimator] name = "proxy-trainer"' in capsys.readouterr().err


def test_a_recipe_option_the_space_sets_per_architecture_is_refused(tmp_path, capsys):
    # the mlp space's lr gene sets each architecture's rate: [estimator] lr would be ignored, as in search
    data = {**TINY, "estimator": {**TINY["estimator"], "lr": 9.0}}
    assert main(["fidelity", _write(tmp_path, data), "--out", str(tmp_path / "o")]) == 2
    assert "[estimator] lr would be ignored: the mlp space sets it per architecture" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_mbv3_on_digits_end_to_end(tmp_path, capsys):
    """The real thing, small: mbv3 on 12x12 digits, every proxy, 1 and 2 epochs, the ceiling."""
    out = tmp_path / "fid"
    assert main(["fidelity", str(EXAMPLES / "digits.toml"), "--archs", "8", "--epochs", "1,2", "--folds", "4",
                 "--ceiling", "--out", str(out), "--quiet"]) == 0
    rows = _csv(out / "fidelity.csv")
    assert len(rows) == 8 and not any(r["failures"] for r in rows)
    by = {s["signal"]: s for s in _csv(out / "fidelity_summary.csv")}
    assert {"synflow", "naswot", "jacov", "snip", "grad-norm", "params", "train-1ep", "predictor",
            "train-2ep-seed1"} <= set(by)
    assert all(int(s["n"]) == 8 for s in by.values())
    # One more epoch changes the ranking little at this budget (0.82 for 1 vs 3 epochs on 30 archs).
    assert float(by["train-1ep"]["spearman"]) > 0.3


def test_a_bad_epochs_list_gets_an_example_of_epochs(tmp_path, capsys):
    assert main(["fidelity", _write(tmp_path, TINY), "--out", str(tmp_path / "o"), "--epochs", "0,3"]) == 2
    err = capsys.readouterr().err
    assert "--epochs: '0,3' needs comma-separated positive epoch counts, e.g. 1,3,10" in err
    assert "50,200,1000" not in err


def test_an_out_file_or_a_negative_seed_is_one_line(tmp_path, cli_error):
    (tmp_path / "file").write_text("")
    for extra, needle in ((["--out", str(tmp_path / "file")], "is a file; give a folder"),
                          (["--out", str(tmp_path / "o"), "--seed", "-1"], "--seed -1 is out of range; use an integer >= 0")):
        cli_error(["fidelity", _write(tmp_path, TINY)] + extra, needle)


def test_a_resume_keeps_every_row_and_column_it_does_not_revisit(tmp_path, capsys, monkeypatch):
    cfg = _write(tmp_path, TINY)
    out = tmp_path / "fid"
    base = ["fidelity", cfg, "--folds", "2", "--proxy-batch", "16", "--out", str(out), "--quiet"]
    assert main([*base, "--archs", "5", "--epochs", "1,2", "--proxies", "params,synflow"]) == 0
    first = {r["arch"]: r for r in _csv(out / "fidelity.csv")}
    # fewer architectures, other budgets and proxies: the rows and columns left out stay in the file
    assert main([*base, "--archs", "3", "--epochs", "1,3", "--proxies", "params", "--resume"]) == 0
    after = {r["arch"]: r for r in _csv(out / "fidelity.csv")}
    assert set(after) == set(first)
    assert all(after[a]["accuracy_pct_2ep"] == first[a]["accuracy_pct_2ep"] for a in first)
    assert all(after[a]["synflow"] == first[a]["synflow"] for a in first)
    assert sum(bool(r["accuracy_pct_3ep"]) for r in after.values()) == 3
    assert len(_csv(out / "fidelity_summary.csv")) and capsys.readouterr()

    # Ctrl-C in the middle of a resumed session: the finished rows, and the rest, are all kept
    from hwnas.estimate import ProxyTrainer

    real, calls = ProxyTrainer.estimate, []

    def interrupt_at_the_third(self, *a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(ProxyTrainer, "estimate", interrupt_at_the_third)
    argv = [*base, "--archs", "5", "--epochs", "1,2,4", "--resume"]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert f"every finished architecture is in {out / 'fidelity.csv'}" in err
    assert "--epochs 1,2,4" in err and err.strip().endswith("--resume")
    kept = {r["arch"]: r for r in _csv(out / "fidelity.csv")}
    assert set(kept) == set(first) and all(kept[a]["synflow"] == first[a]["synflow"] for a in first)
    assert json.loads((out / "fidelity.json").read_text())["history"][-1]["wall_s"] > 0


def test_a_study_is_never_overwritten_without_resume(tmp_path, cli_error):
    cfg = _write(tmp_path, TINY)
    out = tmp_path / "fid"
    argv = ["fidelity", cfg, "--archs", "3", "--epochs", "1,2", "--proxies", "params", "--folds", "2",
            "--proxy-batch", "16", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    before = (out / "fidelity.csv").read_text()
    cli_error(argv, f"--out {out} already holds a fidelity study", "pass --resume")
    assert (out / "fidelity.csv").read_text() == before


def test_an_architecture_that_fails_to_train_is_a_missing_value(tmp_path, monkeypatch):
    from hwnas.estimate import ProxyTrainer

    real = ProxyTrainer.estimate

    def fails_once(self, arch, *a, **k):
        if arch == first:
            raise ValueError("Expected more than 1 value per channel when training")
        return real(self, arch, *a, **k)

    config = config_from_dict(TINY)
    space = make_space("mlp", (64,), 10, **{k: v for k, v in TINY["space"].items() if k != "name"})
    first = sample_architectures(space, 4, seed=0)[0]
    monkeypatch.setattr(ProxyTrainer, "estimate", fails_once)
    result = run_fidelity(config, archs=4, epochs=[1, 2], proxies=["params"], folds=2, proxy_batch_size=16)
    row = next(r for r in result.rows if r["arch"] == first)
    assert np.isnan(row["accuracy_pct_1ep"]) and "1: ValueError: Expected more than 1 value" in row["failures"]


def test_the_default_proxy_batch_fits_a_small_training_split():
    config = config_from_dict({**TINY, "task": {**TINY["task"], "max_train_samples": 40}})
    result = run_fidelity(config, archs=4, epochs=[1, 2], proxies=["params"], folds=2)
    assert result.settings["proxy_batch_size"] == 40  # 64 would be refused: the split has 40 samples


def test_the_plot_labels_a_regression_s_reference_as_r2_not_accuracy(tmp_path, monkeypatch):
    import matplotlib.figure

    from hwnas.fidelity import plot_fidelity

    data = {**TINY, "task": {"dataset": "diabetes", "seed": 0}}
    result = run_fidelity(config_from_dict(data), archs=3, epochs=[1, 2], proxies=["params"], folds=2,
                          proxy_batch_size=16)
    assert result.settings["regression"] is True
    saved = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, path, **kw: saved.append(fig))
    plot_fidelity(tmp_path / "f.png", result)
    assert saved[0].axes[1].get_ylabel() == "validation 100·R²"
    result.settings["regression"] = False
    plot_fidelity(tmp_path / "f.png", result)
    assert saved[1].axes[1].get_ylabel() == "accuracy (%)"


def test_the_bar_chart_shows_a_negative_spearman_whole(tmp_path, monkeypatch):
    import matplotlib.figure

    from hwnas.fidelity import FidelityResult, plot_fidelity

    rows = [{"arch": str(i), "ref": float(i), "p": float(-i)} for i in range(5)]
    summary = [{"signal": "p", "kind": "predictor", "spearman": -0.866, "kendall": -0.775, "n": 5,
                "seconds_per_arch": 0.1}]
    result = FidelityResult(rows, summary, {"p": "p"}, "ref", ["arch", "ref", "p"], {"config": "c.toml"})
    saved = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, path, **kw: saved.append(fig))
    plot_fidelity(tmp_path / "f.png", result)
    assert saved[0].axes[0].get_xlim()[0] < -0.866  # the Spearman bar was cut at Kendall - 0.05 = -0.825


def test_the_printed_summary_tells_the_noise_ceiling_from_the_signals():
    from hwnas.fidelity import FidelityResult, format_summary

    summary = [{"signal": "naswot", "kind": "proxy", "spearman": 0.5, "kendall": 0.4, "n": 5, "seconds_per_arch": 0.1},
               {"signal": "train-2ep-seed1", "kind": "noise ceiling", "spearman": 0.4, "kendall": 0.4, "n": 5,
                "seconds_per_arch": 0.9}]
    printed = format_summary(FidelityResult([], summary, {}, "accuracy_pct_2ep", []))
    assert "| train-2ep-seed1 | noise ceiling | 0.400 |" in printed and "| naswot | proxy | 0.500 |" in printed


def test_no_budget_pays_an_architecture_s_one_off_set_up(monkeypatch):
    import time

    from hwnas.estimate import ProxyTrainer

    seen = set()

    def first_run_is_slow(self, arch, *a, **k):  # as a network's first run sets up its layer shapes
        time.sleep(self.epochs * 0.02 + (0.3 if arch not in seen else 0.0))
        seen.add(arch)
        return {"accuracy_pct": 50.0 + len(arch) % 7}

    monkeypatch.setattr(ProxyTrainer, "estimate", first_run_is_slow)
    result = run_fidelity(config_from_dict(TINY), archs=3, epochs=[1, 4], proxies=["params"], folds=2,
                          proxy_batch_size=16)
    for row in result.rows:  # 1 epoch took longer than 4 when it paid the set-up
        assert row["train_s_1ep"] < row["train_s_4ep"] < 0.25, row


def test_fidelity_json_names_the_processor_the_seconds_were_timed_on(tmp_path, capsys):
    from hwnas.cost.device import cpu_model

    out = tmp_path / "fid"
    assert main(["fidelity", _write(tmp_path, TINY), "--archs", "3", "--epochs", "1,2", "--proxies", "params",
                 "--folds", "2", "--proxy-batch", "16", "--out", str(out), "--quiet"]) == 0
    assert json.loads((out / "fidelity.json").read_text())["machine"] == cpu_model()  # was "x86_64"


def test_a_reference_that_fails_to_train_is_named_not_blamed_on_archs(monkeypatch):
    from hwnas.estimate import ProxyTrainer

    def diverges(self, arch, *a, **k):
        raise FloatingPointError("loss became nan at epoch 1 step 3 (lr=5, optimizer=adam)")

    monkeypatch.setattr(ProxyTrainer, "estimate", diverges)
    with pytest.raises(ConfigError, match=r"the reference training \(accuracy_pct_2ep\) failed on 3 of 3 architectures, "
                                          r"too many to rank them \(first: 2: FloatingPointError: loss became nan"):
        run_fidelity(config_from_dict(TINY), archs=3, epochs=[1, 2], proxies=["params"], folds=2, proxy_batch_size=16)


def test_the_bar_chart_names_its_dashed_line(tmp_path, monkeypatch):
    import matplotlib.figure

    from hwnas.fidelity import FidelityResult, plot_fidelity

    rows = [{"arch": str(i), "ref": float(i), "p": float(i)} for i in range(5)]
    summary = [{"signal": "p", "kind": "proxy", "spearman": 1.0, "kendall": 1.0, "n": 5, "seconds_per_arch": 0.1}]
    result = FidelityResult(rows, summary, {"p": "p"}, "ref", ["arch", "ref", "p"], {"config": "c.toml"})
    saved = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, path, **kw: saved.append(fig))
    plot_fidelity(tmp_path / "f.png", result)
    labels = [t.get_text() for t in saved[0].axes[0].get_legend().get_texts()]
    assert any("0.85" in label for label in labels), labels


def test_the_warm_up_task_keeps_every_field_of_the_task():
    from dataclasses import fields

    from hwnas.data import Task
    from hwnas.fidelity import _warm_task

    x = np.arange(24, dtype=np.float32).reshape(6, 4)
    given = dict(name="t", x_train=x, y_train=np.array([0, 1, 2, 0, 1, 2]), x_val=x[:3], y_val=np.array([0, 1, 2]),
                 num_classes=3, preprocessing={"pixel_max": None, "resize": 0}, notes=("a loader's note",))
    assert set(given) == {f.name for f in fields(Task)}  # a new Task field: set it here too
    warm = _warm_task(Task(**given), 2)
    assert np.array_equal(warm.x_train, x[:2]) and np.array_equal(warm.y_train, [0, 1])
    for name in set(given) - {"x_train", "y_train"}:
        assert getattr(warm, name) is given[name], name


def test_the_plot_marks_a_figure_its_note_says_not_to_read(tmp_path, monkeypatch):
    # the terminal and fidelity_summary.csv said the predictor's figure ranks folds, while
    # fidelity.png drew its -1.0 bar and scatter as if it were a finding
    import matplotlib.figure

    from hwnas.fidelity import FidelityResult, plot_fidelity

    rows = [{"arch": str(i), "ref": float(i), "p": float(i), "q": float(-i)} for i in range(5)]
    summary = [{"signal": "p", "kind": "proxy", "spearman": 1.0, "kendall": 1.0, "n": 5, "seconds_per_arch": 0.1,
                "note": ""},
               {"signal": "q", "kind": "predictor", "spearman": -1.0, "kendall": -1.0, "n": 5,
                "seconds_per_arch": 0.1, "note": "too few architectures: ..."}]
    result = FidelityResult(rows, summary, {"p": "p", "q": "q"}, "ref", ["arch", "ref", "p", "q"], {"config": "c.toml"})
    saved = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, path, **kw: saved.append(fig))
    plot_fidelity(tmp_path / "f.png", result)
    assert [t.get_text() for t in saved[0].axes[0].get_yticklabels()] == ["p", "q (see note)"]
    assert "not to read" not in saved[0].axes[1].get_title()
    assert "not to read: see the note in fidelity_summary.csv" in saved[0].axes[2].get_title()


def test_without_proxies_no_predictor_zc_row_repeats_the_predictor():
    # --proxies "" listed 'predictor+zc', a forest on the genome alone: the predictor's figures again
    result = run_fidelity(config_from_dict(TINY), archs=5, epochs=[1, 2], proxies=[], folds=2, proxy_batch_size=16)
    assert [s["signal"] for s in result.summary] == ["train-1ep", "predictor"]
