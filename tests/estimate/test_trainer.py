"""Tests for the ``proxy-trainer`` estimator and ``recalibrate_batchnorm``."""

import copy
import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from hwnas.estimate import OPTIMIZERS, ProxyTrainer, recalibrate_batchnorm
from hwnas.exceptions import ConfigError

from .conftest import small_cnn, small_mlp


def _built_with_seed(seed, factory=small_cnn, **kw):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory(**kw)


def test_small_cnn_learns_digits(digits_task):
    result = ProxyTrainer(digits_task, epochs=3, device="cpu").estimate("cnn", small_cnn())
    assert result["accuracy_pct"] > 90.0
    assert result["error_pct"] == pytest.approx(100.0 - result["accuracy_pct"])
    assert result["epochs"] == 3.0 and result["train_s"] > 0 and result["eval_s"] > 0
    assert math.isfinite(result["train_loss"])
    assert all(isinstance(v, float) for v in result.values())


def test_same_seed_same_arch_gives_identical_metrics(digits_task):
    trainer = ProxyTrainer(digits_task, epochs=2, device="cpu")
    # different global seeds at build time: the trainer re-initialises from its own seed
    a = trainer.estimate("cnn", _built_with_seed(1, dropout=0.2))
    b = trainer.estimate("cnn", _built_with_seed(2, dropout=0.2))
    assert a["error_pct"] == b["error_pct"] and a["train_loss"] == b["train_loss"]
    c = ProxyTrainer(digits_task, epochs=2, device="cpu").estimate("cnn", _built_with_seed(3, dropout=0.2))
    assert c["train_loss"] == a["train_loss"]


def test_other_seed_changes_the_run(digits_task):
    a = ProxyTrainer(digits_task, epochs=1, seed=0).estimate("cnn", small_cnn())
    b = ProxyTrainer(digits_task, epochs=1, seed=1).estimate("cnn", small_cnn())
    assert a["train_loss"] != b["train_loss"]


def test_without_reset_the_built_weights_are_trained(digits_task):
    model = _built_with_seed(5)
    twin = copy.deepcopy(model)
    trainer = ProxyTrainer(digits_task, epochs=1, reset_parameters=False)
    assert trainer.estimate("cnn", model)["train_loss"] == trainer.estimate("cnn", twin)["train_loss"]
    other = ProxyTrainer(digits_task, epochs=1).estimate("cnn", copy.deepcopy(_built_with_seed(5)))
    assert other["train_loss"] != trainer.estimate("cnn", _built_with_seed(5))["train_loss"]


def test_training_leaves_global_rngs_untouched(digits_task):
    trainer = ProxyTrainer(digits_task, epochs=1, augment=True, max_train_samples=300)
    model = small_cnn(dropout=0.3)
    random.seed(11)
    np.random.seed(11)
    torch.manual_seed(11)
    py, np_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()
    trainer.estimate("cnn", model)
    assert random.getstate() == py
    assert np.random.get_state()[1].tolist() == np_state[1].tolist()
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_batchnorm_recalibration_fixes_stale_statistics(digits_task):
    # momentum 0 keeps the running statistics at their initial values; the shift makes them wrong
    stale = ProxyTrainer(digits_task, epochs=1, bn_recalibration_batches=0).estimate(
        "cnn", small_cnn(bn_momentum=0.0, shift=3.0))
    fixed = ProxyTrainer(digits_task, epochs=1, bn_recalibration_batches=10).estimate(
        "cnn", small_cnn(bn_momentum=0.0, shift=3.0))
    assert fixed["accuracy_pct"] > 85.0
    assert stale["error_pct"] > fixed["error_pct"] + 20.0


def test_one_epoch_with_recalibration_is_far_from_chance(digits_task):
    result = ProxyTrainer(digits_task, epochs=1).estimate("cnn", small_cnn())
    assert result["accuracy_pct"] > 80.0


def test_recalibrate_batchnorm_computes_exact_statistics():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Dropout(0.5), nn.BatchNorm2d(3, momentum=0.3), nn.ReLU())
    batches = [torch.randn(8, 3, 4, 4) * 2 + 1 for _ in range(4)]
    net.train()
    assert recalibrate_batchnorm(net, batches) == 4
    bn = net[1]
    expected = torch.cat(batches).mean(dim=(0, 2, 3))  # equal batch sizes: mean of means is exact
    torch.testing.assert_close(bn.running_mean, expected, rtol=1e-5, atol=1e-5)  # dropout was off
    assert bn.momentum == 0.3 and net.training and net[0].training and bn.num_batches_tracked == 4


def test_recalibrate_batchnorm_without_batchnorm_or_batches():
    assert recalibrate_batchnorm(nn.Linear(2, 2), []) == 0
    bn = nn.BatchNorm1d(2)
    with pytest.raises(ValueError, match="at least one batch"):
        recalibrate_batchnorm(bn, iter([]))
    assert bn.momentum == 0.1


def test_nan_loss_raises_floating_point_error(digits_task):
    class NaNOut(nn.Module):
        def forward(self, x):
            return x * float("nan")

    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), NaNOut())
    with pytest.raises(FloatingPointError, match="loss became nan at epoch 1 step 1"):
        ProxyTrainer(digits_task, epochs=2).estimate("nan", model)


def test_regression_on_diabetes(diabetes_task):
    model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
    result = ProxyTrainer(diabetes_task, epochs=10, batch_size=32).estimate("mlp", model)
    assert math.isfinite(result["error_pct"]) and 0.0 < result["error_pct"] < 100.0
    assert result["accuracy_pct"] == pytest.approx(100.0 - result["error_pct"])


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_every_optimizer_trains(digits_task, optimizer):
    lr = 0.05 if optimizer == "sgd" else 3e-3
    result = ProxyTrainer(digits_task, epochs=2, optimizer=optimizer, lr=lr).estimate("mlp", small_mlp())
    assert result["accuracy_pct"] > 70.0


def test_recipe_overrides_lr_and_optimizer(digits_task):
    trainer = ProxyTrainer(digits_task, epochs=1, max_train_samples=300)
    base = trainer.estimate("mlp", small_mlp())
    tuned = trainer.estimate("mlp", small_mlp(), {"lr": 1e-4, "optimizer": "sgd", "weight_decay": 0.0})
    assert tuned["train_loss"] > base["train_loss"]  # a tiny SGD step barely moves


@pytest.mark.parametrize("recipe, fragment", [
    ({"momentum": 0.9}, "recipe key(s) 'momentum'"),
    ({"lr": 0.0}, "recipe lr = 0.0 is invalid; it must be a number in (0, 10]"),
    ({"optimizer": "lion"}, "recipe optimizer = 'lion' is invalid; it must be one of adam, adamw, sgd, rmsprop"),
])
def test_bad_recipe(digits_task, recipe, fragment):
    with pytest.raises(ConfigError) as info:
        ProxyTrainer(digits_task).estimate("mlp", small_mlp(), recipe)
    assert fragment in str(info.value)


@pytest.mark.parametrize("option, value, fragment", [
    ("epochs", 0, "epochs = 0 is invalid; it must be an integer in [1, 1000]"),
    ("epochs", 2.5, "epochs = 2.5 is invalid"),
    ("batch_size", True, "batch_size = True is invalid"),
    ("lr", -1.0, "lr = -1.0 is invalid; it must be a number in (0, 10]"),
    ("lr", float("nan"), "lr = nan is invalid"),
    ("optimizer", "adamx", "optimizer = 'adamx' is invalid; it must be one of adam, adamw, sgd, rmsprop"),
    ("weight_decay", 1.0, "weight_decay = 1.0 is invalid; it must be a number in [0, 1)"),
    ("label_smoothing", 1.0, "label_smoothing = 1.0 is invalid"),
    ("seed", -3, "seed = -3 is invalid"),
    ("device", "tpu", "device = 'tpu' is invalid; it must be 'auto', 'cpu', 'cuda' or 'cuda:N'"),
    ("max_train_samples", -1, "max_train_samples = -1 is invalid"),
    ("bn_recalibration_batches", -1, "bn_recalibration_batches = -1 is invalid"),
    ("augment", "yes", "augment = 'yes' is invalid; it must be true or false"),
])
def test_bad_options_name_option_value_and_range(digits_task, option, value, fragment):
    with pytest.raises(ConfigError) as info:
        ProxyTrainer(digits_task, **{option: value})
    assert str(info.value).startswith("proxy-trainer: ") and fragment in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_is_a_config_error(digits_task):
    with pytest.raises(ConfigError, match="device = 'cuda' but CUDA is not available"):
        ProxyTrainer(digits_task, device="cuda")


def test_options_that_do_not_fit_the_task(digits_task, diabetes_task):
    with pytest.raises(ConfigError, match="label_smoothing = 0.1 has no meaning for the regression task"):
        ProxyTrainer(diabetes_task, label_smoothing=0.1)
    with pytest.raises(ConfigError, match="augment = true needs image inputs"):
        ProxyTrainer(diabetes_task, augment=True)


def test_from_options_rejects_unknown_keys(digits_task):
    with pytest.raises(ConfigError, match="^run.toml: 'proxy-trainer' has no option\\(s\\) 'epoch'; valid options: epochs"):
        ProxyTrainer.from_options(digits_task, {"epoch": 3}, source="run.toml")
    with pytest.raises(ConfigError, match="^run.toml: proxy-trainer: epochs = 0"):
        ProxyTrainer.from_options(digits_task, {"epochs": 0}, source="run.toml")
    assert ProxyTrainer.from_options(digits_task, {"epochs": 2}).epochs == 2


def test_wrong_output_size_is_a_config_error(digits_task):
    with pytest.raises(ConfigError, match=r"outputs shape \(64, 7\) but task 'digits' needs \(N, 10\)"):
        ProxyTrainer(digits_task).estimate("bad", small_mlp(out_features=7))


def test_augmentation_and_label_smoothing_train(digits_task):
    trainer = ProxyTrainer(digits_task, epochs=3, augment=True, label_smoothing=0.1)
    a = trainer.estimate("cnn", small_cnn())
    assert a["accuracy_pct"] > 85.0
    assert trainer.estimate("cnn", small_cnn())["error_pct"] == a["error_pct"]


def test_a_batch_larger_than_the_training_split_is_refused(digits_task):
    # clamped silently, a 5000 batch on 1347 digits made each epoch one full-batch step
    n = len(digits_task.y_train)
    with pytest.raises(ConfigError, match=rf"^proxy-trainer: batch_size = 5000 is invalid; it must be at most the {n} "
                                          r"training samples of task 'digits', e.g. 64$"):
        ProxyTrainer(digits_task, batch_size=5000)
    with pytest.raises(ConfigError, match=r"batch_size = 64 is invalid; it must be at most the 40 training samples "
                                          r"of task 'digits' \(max_train_samples = 40\), e.g. 40"):
        ProxyTrainer(digits_task, batch_size=64, max_train_samples=40)
    # the default fits a small split rather than refusing a value the user never gave
    assert ProxyTrainer(digits_task, max_train_samples=40).batch_size == 40
    assert ProxyTrainer(digits_task).batch_size == 64


def test_batch_size_1_with_batch_norm_is_refused(digits_task):
    # it trained to 2 % accuracy (below chance) and was recorded as a success
    with pytest.raises(ConfigError, match=r"^proxy-trainer: batch_size = 1 cannot train model 'cnn': it has batch norm"):
        ProxyTrainer(digits_task, epochs=1, batch_size=1, max_train_samples=20).estimate("cnn", small_cnn())
    # without batch norm a batch of one is plain SGD
    assert ProxyTrainer(digits_task, epochs=1, batch_size=1, max_train_samples=20).estimate("mlp", small_mlp())["epochs"] == 1


def test_max_train_samples_subsets_training(digits_task):
    trainer = ProxyTrainer(digits_task, max_train_samples=128, batch_size=64)
    assert len(trainer._cpu_data[0]) == 128
    assert trainer.estimate("mlp", small_mlp())["train_s"] >= 0


def test_model_is_left_in_eval_mode_on_the_device(digits_task):
    model = small_cnn()
    ProxyTrainer(digits_task, epochs=1).estimate("cnn", model)
    assert not model.training
    assert all(m.momentum == 0.1 for m in model.modules() if isinstance(m, nn.BatchNorm2d))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_with_amp(digits_task):
    result = ProxyTrainer(digits_task, epochs=3, device="cuda").estimate("cnn", small_cnn())
    assert result["accuracy_pct"] > 90.0
    again = ProxyTrainer(digits_task, epochs=3, device="cuda").estimate("cnn", small_cnn())
    assert abs(again["error_pct"] - result["error_pct"]) < 3.0


@pytest.mark.parametrize("capability, dtype", [((7, 5), torch.float16), ((8, 0), torch.bfloat16)])
def test_cuda_autocast_uses_bfloat16_only_where_the_gpu_computes_it(monkeypatch, capability, dtype):
    # is_bf16_supported() says yes on a T4 (7.5), where bfloat16 is emulated and cuDNN has no
    # bfloat16 convolutions: float16 with a gradient scaler there
    from types import SimpleNamespace

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert ProxyTrainer._amp_dtype(SimpleNamespace(device=torch.device("cuda", 0))) is dtype


def test_building_the_trainer_pays_the_optimizers_first_import():
    """The first torch optimizer imports torch._dynamo (seconds): that belongs to start-up, not to
    the first candidate's train_s and eval timeout (every fresh worker's first candidate)."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from hwnas.data import load_task\n"
            "from hwnas.estimate import ProxyTrainer\n"
            "ProxyTrainer(load_task({'dataset': 'digits'}))\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
