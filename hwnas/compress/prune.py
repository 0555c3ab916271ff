"""``prune``: structured pruning that physically removes channels, then fine-tuning.

Channels are ranked by the L1 (or L2) norm of their filters, aggregated over every layer that
must lose the same channels (torch-pruning's dependency groups: a residual's two branches,
a depthwise conv and its batch norm, a squeeze-excite gate). The lowest-ranked fraction
``ratio`` of each group is cut out of the weight tensors, so the exported ONNX graph is
smaller; zeroing weights (masking) would leave latency unchanged and is never done here.
The classifier's outputs are kept. The pruned network is then fine-tuned with the run's proxy
trainer (its own weights kept, not re-initialised), which also recalibrates batch norm.

Why ``round_to = 16`` by default: ONNX Runtime's CPU convolutions use a channel-blocked
layout (NCHWc) with blocks of 8 floats (AVX2) or 16 (AVX-512). On the development machine
(AVX-512) pruning 25 % of the channels of a digits model without rounding left counts such as
36 and made it 1.1-2.6x *slower* than its parent despite 35-40 % fewer MACs; rounding the
kept channels up to multiples of 16 made the same models 0.71-0.76x as fast.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from ..exceptions import ConfigError
from .base import COMPRESSORS, CompressContext, Compressor, Subject, VariantFailure

IMPORTANCES = {"l1": 1, "l2": 2}


@COMPRESSORS.register("prune")
class PruneCompressor(Compressor):
    """Remove the least important ``ratio`` of channels from every prunable layer group.

    Args:
        ratio: fraction of channels removed from each group, in (0, 1).
        importance: ``"l1"`` or ``"l2"``: norm of a channel's filters (summed over the group).
        round_to: kept channels are rounded up to a multiple of this (1 = no rounding); layers
            narrower than it are left whole.
        finetune_epochs: proxy-trainer epochs after pruning (0: only recalibrate batch norm).
        finetune_lr: peak learning rate of the fine-tuning (None: the run's trainer lr).

    Raises:
        ConfigError: a value out of range, naming it and the valid range.

    Example:
        >>> pruned = PruneCompressor(0.5, finetune_epochs=3).apply(Subject(model), context)
    """

    name = "prune"

    def __init__(self, ratio: float, *, importance: str = "l1", round_to: int = 16,
                 finetune_epochs: int = 3, finetune_lr: float | None = None) -> None:
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0.0 < ratio < 1.0:
            raise ConfigError(f"prune ratio (--prune) {ratio!r} must be a fraction of channels in (0, 1), e.g. 0.25 or 0.5")
        if importance not in IMPORTANCES:
            raise ConfigError(f"prune importance {importance!r} is unknown; use one of: {', '.join(IMPORTANCES)}")
        if isinstance(round_to, bool) or not isinstance(round_to, int) or round_to < 1:
            raise ConfigError(f"prune round_to {round_to!r} must be an integer >= 1 (1 = no rounding), e.g. 16")
        if isinstance(finetune_epochs, bool) or not isinstance(finetune_epochs, int) or not 0 <= finetune_epochs <= 1000:
            raise ConfigError(f"finetune epochs {finetune_epochs!r} must be an integer in [0, 1000]")
        if finetune_lr is not None and (isinstance(finetune_lr, bool) or not isinstance(finetune_lr, (int, float))
                                        or not 0.0 < finetune_lr <= 10.0):
            raise ConfigError(f"finetune lr {finetune_lr!r} must be a number in (0, 10], e.g. 1e-3")
        self.ratio = float(ratio)
        self.importance = importance
        self.round_to = int(round_to)
        self.finetune_epochs = int(finetune_epochs)
        self.finetune_lr = None if finetune_lr is None else float(finetune_lr)

    def settings(self) -> dict[str, Any]:
        out = {"ratio": self.ratio, "importance": self.importance, "round_to": self.round_to,
               "finetune_epochs": self.finetune_epochs}
        if self.finetune_lr is not None:
            out["finetune_lr"] = self.finetune_lr
        return out

    @property
    def label(self) -> str:
        return f"prune{self.ratio:g}"

    def apply(self, subject: Subject, context: CompressContext) -> Subject:
        """Prune a copy of ``subject.module``, fine-tune it, and return it (ONNX dropped).

        Raises:
            ConfigError: ``subject`` was already quantized (prune before quantizing).
            VariantFailure: no channel would be removed (every group kept whole by ``round_to``).
        """
        if subject.quantized:
            raise ConfigError("prune must come before quantize: a quantized graph cannot be pruned")
        module = copy.deepcopy(subject.module).cpu().eval()
        before = sum(p.numel() for p in module.parameters())
        prune_channels(module, context.input_shape, self.ratio, importance=self.importance,
                       round_to=self.round_to)
        if sum(p.numel() for p in module.parameters()) == before:  # it would only time noise as a speed-up
            raise VariantFailure(f"nothing pruned: removing {self.ratio:g} of each group's channels and rounding "
                                 f"up to a multiple of round_to={self.round_to} keeps every group whole; lower "
                                 f"--round-to or raise --prune")
        finetune(module, context, epochs=self.finetune_epochs, lr=self.finetune_lr)
        return Subject(module=module.cpu().eval(), weight_bits=subject.weight_bits,
                       activation_bits=subject.activation_bits)


def output_layer(module: nn.Module) -> nn.Module:
    """The last linear or convolution layer in registration order: the classifier, kept whole.

    Raises:
        ValueError: the module has no such layer.
    """
    layers = [m for m in module.modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))]
    if not layers:
        raise ValueError(f"{type(module).__name__} has no linear or convolution layer to prune")
    return layers[-1]


def kept_channels(channels: int, ratio: float, round_to: int = 1) -> int:
    """Channels a group of ``channels`` keeps: ``(1 - ratio)`` of them, at least one, rounded up to
    a multiple of ``round_to`` (never more than it has; a group of at most ``round_to`` is kept
    whole), so a higher ratio never keeps more.

    Example:
        >>> [kept_channels(24, r, 16) for r in (0.25, 0.5, 0.75)], kept_channels(48, 0.5, 16)
        ([24, 16, 16], 32)
    """
    kept = max(1, math.ceil(round(channels * (1.0 - ratio), 9)))
    return min(channels, math.ceil(kept / round_to) * round_to)


def prune_channels(module: nn.Module, input_shape: tuple[int, ...], ratio: float, *,
                   importance: str = "l1", round_to: int = 1) -> nn.Module:
    """Remove channels from ``module`` in place (torch-pruning's dependency-aware surgery).

    Each group of coupled layers keeps :func:`kept_channels` of its channels: those whose filters
    have the largest norm, summed over the group.

    Args:
        module: a float module in eval mode on the CPU.
        input_shape: one sample's shape, to trace the dependency graph.
        ratio: fraction of each group's channels to remove, in (0, 1).
        importance: ``"l1"`` or ``"l2"`` norm of the filters.
        round_to: kept channels rounded up to a multiple of this.

    Returns:
        ``module`` (changed in place).

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 36, 10))
        >>> prune_channels(net, (1, 8, 8), 0.5)[0].out_channels
        16
    """
    import torch_pruning as tp  # a core dependency, imported here to keep `import hwnas` light

    graph = tp.DependencyGraph().build_dependency(module, example_inputs=torch.zeros((1, *input_shape)))
    scorer = tp.importance.MagnitudeImportance(p=IMPORTANCES[importance])
    groups = list(graph.get_all_groups(ignored_layers=[output_layer(module)],
                                       root_module_types=[nn.modules.conv._ConvNd, nn.Linear]))
    for group in groups:
        scores = scorer(group)
        if scores is None:  # nothing in the group torch-pruning can rank
            continue
        keep = kept_channels(len(scores), ratio, round_to)
        if keep >= len(scores):
            continue
        dep = group[0].dep
        cut = graph.get_pruning_group(dep.target.module, dep.handler,
                                      torch.argsort(scores)[: len(scores) - keep].tolist())
        if graph.check_pruning_group(cut):
            cut.prune()
    return module


def finetune(module: nn.Module, context: CompressContext, *, epochs: int, lr: float | None) -> None:
    """Fine-tune ``module`` in place with the run's proxy trainer; 0 epochs: recalibrate batch norm.

    The trainer keeps the module's weights (``reset_parameters = False``), uses the run's batch
    size, optimizer and seed, and recalibrates batch norm before it stops.
    """
    from ..estimate.trainer import ProxyTrainer, recalibrate_batchnorm

    options = {k: v for k, v in context.trainer_options.items() if k != "name"}
    if epochs == 0:
        trainer = ProxyTrainer(context.task, **{**options, "device": "cpu"})
        x = torch.tensor(context.task.x_train)
        bs = min(trainer.batch_size, len(x))
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(trainer.seed))
        count = max(1, min(trainer.bn_recalibration_batches or 1, len(x) // bs))
        recalibrate_batchnorm(module, (x[order[i * bs:(i + 1) * bs]] for i in range(count)))
        return
    options.update(epochs=epochs, reset_parameters=False)
    recipe = dict(context.recipe)
    if lr is not None:
        options["lr"] = lr
        recipe.pop("lr", None)
    ProxyTrainer(context.task, **options).estimate("pruned", module, recipe)
    module.cpu()
