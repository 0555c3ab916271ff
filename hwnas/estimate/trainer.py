"""``proxy-trainer``: train each candidate briefly and report its validation error.

A few epochs on (a seeded subset of) the training split rank architectures well enough for a
search, and on small images they take seconds on a CPU. The loop is built for that:

* data are tensors sliced by a seeded permutation (no DataLoader, no worker processes); on
  CUDA they stay on the device and training runs under autocast (bfloat16 where supported,
  else float16 with a gradient scaler); 4-D inputs use ``channels_last`` on every device;
* learning rate: linear warm-up over the first 10 % of steps, then cosine decay to zero;
* batch-norm statistics are recalibrated on training batches before evaluation
  (:func:`recalibrate_batchnorm`), since after a few hundred steps the running averages lag
  the weights and an otherwise good network can score near chance;
* everything random comes from the trainer's ``seed``: the parameters are re-initialised,
  batches drawn and dropout sampled from generators seeded with it, inside
  :func:`torch.random.fork_rng`, so the global torch, numpy and ``random`` states are left as
  they were and the same architecture gets bit-identical metrics on the same CPU.

Example:
    >>> from hwnas.data import load_task
    >>> trainer = ProxyTrainer(load_task({"dataset": "digits"}), epochs=3)
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    >>> sorted(trainer.estimate("linear", model))[:2]
    ['accuracy_pct', 'epochs']
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.base import Task
from ..exceptions import ConfigError
from .base import ESTIMATORS, AccuracyEstimator


def _adam(groups, lr):
    return torch.optim.Adam(groups, lr=lr, foreach=True)


def _adamw(groups, lr):
    return torch.optim.AdamW(groups, lr=lr, foreach=True)


def _sgd(groups, lr):
    return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True, foreach=True)


def _rmsprop(groups, lr):
    return torch.optim.RMSprop(groups, lr=lr, alpha=0.9, eps=1e-8, foreach=True)


#: The largest learning rate a recipe may ask for.
MAX_LR = 10.0

#: Optimizer name -> factory ``(param_groups, lr) -> torch.optim.Optimizer``. Weight decay is set
#: per group (none on biases and normalisation parameters); SGD uses Nesterov momentum 0.9.
#: ``foreach`` kernels: on a CPU the default per-tensor loop costs ~5 % more per step.
OPTIMIZERS: dict[str, Callable[[list[dict], float], torch.optim.Optimizer]] = {
    "adam": _adam, "adamw": _adamw, "sgd": _sgd, "rmsprop": _rmsprop}

#: Keys a search space's training recipe may override.
RECIPE_KEYS = ("lr", "optimizer", "weight_decay")

_WARMUP_FRACTION = 0.1
_DEFAULT_BATCH = 64
_EVAL_BATCH = 1024


def recalibrate_batchnorm(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Re-estimate the running statistics of every batch-norm layer from ``batches``.

    Running statistics are reset and accumulated as an exact (cumulative) average over the
    batches, with only the batch-norm layers in training mode (dropout stays off) and without
    gradients. Momentum and training modes are restored afterwards. Use it before evaluating
    a briefly trained network, or after pruning changed its weights.

    Args:
        model: the network, already on the batches' device.
        batches: input tensors (e.g. 10 training batches); not augmented.

    Returns:
        The number of batches forwarded (0 if the model has no batch norm).

    Raises:
        ValueError: ``batches`` is empty while the model has batch norm (the statistics would be
            lost).

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
        >>> recalibrate_batchnorm(net, [torch.randn(8, 1, 8, 8) for _ in range(3)])
        3
    """
    norms = [m for m in model.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return 0
    batches = list(batches)
    if not batches:
        raise ValueError("recalibrate_batchnorm needs at least one batch")
    modes = {m: m.training for m in model.modules()}
    momenta = [m.momentum for m in norms]
    try:
        model.eval()
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative moving average: every batch weighs the same
            m.train()
        with torch.no_grad():
            for x in batches:
                model(x)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        for m, training in modes.items():
            m.train(training)
    return len(batches)


@ESTIMATORS.register("proxy-trainer")
class ProxyTrainer(AccuracyEstimator):
    """Trains each candidate for a few epochs and measures it on the validation split.

    Args:
        task: the data.
        epochs: training epochs, 1..1000.
        batch_size: training batch size, 1..65536, at most the training samples; the last
            incomplete batch of an epoch is dropped. None (the default): 64, or the whole training
            split when it is smaller.
        lr: peak learning rate, in (0, 10].
        optimizer: one of :data:`OPTIMIZERS` (``adam``, ``adamw``, ``sgd``, ``rmsprop``).
        weight_decay: L2 / decoupled weight decay on weights (not biases or norms), in [0, 1).
        label_smoothing: cross-entropy label smoothing in [0, 1); 0 for regression.
        seed: seeds initialisation, the training subset, batch order, dropout and augmentation.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or
            ``"cuda:N"``.
        max_train_samples: train on a seeded, stratified subset of this size (0 = all).
        bn_recalibration_batches: training batches used to recalibrate batch norm before
            evaluation (0 = keep the running statistics from training).
        augment: random translations by up to 1/8 of the image size (zero padded); images only.
        reset_parameters: re-initialise every layer from ``seed`` before training, so results
            do not depend on how many models were built before. Set False to keep a custom
            initialisation or to fine-tune existing weights.

    Raises:
        ConfigError: an option is out of range, naming the option, value and valid range.
    """

    name = "proxy-trainer"

    needs_model = True
    trains = True

    def __init__(self, task: Task, *, epochs: int = 3, batch_size: int | None = None, lr: float = 3e-3,
                 optimizer: str = "adam", weight_decay: float = 1e-4, label_smoothing: float = 0.0,
                 seed: int = 0, device: str = "auto", max_train_samples: int = 0,
                 bn_recalibration_batches: int = 10, augment: bool = False,
                 reset_parameters: bool = True) -> None:
        if not isinstance(task, Task):
            raise TypeError(f"ProxyTrainer needs a hwnas.data.Task, got {type(task).__name__}")
        self.task = task
        self.epochs = _int("epochs", epochs, 1, 1000)
        self.batch_size = None if batch_size is None else _int("batch_size", batch_size, 1, 65536)
        self.lr = _check_lr(lr)
        self.optimizer = _check_optimizer(optimizer)
        self.weight_decay = _check_weight_decay(weight_decay)
        self.label_smoothing = _float("label_smoothing", label_smoothing, 0.0, 1.0, "in [0, 1)",
                                      high_open=True)
        if task.is_regression and self.label_smoothing:
            raise ConfigError(f"proxy-trainer: label_smoothing = {label_smoothing!r} has no meaning for the "
                              f"regression task {task.name!r}; set it to 0")
        self.seed = _int("seed", seed, 0, 2**63 - 1)
        self.device = _resolve_device(device)
        self.max_train_samples = _int("max_train_samples", max_train_samples, 0, 2**62)
        self.bn_recalibration_batches = _int("bn_recalibration_batches", bn_recalibration_batches, 0, 10**6)
        self.augment = _bool("augment", augment)
        if self.augment and len(task.input_shape) != 3:
            raise ConfigError(f"proxy-trainer: augment = true needs image inputs (C, H, W), but task "
                              f"{task.name!r} has inputs of shape {task.input_shape}; set augment = false")
        self.reset_parameters = _bool("reset_parameters", reset_parameters)
        self._cpu_data = self._prepare_data()
        n = len(self._cpu_data[0])
        if self.batch_size is None:
            self.batch_size = min(_DEFAULT_BATCH, n)
        elif self.batch_size > n:  # each epoch would silently be one full-batch step
            raise _bad("batch_size", batch_size, f"at most the {n} training samples of task {task.name!r}"
                       + (f" (max_train_samples = {self.max_train_samples})" if self.max_train_samples else "")
                       + f", e.g. {min(_DEFAULT_BATCH, n)}")
        self._device_data: dict[str, tuple[torch.Tensor, ...]] = {}
        # torch's first optimizer imports torch._dynamo (1-3 s): pay it here, at start-up (a worker's
        # too), not in the first candidate's train_s and --eval-timeout (a fresh worker after every
        # timeout would otherwise time out the next candidate as well)
        OPTIMIZERS[self.optimizer]([{"params": [torch.zeros(1, requires_grad=True)]}], self.lr)

    # --- the estimator ---------------------------------------------------------------------
    def estimate(self, arch: str, model: nn.Module | None,
                 recipe: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Train ``model`` in place and evaluate it on the validation split.

        Args:
            arch: canonical architecture string (only used in messages).
            model: freshly built module whose output is ``(N, num_classes)``, or ``(N, 1)`` for
                regression.
            recipe: overrides of ``lr``, ``optimizer`` and ``weight_decay``.

        Returns:
            ``error_pct``, ``accuracy_pct``, ``train_s`` (training wall seconds), ``eval_s``
            (recalibration and evaluation seconds), ``epochs`` and ``train_loss`` (mean loss of
            the last epoch).

        Raises:
            FloatingPointError: the loss or the validation outputs became NaN or infinite.
            ConfigError: a bad recipe, or a model whose output does not fit the task.
        """
        if model is None:
            raise ValueError("proxy-trainer needs the built model; got None")
        lr, opt_name, weight_decay = self._settings(recipe)
        device = self.device
        x, y, x_val, y_val = self._tensors(device)
        fork = [device.index] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork):
            torch.default_generator.manual_seed(self.seed)  # dropout and re-initialisation
            if device.type == "cuda":
                with torch.cuda.device(device):
                    torch.cuda.manual_seed(self.seed)
            if self.reset_parameters:
                # drawn on the CPU generator seeded above: a model left on a GPU (successive-halving's
                # next rung) would draw from the GPU's and start from other weights
                model.to("cpu")
                for module in model.modules():
                    if callable(getattr(module, "reset_parameters", None)):
                        module.reset_parameters()
            model.to(device)
            if x.dim() == 4:
                model.to(memory_format=torch.channels_last)
            generator = torch.Generator().manual_seed(self.seed)

            start = time.perf_counter()
            train_loss = self._train(arch, model, x, y, lr, opt_name, weight_decay, generator)
            train_s = time.perf_counter() - start

            start = time.perf_counter()
            if self.bn_recalibration_batches:
                perm = torch.randperm(len(x), generator=generator).to(device)
                bs = min(self.batch_size, len(x))
                count = min(self.bn_recalibration_batches, max(1, len(x) // bs))
                with self._autocast():
                    recalibrate_batchnorm(model, (x[perm[i * bs:(i + 1) * bs]] for i in range(count)))
            error_pct = self._evaluate(arch, model, x_val, y_val)
            eval_s = time.perf_counter() - start
        return {"error_pct": error_pct, "accuracy_pct": 100.0 - error_pct, "train_s": train_s,
                "eval_s": eval_s, "epochs": float(self.epochs), "train_loss": train_loss}

    # --- internals -------------------------------------------------------------------------
    def _settings(self, recipe: Mapping[str, Any] | None) -> tuple[float, str, float]:
        recipe = dict(recipe or {})
        unknown = sorted(set(recipe) - set(RECIPE_KEYS))
        if unknown:
            raise ConfigError(f"proxy-trainer: training recipe key(s) {', '.join(map(repr, unknown))} from the "
                              f"search space are not understood; valid keys: {', '.join(RECIPE_KEYS)}")
        lr = _check_lr(recipe["lr"], "recipe lr") if "lr" in recipe else self.lr
        opt = _check_optimizer(recipe["optimizer"], "recipe optimizer") if "optimizer" in recipe else self.optimizer
        wd = (_check_weight_decay(recipe["weight_decay"], "recipe weight_decay")
              if "weight_decay" in recipe else self.weight_decay)
        return lr, opt, wd

    def _prepare_data(self) -> tuple[torch.Tensor, ...]:
        task = self.task
        idx = np.arange(len(task.y_train))
        if 0 < self.max_train_samples < len(idx):
            from sklearn.model_selection import train_test_split

            labels = None if task.is_regression else task.y_train
            try:
                idx, _ = train_test_split(idx, train_size=self.max_train_samples, random_state=self.seed % 2**32,
                                          stratify=labels)
            except ValueError:  # too few samples per class to stratify
                idx, _ = train_test_split(idx, train_size=self.max_train_samples, random_state=self.seed % 2**32)
            idx = np.sort(idx)
        y_dtype = torch.float32 if task.is_regression else torch.int64
        x = torch.tensor(task.x_train[idx])
        x_val = torch.tensor(task.x_val)
        if x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
            x_val = x_val.contiguous(memory_format=torch.channels_last)
        return x, torch.tensor(task.y_train[idx], dtype=y_dtype), x_val, torch.tensor(task.y_val, dtype=y_dtype)

    def _tensors(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        if device.type == "cpu":
            return self._cpu_data
        key = str(device)
        if key not in self._device_data:
            self._device_data[key] = tuple(t.to(device) for t in self._cpu_data)
        return self._device_data[key]

    def _amp_dtype(self) -> torch.dtype | None:
        if self.device.type != "cuda":
            return None
        # bfloat16 only where the GPU computes it natively (compute capability 8.0, Ampere, on):
        # is_bf16_supported() also says yes where it is emulated (T4, V100), and cuDNN has no bfloat16
        # convolutions there; float16 with a gradient scaler instead
        major, _ = torch.cuda.get_device_capability(self.device)
        return torch.bfloat16 if major >= 8 else torch.float16

    def _autocast(self):
        dtype = self._amp_dtype()
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=dtype)

    def _loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.task.is_regression:
            return F.mse_loss(out.reshape(-1).float(), target)
        return F.cross_entropy(out.float(), target, label_smoothing=self.label_smoothing)

    def _check_output(self, arch: str, out: torch.Tensor) -> None:
        dim = self.task.output_dim
        ok = out.dim() == 2 and out.shape[1] == dim
        if self.task.is_regression:
            ok = ok or out.dim() == 1
        if not ok:
            raise ConfigError(f"proxy-trainer: model {arch!r} outputs shape {tuple(out.shape)} but task "
                              f"{self.task.name!r} needs (N, {dim}); build the space with output_dim={dim}")

    def _train(self, arch: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float,
               opt_name: str, weight_decay: float, generator: torch.Generator) -> float:
        decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
        no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
        groups = [g for g in ({"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}) if g["params"]]
        if not groups:
            raise ConfigError(f"proxy-trainer: model {arch!r} has no trainable parameters; check the space")
        optimizer = OPTIMIZERS[opt_name](groups, lr)
        amp_dtype = self._amp_dtype()
        scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
        n = len(x)
        bs = min(self.batch_size, n)
        if bs < 2 and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            # batch norm normalises a one-sample batch by itself: nothing is learnt and the run scores
            # at or below chance (2 % on digits) while reporting success
            raise ConfigError(f"proxy-trainer: batch_size = {self.batch_size} cannot train model {arch!r}: it has "
                              f"batch norm, which a one-sample batch normalises away; set batch_size >= 2, e.g. 64")
        steps = n // bs
        total = self.epochs * steps
        warmup = max(1, round(_WARMUP_FRACTION * total))
        device = x.device
        pad = max(1, x.shape[-1] // 8) if self.augment else 0
        model.train()
        step = 0
        epoch_loss = float("nan")
        for epoch in range(self.epochs):
            perm = torch.randperm(n, generator=generator).to(device)
            losses = []
            for s in range(steps):
                idx = perm[s * bs:(s + 1) * bs]
                xb, yb = x[idx], y[idx]
                if pad:
                    xb = _random_shift(xb, pad, generator)
                factor = (step + 1) / warmup if step < warmup else \
                    0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
                for group in optimizer.param_groups:
                    group["lr"] = lr * factor
                with self._autocast():
                    out = model(xb)
                    if step == 0:
                        self._check_output(arch, out)
                    loss = self._loss(out, yb)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
                losses.append(loss.detach())
                step += 1
            stacked = torch.stack(losses).float()
            finite = torch.isfinite(stacked)
            if not bool(finite.all()):  # checked once per epoch: one sync, not one per step
                first = int((~finite).nonzero()[0, 0])
                raise FloatingPointError(f"loss became {float(stacked[first])} at epoch {epoch + 1} "
                                         f"step {first + 1} (lr={lr:g}, optimizer={opt_name})")
            epoch_loss = float(stacked.mean())
        return epoch_loss

    def _evaluate(self, arch: str, model: nn.Module, x_val: torch.Tensor, y_val: torch.Tensor) -> float:
        model.eval()
        outs = []
        with torch.no_grad(), self._autocast():
            for i in range(0, len(x_val), _EVAL_BATCH):
                outs.append(model(x_val[i:i + _EVAL_BATCH]).float())
        out = torch.cat(outs)
        self._check_output(arch, out)
        if not bool(torch.isfinite(out).all()):
            raise FloatingPointError("validation outputs became NaN or infinite")
        n = len(y_val)
        if self.task.is_regression:
            pred, target = out.reshape(-1).double(), y_val.double()
            ss_res = float(((pred - target) ** 2).sum())
            ss_tot = float(((target - target.mean()) ** 2).sum())
            if ss_tot == 0.0:
                raise FloatingPointError("validation targets are constant; R^2 is undefined")
            return 100.0 * ss_res / ss_tot
        wrong = int((out.argmax(dim=1) != y_val).sum())
        return 100.0 * wrong / n


def _random_shift(xb: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by a random offset in [-pad, pad] pixels, zero padded."""
    b, c, h, w = xb.shape
    device = xb.device
    padded = F.pad(xb, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(device)
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(device)
    rows = oy[:, None] + torch.arange(h, device=device)
    cols = ox[:, None] + torch.arange(w, device=device)
    out = padded[torch.arange(b, device=device)[:, None, None, None], torch.arange(c, device=device)[None, :, None, None],
                 rows[:, None, :, None], cols[:, None, None, :]]
    return out.contiguous(memory_format=torch.channels_last)


# --- option validation ----------------------------------------------------------------------
def _bad(name: str, value: Any, must: str) -> ConfigError:
    return ConfigError(f"proxy-trainer: {name} = {value!r} is invalid; it must be {must}")


def _int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise _bad(name, value, f"an integer in [{low}, {high}]")
    return int(value)


def _float(name: str, value: Any, low: float, high: float, must: str, *, low_open: bool = False,
           high_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise _bad(name, value, f"a number {must}")
    v = float(value)
    if not math.isfinite(v) or v < low or v > high or (low_open and v == low) or (high_open and v == high):
        raise _bad(name, value, f"a number {must}")
    return v


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad(name, value, "true or false")
    return value


def _check_lr(value: Any, name: str = "lr") -> float:
    return _float(name, value, 0.0, MAX_LR, f"in (0, {MAX_LR:g}], e.g. 3e-3", low_open=True)


def _check_weight_decay(value: Any, name: str = "weight_decay") -> float:
    return _float(name, value, 0.0, 1.0, "in [0, 1), e.g. 1e-4", high_open=True)


def _check_optimizer(value: Any, name: str = "optimizer") -> str:
    if value not in OPTIMIZERS:
        raise _bad(name, value, f"one of {', '.join(OPTIMIZERS)}")
    return value


def _resolve_device(value: Any) -> torch.device:
    if value == "auto":
        return _resolve_device("cuda" if torch.cuda.is_available() else "cpu")
    if value == "cpu":
        return torch.device("cpu")
    if isinstance(value, str) and (value == "cuda" or value.startswith("cuda:")):
        if not torch.cuda.is_available():
            raise ConfigError(f"proxy-trainer: device = {value!r} but CUDA is not available on this machine; "
                              "use device = 'auto' or 'cpu'")
        try:
            device = torch.device(value)
        except RuntimeError:
            raise _bad("device", value, "'auto', 'cpu', 'cuda' or 'cuda:N'") from None
        index = torch.cuda.current_device() if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise _bad("device", value, f"a CUDA device index below {torch.cuda.device_count()}")
        return torch.device("cuda", index)
    raise _bad("device", value, "'auto', 'cpu', 'cuda' or 'cuda:N'")
