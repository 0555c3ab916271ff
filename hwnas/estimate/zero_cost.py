"""Zero-cost proxies: score an untrained network from one data batch, no training.

Each proxy is a function ``(model, batch) -> float`` registered in :data:`PROXIES`; a higher
score predicts a more accurate network. They are implemented from the papers:

* ``synflow`` (Tanaka et al. 2020; as a NAS proxy: Abdelfattah et al. 2021): parameters
  replaced by their absolute values, an all-ones input, float64; the score is
  ``sum(theta * dR/dtheta)`` over conv/linear weights, ``R`` the summed output. Data-free.
  Batch norm runs in eval mode on freshly reset statistics (an affine identity), the
  equivalent of the paper's BN-free copy: batch statistics of one constant image would
  zero the signal.
* ``naswot`` (Mellor et al. 2021, "NAS without training"): ``log|K_H|`` where
  ``K_H[i, j]`` counts the activation units on which inputs ``i`` and ``j`` agree in being
  active (pre-activation > 0). Every rectifier-like activation is read (ReLU, hard-swish,
  GELU, ...): for those that are not ReLUs the sign of the pre-activation input is the code.
* ``jacov`` (Mellor et al. 2020, the first version of the same paper): the Jacobian
  covariance score ``-sum(log(v + k) + 1 / (v + k))`` over the eigenvalues ``v`` of the
  correlation matrix of per-input Jacobians ``d sum(out_i) / d x_i``, ``k = 1e-5``.
* ``snip`` (Lee et al. 2019; Abdelfattah et al. 2021): ``sum |theta * dL/dtheta|`` over
  conv/linear weights, ``L`` the task loss on the batch.
* ``grad-norm`` (Abdelfattah et al. 2021): sum of the per-layer L2 norms of ``dL/dW``.
* ``params``: the number of trainable parameters (the baseline every proxy must beat).

:func:`score_model` runs a proxy on a deep copy of the model whose parameters are first
re-initialised from ``seed`` inside :func:`torch.random.fork_rng` (the same procedure as the
``proxy-trainer``, so with equal seeds the proxy sees exactly the initialisation that training
starts from); the caller's model and the global RNG states are left untouched.

The ``zero-cost`` estimator makes a proxy the accuracy-side objective (``zc_score``, maximised);
``zero-cost-filtered`` trains only candidates whose proxy score is not in the bottom
``quantile`` of the scores seen so far, and records the others as failed with the reason.

Example:
    >>> from hwnas.data import load_task
    >>> task = load_task({"dataset": "digits"})
    >>> batch = proxy_batch(task, 32, seed=0)
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    >>> score_model("naswot", net, batch, seed=0) > 0
    True
"""

from __future__ import annotations

import copy
import inspect
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..exceptions import ConfigError, attach_metrics
from ..registry import Registry, construct, did_you_mean
from ..wording import counted
from .base import ESTIMATORS, AccuracyEstimator, CandidateRejected
from .trainer import ProxyTrainer


@dataclass(frozen=True)
class Batch:
    """The data a proxy sees: one mini-batch of training inputs and their targets.

    Attributes:
        inputs: float32 tensor ``(N, *input_shape)``.
        targets: int64 class ids ``(N,)``, or float32 regression targets ``(N,)``.
        num_classes: number of classes; 0 means regression (the loss is then MSE).
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    num_classes: int

    @property
    def is_regression(self) -> bool:
        """True for a regression batch."""
        return self.num_classes == 0


@dataclass(frozen=True)
class ZeroCostProxy:
    """A registered proxy.

    Attributes:
        name: registry name (``"naswot"``).
        fn: ``(model, batch) -> float``; gets a private, freshly initialised copy of the model.
        uses_data: False when the score ignores the batch (synflow, params).
        reference: the paper it implements.
    """

    name: str
    fn: Callable[[nn.Module, Batch], float]
    uses_data: bool
    reference: str


#: Proxy name -> :class:`ZeroCostProxy`; higher scores predict better accuracy for every proxy.
PROXIES: Registry[ZeroCostProxy] = Registry("zero-cost proxy")

#: Activations whose input sign NASWOT reads as a binary code (gates such as sigmoids are not
#: linear-region boundaries and are skipped).
ACTIVATIONS: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU,
                                            nn.CELU, nn.SELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish,
                                            nn.Softplus, nn.Tanh, nn.Hardtanh)

_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
_JACOV_K = 1e-5


def _register(name: str, *, uses_data: bool, reference: str):
    def deco(fn: Callable[[nn.Module, Batch], float]) -> Callable[[nn.Module, Batch], float]:
        PROXIES.add(name, ZeroCostProxy(name, fn, uses_data, reference))
        return fn
    return deco


# --- helpers --------------------------------------------------------------------------------
def _weights(model: nn.Module) -> list[torch.Tensor]:
    """Weights of the conv and linear layers: what the papers score."""
    return [m.weight for m in model.modules() if isinstance(m, _WEIGHTED) and m.weight.requires_grad]


def _train_mode_without_dropout(model: nn.Module) -> None:
    # Batch norm on batch statistics (as at the start of training); dropout off, so the
    # score does not depend on a dropout mask.
    model.train()
    for m in model.modules():
        if isinstance(m, (nn.modules.dropout._DropoutNd, nn.AlphaDropout)):
            m.eval()


def _loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    out = model(batch.inputs)
    if batch.is_regression:
        if out.numel() != len(batch.targets):
            raise ConfigError(f"zero-cost: the model outputs shape {tuple(out.shape)} for a regression "
                              f"batch of {len(batch.targets)}; build the space with output_dim=1")
        return F.mse_loss(out.reshape(-1), batch.targets)
    if out.dim() != 2 or out.shape[1] != batch.num_classes:
        raise ConfigError(f"zero-cost: the model outputs shape {tuple(out.shape)} but the task has "
                          f"{batch.num_classes} classes; build the space with output_dim={batch.num_classes}")
    return F.cross_entropy(out, batch.targets)


def _finite(name: str, value: float) -> float:
    if not math.isfinite(value):
        raise FloatingPointError(f"{name} score is {value}")
    return float(value)


# --- the proxies ----------------------------------------------------------------------------
@_register("synflow", uses_data=False, reference="Tanaka et al. 2020, arXiv:2006.05467")
def synflow(model: nn.Module, batch: Batch) -> float:
    """Synaptic flow of the all-ones input through the absolute-valued network (float64)."""
    model.double()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
    model.eval()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    x = torch.ones((1, *batch.inputs.shape[1:]), dtype=torch.float64)
    model.zero_grad(set_to_none=True)
    torch.sum(model(x)).backward()
    total = sum(float((w.detach() * w.grad).sum()) for w in _weights(model) if w.grad is not None)
    return _finite("synflow", total)


@_register("naswot", uses_data=True, reference="Mellor et al. 2021, arXiv:2006.04647 (v3)")
def naswot(model: nn.Module, batch: Batch) -> float:
    """``log|K_H|`` of the kernel of binary activation codes over the batch."""
    n = len(batch.inputs)
    kernel = torch.zeros((n, n), dtype=torch.float64)
    seen = [0, 0]  # activation layers, their units

    def hook(module: nn.Module, args: tuple) -> None:
        codes = (args[0].detach().reshape(n, -1) > 0).float()
        kernel.add_((codes @ codes.T + (1.0 - codes) @ (1.0 - codes).T).double())
        seen[0] += 1
        seen[1] += codes.shape[1]

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, ACTIVATIONS)]
    if not handles:
        raise ConfigError(f"naswot: the model has no activation layers ({', '.join(a.__name__ for a in ACTIVATIONS[:4])}, "
                          f"...) to read binary codes from; use proxy = 'synflow' or 'snip' for it")
    try:
        _train_mode_without_dropout(model)
        with torch.no_grad():
            model(batch.inputs)
    finally:
        for h in handles:
            h.remove()
    rank = seen[1] + seen[0]  # a layer of u units adds a kernel of rank <= u + 1
    # too narrow for the batch, whatever its weights: singular, though rounding often leaves slogdet a
    # positive sign and a "score" of rounding noise (-940 for 32 units over 64 inputs)
    if rank < n:
        raise FloatingPointError(f"naswot kernel is singular: {seen[1]} activation units in {seen[0]} layer(s) "
                                 f"give it rank at most {rank}, below the batch of {n} inputs; score it on "
                                 f"fewer than {rank} inputs (e.g. {max(2, rank // 2)}: zero-cost's batch_size, "
                                 f"zero-cost-filtered's proxy_batch_size), or use another proxy")
    sign, logdet = torch.linalg.slogdet(kernel)
    if float(sign) <= 0 or not math.isfinite(float(logdet)):
        raise FloatingPointError(f"naswot kernel is singular over {seen[0]} activation layers: inputs of the "
                                 f"batch share activation codes (a collapsed network)")
    return float(logdet)


@_register("jacov", uses_data=True, reference="Mellor et al. 2020, arXiv:2006.04647 (v1)")
def jacov(model: nn.Module, batch: Batch) -> float:
    """Jacobian covariance: how decorrelated the input Jacobians of the batch are."""
    _train_mode_without_dropout(model)
    x = batch.inputs.clone().requires_grad_(True)
    out = model(x)
    out.backward(torch.ones_like(out))
    jac = x.grad.reshape(len(x), -1).double()
    jac = jac - jac.mean(dim=1, keepdim=True)
    norms = jac.norm(dim=1, keepdim=True)
    if bool((norms == 0).any()):
        raise FloatingPointError("jacov: an input of the batch has a constant Jacobian (the output ignores it)")
    unit = jac / norms
    eig = torch.linalg.eigvalsh(unit @ unit.T)
    return _finite("jacov", -float(torch.sum(torch.log(eig + _JACOV_K) + 1.0 / (eig + _JACOV_K))))


@_register("snip", uses_data=True, reference="Lee et al. 2019, arXiv:1810.02340; Abdelfattah et al. 2021")
def snip(model: nn.Module, batch: Batch) -> float:
    """Connection sensitivity ``sum |theta * dL/dtheta|``."""
    _train_mode_without_dropout(model)
    model.zero_grad(set_to_none=True)
    _loss(model, batch).backward()
    return _finite("snip", sum(float((w.detach() * w.grad).abs().sum()) for w in _weights(model) if w.grad is not None))


@_register("grad-norm", uses_data=True, reference="Abdelfattah et al. 2021, arXiv:2101.08134")
def grad_norm(model: nn.Module, batch: Batch) -> float:
    """Sum of the per-layer gradient norms ``||dL/dW||_2``."""
    _train_mode_without_dropout(model)
    model.zero_grad(set_to_none=True)
    _loss(model, batch).backward()
    return _finite("grad-norm", sum(float(w.grad.norm()) for w in _weights(model) if w.grad is not None))


@_register("params", uses_data=False, reference="baseline: trainable parameter count")
def params(model: nn.Module, batch: Batch) -> float:
    """Number of trainable parameters."""
    return float(sum(p.numel() for p in model.parameters() if p.requires_grad))


# --- running proxies ------------------------------------------------------------------------
#: Inputs in a proxy's batch unless an option says otherwise (fewer when the training split is smaller).
PROXY_BATCH = 64


def proxy_batch(task: Any, batch_size: int | None = None, *, seed: int = 0,
                option: str = "zero-cost: batch_size") -> Batch:
    """A seeded mini-batch of ``task``'s training split (the same for every architecture).

    Args:
        task: a :class:`hwnas.data.Task`.
        batch_size: inputs in the batch (NASWOT's kernel is ``batch_size`` squared); at least 2.
            None: :data:`PROXY_BATCH`, or the whole training split when it is smaller.
        seed: which samples are drawn.
        option: the config option ``batch_size`` came from, named in the error.

    Raises:
        ConfigError: ``batch_size`` below 2 or above the training split.
    """
    n = len(task.y_train)
    if batch_size is None:
        batch_size = max(2, min(PROXY_BATCH, n))
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or not 2 <= batch_size <= n:
        raise ConfigError(f"{option} = {batch_size!r} is invalid; it must be an integer in [2, {n}] "
                          f"(the training split of {task.name!r} has {n} samples), e.g. {max(2, min(PROXY_BATCH, n))}")
    idx = np.sort(np.random.default_rng(seed).choice(n, size=int(batch_size), replace=False))
    dtype = torch.float32 if task.num_classes == 0 else torch.int64
    return Batch(torch.tensor(task.x_train[idx]), torch.tensor(task.y_train[idx], dtype=dtype), task.num_classes)


def reinitialise(model: nn.Module, seed: int) -> None:
    """Re-initialise every module with ``reset_parameters`` from ``seed`` (the global RNG is
    restored afterwards); the ``proxy-trainer`` does the same before training."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        for module in model.modules():
            if callable(getattr(module, "reset_parameters", None)):
                module.reset_parameters()


def score_model(proxy: str, model: nn.Module, batch: Batch, *, seed: int = 0) -> float:
    """Score ``model`` with the proxy named ``proxy`` (higher is better).

    The proxy runs on a deep copy re-initialised from ``seed`` on the CPU, so the same
    architecture always gets the same score and ``model`` is left as it was.

    Args:
        proxy: a name in :data:`PROXIES`.
        model: an (untrained) network whose output fits the batch's task.
        batch: from :func:`proxy_batch`.
        seed: initialisation seed.

    Raises:
        RegistryError: unknown proxy name.
        FloatingPointError: the score is undefined for this network (e.g. a singular NASWOT
            kernel); estimators record the candidate as failed.
        ConfigError: the model does not fit the task, or the proxy cannot read it.

    Example:
        >>> score_model("params", nn.Linear(4, 2), None)
        10.0
    """
    entry = PROXIES.get(proxy)
    net = copy.deepcopy(model).to("cpu", torch.float32)
    reinitialise(net, seed)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        return entry.fn(net, batch)


# --- estimators -----------------------------------------------------------------------------
def _check_seed(owner: str, seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ConfigError(f"{owner}: seed = {seed!r} is invalid; it must be an integer >= 0")
    return int(seed)


def _check_proxy(proxy: Any) -> str:
    PROXIES.get(proxy)  # an unknown name raises with close matches and the valid names
    return proxy


@ESTIMATORS.register("zero-cost")
class ZeroCostEstimator(AccuracyEstimator):
    """A zero-cost proxy as the accuracy-side objective ``zc_score`` (maximised), no training.

    Args:
        task: the data the batch is drawn from.
        proxy: a name in :data:`PROXIES` (``naswot``, ``synflow``, ``jacov``, ``snip``,
            ``grad-norm``, ``params``).
        batch_size: inputs in the proxy's batch (default 64, or the training split when smaller).
        seed: initialisation and batch seed.

    Raises:
        ConfigError: a bad option (unknown proxy names raise RegistryError).

    Example (config)::

        [estimator]
        name = "zero-cost"
        proxy = "naswot"
        [search]
        objectives = ["zc_score", "latency_ms"]
    """

    name = "zero-cost"
    metrics = ("zc_score",)

    def __init__(self, task: Any, *, proxy: str = "naswot", batch_size: int | None = None, seed: int = 0) -> None:
        self.proxy = _check_proxy(proxy)
        self.seed = _check_seed(self.name, seed)
        self.batch = proxy_batch(task, batch_size, seed=self.seed)
        self.task = task

    def advice(self, evaluations: int) -> str | None:
        return _regression_note(self.name, self.proxy, self.task)

    def estimate(self, arch: str, model: nn.Module | None,
                 recipe: Mapping[str, Any] | None = None) -> dict[str, float]:
        """``zc_score`` (the proxy's score) and ``zc_s`` (seconds it took).

        Raises:
            FloatingPointError: the score is undefined for this network.
        """
        if model is None:
            raise ValueError("zero-cost needs the built model; got None")
        start = time.perf_counter()
        score = score_model(self.proxy, model, self.batch, seed=self.seed)
        return {"zc_score": score, "zc_s": time.perf_counter() - start}


def _regression_note(estimator: str, proxy: str, task: Any) -> str | None:
    """A note when a proxy ranks a regression task's networks: the proxies were derived and checked
    on classification, and nothing here shows they rank regressors."""
    if not getattr(task, "is_regression", False):
        return None
    return (f"{estimator}: proxy {proxy!r} was made for classification; how well it ranks networks on the "
            f"regression task {task.name!r} is unchecked: measure it before trusting it (hwnas fidelity, on "
            f"this task with [estimator] name = \"proxy-trainer\")")


class PreFilterRejection(CandidateRejected):
    """A candidate skipped by the pre-filter; the evaluator records it as failed with this reason
    and its ``zc_score``."""


@ESTIMATORS.register("zero-cost-filtered")
class PreFilteredTrainer(AccuracyEstimator):
    """``proxy-trainer`` behind a zero-cost pre-filter.

    Each candidate is scored with ``proxy`` first. After ``warmup`` scores, a candidate whose
    score is below the running ``quantile`` of all scores seen so far is not trained: it is
    recorded as failed (hence infeasible) with the reason ``pre-filter: naswot score X below
    the running 0.25-quantile Y of N scores``. Otherwise it is trained like ``proxy-trainer``
    and also gets ``zc_score`` and ``zc_s``. Every other option is a ``proxy-trainer`` option.

    The running scores are every score so far, rejected candidates' included: a resumed search
    (or a worker started later) reads them back from the stored rows (:meth:`observe`).

    Args:
        task: the data.
        proxy: proxy name.
        quantile: the bottom fraction (in (0, 1)) of seen scores that is not trained.
        warmup: candidates always trained first, so the quantile has a sample.
        proxy_batch_size: inputs in the proxy's batch (default 64, or the training split when smaller).
        seed: seed of the proxy and of the trainer.
        **trainer_options: ``proxy-trainer`` options (``epochs``, ``lr``, ...).

    Raises:
        ConfigError: a bad option, naming the valid ones.
    """

    name = "zero-cost-filtered"
    trains = True
    metrics = ("error_pct", "accuracy_pct", "zc_score")

    def __init__(self, task: Any, *, proxy: str = "naswot", quantile: float = 0.25, warmup: int = 8,
                 proxy_batch_size: int | None = None, seed: int = 0, **trainer_options: Any) -> None:
        own = [n for n in inspect.signature(PreFilteredTrainer.__init__).parameters
               if n not in ("self", "task", "trainer_options")]
        trainer_valid = [n for n in inspect.signature(ProxyTrainer.__init__).parameters
                         if n not in ("self", "task", "seed")]
        unknown = sorted(set(trainer_options) - set(trainer_valid))
        if unknown:
            raise ConfigError(f"{self.name!r} has no option(s) {', '.join(map(repr, unknown))}; valid options: "
                              f"{', '.join(own + trainer_valid)}{did_you_mean(unknown, own + trainer_valid)}")
        if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0.0 < quantile < 1.0:
            raise ConfigError(f"{self.name}: quantile = {quantile!r} is invalid; it must be a number in (0, 1), "
                              f"the bottom fraction of scores not trained, e.g. 0.25")
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
            raise ConfigError(f"{self.name}: warmup = {warmup!r} is invalid; it must be an integer >= 1, e.g. 8")
        self.proxy = _check_proxy(proxy)
        self.quantile = float(quantile)
        self.warmup = warmup
        self.seed = _check_seed(self.name, seed)
        self.batch = proxy_batch(task, proxy_batch_size, seed=self.seed,
                                 option=f"{self.name}: proxy_batch_size")
        self.trainer = construct(ProxyTrainer, task, options=trainer_options, fixed={"seed": self.seed},
                                 where=self.name, label="proxy-trainer")
        self.scores: list[float] = []
        self.task = task

    def threshold(self) -> float | None:
        """The current cut-off score, or None during the warm-up."""
        if len(self.scores) < self.warmup:
            return None
        return float(np.quantile(self.scores, self.quantile))

    def estimate(self, arch: str, model: nn.Module | None,
                 recipe: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Score, then train unless the score is in the bottom ``quantile``.

        Raises:
            PreFilterRejection: the candidate was filtered out (recorded as failed).
            FloatingPointError: the score is undefined, or training diverged.
        """
        if model is None:
            raise ValueError("zero-cost-filtered needs the built model; got None")
        start = time.perf_counter()
        score = score_model(self.proxy, model, self.batch, seed=self.seed)
        zc_s = time.perf_counter() - start
        cut = self.threshold()
        self.scores.append(score)
        if cut is not None and score < cut:
            raise PreFilterRejection(f"pre-filter: {self.proxy} score {score:.6g} below the running "
                                     f"{self.quantile:g}-quantile {cut:.6g} of {len(self.scores) - 1} scores",
                                     {"zc_score": score, "zc_s": zc_s})
        try:
            metrics = self.trainer.estimate(arch, model, recipe)
        except Exception as exc:  # the failed row keeps the score, so a resume counts it as this run did
            raise attach_metrics(exc, {"zc_score": score, "zc_s": zc_s})
        return {**metrics, "zc_score": score, "zc_s": zc_s}

    def advice(self, evaluations: int) -> str | None:
        if self.warmup >= evaluations:
            return (f"{self.name}: warmup = {self.warmup} covers all {counted(evaluations, 'evaluation')}, so every "
                    f"candidate is trained and none filtered; set warmup below the evaluations to filter")
        return _regression_note(self.name, self.proxy, self.task)

    def observe(self, metrics: Mapping[str, float]) -> None:
        """A stored evaluation's score joins the running scores (a resumed search decides as the
        uninterrupted one did)."""
        if "zc_score" in metrics:
            self.scores.append(float(metrics["zc_score"]))
