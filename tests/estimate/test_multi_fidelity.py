"""Successive halving: the promotion rule, rung bookkeeping, replay on resume, a search end to end."""

import csv

import pytest
import torch
from torch import nn

from hwnas.config import config_from_dict
from hwnas.estimate import ESTIMATORS, ProxyTrainer, SuccessiveHalvingTrainer
from hwnas.estimate.multi_fidelity import promoted
from hwnas.exceptions import ConfigError


def mlp(width: int) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, width), nn.ReLU(), nn.Linear(width, 10))


def test_the_first_candidate_at_a_rung_goes_on_then_only_the_best_third():
    assert promoted([4.0], [1], 3, "error")
    assert not promoted([4.0, 5.0], [1, 1], 3, "error")   # keep ceil(2/3) = 1: the 4.0
    assert promoted([4.0, 3.0], [1, 1], 3, "error")
    assert promoted([4.0, 5.0, 6.0, 3.5], [1, 1, 1, 1], 3, "error")  # keep 2 of 4
    assert not promoted([4.0, 5.0, 6.0, 5.5], [1, 1, 1, 1], 3, "error")
    assert not promoted([4.0, 4.0], [1, 1], 3, "error")    # a tie goes to the earlier one


def test_pareto_promotion_keeps_a_small_network_that_error_alone_would_stop():
    # keep 2 of 6: the newest (8 %, 10 parameters) is only third by error, but it ends the front
    errors, sizes = [2.0, 3.0, 9.0, 10.0, 11.0, 8.0], [1000, 900, 1100, 1200, 1300, 10]
    assert not promoted(errors, sizes, 3, "error")
    assert promoted(errors, sizes, 3, "pareto")
    assert not promoted([2.0, 3.0, 9.0, 10.0, 11.0, 2.5], [1000, 10, 1100, 1200, 1300, 900], 3, "pareto")
    # dominated by a smaller and more accurate network: stopped under either rule
    assert not promoted([2.0, 3.0, 8.0, 9.0], [1000, 900, 10, 20], 2, "pareto")


def test_rungs_train_like_proxy_trainer_and_record_epochs(digits_task):
    sh = SuccessiveHalvingTrainer(digits_task, rungs=[1, 2], eta=2, max_train_samples=200, batch_size=32)
    first = sh.estimate("a", mlp(32))
    assert first["rung"] == 1 and first["epochs"] == 2 and first["train_epochs"] == 3
    plain = {e: ProxyTrainer(digits_task, epochs=e, max_train_samples=200, batch_size=32).estimate("a", mlp(32))
             for e in (1, 2)}
    assert first["error_pct_e1"] == plain[1]["error_pct"]
    assert first["error_pct_e2"] == first["error_pct"] == plain[2]["error_pct"]
    assert first["trainable_params"] == sum(p.numel() for p in mlp(32).parameters())
    # a worse network of the same size at rung 0 is stopped there
    worse = sh.estimate("b", nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Dropout(0.9),
                                           nn.Linear(32, 10)))
    if worse["error_pct_e1"] > first["error_pct_e1"]:
        assert worse["rung"] == 0 and worse["epochs"] == 1 and worse["train_epochs"] == 1
        assert "error_pct_e2" not in worse
    assert [len(r) for r in sh.results] == [2, 1 + (worse["rung"] == 1)]


class _Scale(nn.Module):
    """A parameter held directly, with no ``reset_parameters`` (a layer scale of a custom space)."""

    def __init__(self) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(10))

    def forward(self, x):
        return x * self.gamma


def test_every_rung_starts_from_the_built_weights_even_those_without_reset(digits_task):
    def net():
        torch.manual_seed(0)
        return nn.Sequential(mlp(32), _Scale())

    options = {"max_train_samples": 200, "batch_size": 32, "lr": 0.05}
    sh = SuccessiveHalvingTrainer(digits_task, rungs=[2, 4], eta=2, **options)
    got = sh.estimate("a", net())
    plain = ProxyTrainer(digits_task, epochs=4, **options).estimate("a", net())
    assert got["rung"] == 1
    assert got["error_pct_e4"] == plain["error_pct"] and got["train_loss"] == plain["train_loss"]


def test_a_candidate_failing_at_a_later_rung_keeps_the_rungs_it_finished(digits_task, monkeypatch):
    # its failed row carries the finished rungs (attach_metrics), and a resumed search replays them
    # from it: the uninterrupted search and the resumed one count the same rung results
    from hwnas.exceptions import measured_before

    stored = {"trainable_params": 10.0, "error_pct_e1": 99.0, "error_pct_e2": 99.0, "error_pct_e4": 99.0}
    sh = SuccessiveHalvingTrainer(digits_task, rungs=[1, 2, 4], eta=2, promotion="error",
                                  max_train_samples=200, batch_size=32)
    sh.observe(stored)

    def diverge(*args, **kwargs):
        raise FloatingPointError("loss became nan at epoch 2")

    monkeypatch.setattr(sh.trainers[2], "estimate", diverge)
    with pytest.raises(FloatingPointError) as failed:
        sh.estimate("b", mlp(32))  # better than 99 %: promoted at rungs 0 and 1, fails at rung 2
    kept = measured_before(failed.value)
    assert set(kept) == {"trainable_params", "error_pct_e1", "error_pct_e2"}
    resumed = SuccessiveHalvingTrainer(digits_task, rungs=[1, 2, 4])
    resumed.observe(stored)
    resumed.observe(kept)  # the failed candidate, as the store gives it back
    assert sh.results == resumed.results
    assert [len(r) for r in sh.results] == [2, 2, 1]


def test_an_interrupted_candidate_leaves_no_rung_results(digits_task, monkeypatch):
    # not recorded at all: a resumed search evaluates it again, so nothing of it may count
    sh = SuccessiveHalvingTrainer(digits_task, rungs=[1, 2], eta=2, promotion="error",
                                  max_train_samples=200, batch_size=32)
    sh.observe({"trainable_params": 10.0, "error_pct_e1": 99.0, "error_pct_e2": 99.0})

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sh.trainers[1], "estimate", interrupt)
    with pytest.raises(KeyboardInterrupt):
        sh.estimate("b", mlp(32))
    assert sh.results == [[(99.0, 10.0)], [(99.0, 10.0)]]


def test_observe_replays_stored_results(digits_task):
    sh = SuccessiveHalvingTrainer(digits_task, rungs=[1, 3, 9])
    sh.observe({"error_pct_e1": 5.0, "error_pct_e3": 4.0, "trainable_params": 10.0})
    sh.observe({"error_pct_e1": 7.0, "trainable_params": 10.0})
    sh.observe({"error_pct": 1.0})  # another estimator's row: ignored
    assert sh.results == [[(5.0, 10.0), (7.0, 10.0)], [(4.0, 10.0)], []]


def test_bad_options_name_the_value_and_the_fix(digits_task):
    with pytest.raises(ConfigError, match=r"rungs = \[3, 1\] is invalid; it must list at least two increasing"):
        SuccessiveHalvingTrainer(digits_task, rungs=[3, 1])
    with pytest.raises(ConfigError, match=r"rungs = \[2\] is invalid"):
        SuccessiveHalvingTrainer(digits_task, rungs=[2])
    with pytest.raises(ConfigError, match=r"eta = 1 is invalid; it must be a number in \(1, 100\]"):
        SuccessiveHalvingTrainer(digits_task, eta=1)
    with pytest.raises(ConfigError, match=r"promotion = 'size' is invalid; it must be one of pareto, error"):
        SuccessiveHalvingTrainer(digits_task, promotion="size")
    with pytest.raises(ConfigError, match=r"epochs cannot be set \(the rungs set the epochs"):
        SuccessiveHalvingTrainer(digits_task, epochs=3)
    with pytest.raises(ConfigError, match=r"^'successive-halving' has no option\(s\) 'epoch'; valid options: rungs, eta, "
                                          r"promotion, batch_size, .*augment$"):
        SuccessiveHalvingTrainer(digits_task, epoch=3)
    with pytest.raises(ConfigError, match=r"; did you mean 'batch_size'\?$"):
        SuccessiveHalvingTrainer(digits_task, batch_sze=32)
    assert "successive-halving" in ESTIMATORS


def _config(evaluations: int) -> dict:
    return {"task": {"dataset": "digits"},
            "space": {"name": "mlp", "max_layers": 2, "widths": [8, 32, 128], "activations": ["relu"],
                      "dropouts": [0.0]},
            "estimator": {"name": "successive-halving", "rungs": [1, 2, 4], "eta": 2, "max_train_samples": 300,
                          "batch_size": 32},
            "cost": {"target": "cpu-ort-1t", "models": ["counts"]},
            "search": {"objectives": ["error", "params"], "evaluations": evaluations, "population": 6, "seed": 0}}


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("execution", [{}, {"workers": 1, "eval_timeout_s": 1000}], ids=["in-process", "worker"])
def test_search_records_epochs_and_a_resume_decides_like_the_uninterrupted_run(tmp_path, monkeypatch, execution):
    from hwnas.search.runner import run_search
    from hwnas.store import Store

    # "worker": evaluations run in a worker process (a timeout needs one), whose estimator must
    # be handed the stored results the resumed search read back
    config = config_from_dict({**_config(18), "execution": execution})
    run_search(config, tmp_path / "whole", progress=False)
    whole = _rows(tmp_path / "whole" / "evaluations.csv")
    ok = [r for r in whole if r["status"] == "ok"]
    assert {float(r["epochs"]) for r in ok} >= {1.0, 4.0}  # some stopped at once, survivors went on
    for r in ok:
        rung = int(float(r["rung"]))
        assert float(r["train_epochs"]) == sum([1, 2, 4][:rung + 1])
        assert float(r["error_pct"]) == float(r[f"error_pct_e{[1, 2, 4][rung]}"])

    real_add, added = Store.add, []

    def add_then_interrupt(self, ev):  # Ctrl-C right after the 9th commit, mid-generation
        stored = real_add(self, ev)
        added.append(ev)
        if len(added) == 9:
            raise KeyboardInterrupt
        return stored

    monkeypatch.setattr(Store, "add", add_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_search(config, tmp_path / "cut", progress=False)
    monkeypatch.undo()
    run_search(config, tmp_path / "cut", resume=True, progress=False)
    cut = _rows(tmp_path / "cut" / "evaluations.csv")
    keys = ("arch", "epochs", "rung", "error_pct")
    assert [[r[k] for k in keys] for r in cut] == [[r[k] for k in keys] for r in whole]
