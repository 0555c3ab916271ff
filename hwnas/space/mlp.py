"""The joint MLP space of the seed articles: architecture and training hyper-parameters.

Genome: ``[n_layers, width_1..width_5, activation, lr, optimizer, dropout]``; widths beyond
``n_layers`` are inactive. Canonical string (shell-safe)::

    h256-128-64_relu_adam_lr0.001_do0.1

For tabular classification or regression; image inputs are flattened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from torch import nn

from ..exceptions import ConfigError, SpaceError
from .base import SPACES, Gene, option_choices, SearchSpace, choice_index, refuse_oversized

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh}


@dataclass(frozen=True)
class MLPArch:
    """Hidden widths, activation, and the training choices searched jointly."""

    widths: tuple[int, ...]
    activation: str
    lr: float
    optimizer: str
    dropout: float


@SPACES.register("mlp")
class MLPSpace(SearchSpace[MLPArch]):
    """Multi-layer perceptrons with 1-5 hidden layers.

    Args:
        input_shape: one sample's shape; flattened.
        output_dim: number of classes, or 1 for regression.
        max_layers: most hidden layers.
        widths: hidden widths to choose from.
        activations: names from ``relu``, ``leaky_relu``, ``tanh``.
        lrs: learning rates.
        optimizers: optimizer names understood by the proxy trainer.
        dropouts: dropout probabilities.

    Example:
        >>> space = MLPSpace((10,), 1)
        >>> space.canonical(space.smallest())
        'h32_relu_adam_lr0.0001_do0'
    """

    name = "mlp"

    def __init__(self, input_shape: Sequence[int], output_dim: int, *,
                 max_layers: int = 5,
                 widths: Sequence[int] = (32, 64, 128, 256, 512),
                 activations: Sequence[str] = ("relu", "leaky_relu", "tanh"),
                 lrs: Sequence[float] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2),
                 optimizers: Sequence[str] = ("adam", "sgd", "rmsprop"),
                 dropouts: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.5)) -> None:
        super().__init__(input_shape, output_dim)
        widths = option_choices("mlp", "widths", widths, int, minimum=1, maximum=65536)
        activations = option_choices("mlp", "activations", activations, str, allowed=sorted(_ACTIVATIONS))
        # the trainer's limits, checked here so a bad choice is refused before the search starts
        from ..estimate.trainer import MAX_LR, OPTIMIZERS

        lrs = option_choices("mlp", "lrs", lrs, float, minimum=1e-12, maximum=MAX_LR)
        optimizers = option_choices("mlp", "optimizers", optimizers, str, allowed=sorted(OPTIMIZERS))
        dropouts = option_choices("mlp", "dropouts", dropouts, float, minimum=0.0, maximum=0.95)
        if isinstance(max_layers, bool) or not isinstance(max_layers, int) or not 1 <= max_layers <= 16:
            raise ConfigError(f"mlp: [space] max_layers = {max_layers!r} must be in 1..16")
        self.max_layers = int(max_layers)
        self.genes = [Gene("n_layers", tuple(range(1, self.max_layers + 1)))]
        self.genes += [Gene(f"width{i + 1}", tuple(int(w) for w in widths)) for i in range(self.max_layers)]
        self.genes += [Gene("activation", tuple(activations)), Gene("lr", tuple(float(x) for x in lrs)),
                       Gene("optimizer", tuple(optimizers)), Gene("dropout", tuple(float(d) for d in dropouts))]
        refuse_oversized(self, {"max_layers": max_layers, "widths": widths})

    def active_genes(self, genomes: np.ndarray) -> np.ndarray:
        """Every gene but the widths beyond ``n_layers``."""
        genomes = np.asarray(genomes, dtype=np.int64).reshape(-1, self.n_genes)
        active = np.ones(genomes.shape, dtype=bool)
        n_layers = np.asarray(self.genes[0].choices)[genomes[:, 0]]
        for i in range(self.max_layers):
            active[:, 1 + i] = i < n_layers
        return active

    def decode(self, genome: Sequence[int]) -> MLPArch:
        g = self.validate(genome)
        n = self.genes[0].choices[g[0]]
        widths = tuple(self.genes[1 + i].choices[g[1 + i]] for i in range(n))
        tail = [self.genes[i].choices[g[i]] for i in range(1 + self.max_layers, self.n_genes)]
        return MLPArch(widths, *tail)

    def encode(self, arch: MLPArch) -> np.ndarray:
        g = np.zeros(self.n_genes, dtype=np.int64)
        g[0] = choice_index(self.genes[0], len(arch.widths), where="mlp layers")
        for i, w in enumerate(arch.widths):
            g[1 + i] = choice_index(self.genes[1 + i], w, where=f"mlp layer {i + 1}")
        k = 1 + self.max_layers
        for j, value in enumerate((arch.activation, arch.lr, arch.optimizer, arch.dropout)):
            g[k + j] = choice_index(self.genes[k + j], value, where="mlp")
        return g

    def canonical(self, arch: MLPArch) -> str:
        widths = "-".join(str(w) for w in arch.widths)
        return f"h{widths}_{arch.activation}_{arch.optimizer}_lr{arch.lr:g}_do{arch.dropout:g}"

    _PATTERN = re.compile(r"^h([\d-]+)_([a-z_]+?)_([a-z]+)_lr([\d.e+-]+)_do([\d.e+-]+)$")

    def parse(self, text: str) -> MLPArch:
        m = self._PATTERN.match(str(text).strip())
        if not m:
            raise SpaceError(f"mlp: cannot parse architecture {text!r}; expected e.g. 'h256-64_relu_adam_lr0.001_do0.1'")
        try:
            arch = MLPArch(tuple(int(w) for w in m.group(1).split("-")), m.group(2), float(m.group(4)),
                           m.group(3), float(m.group(5)))
        except ValueError:
            raise SpaceError(f"mlp: cannot parse numbers in {text!r}") from None
        # validates every value, and gives the choices themselves (a value merely close to one
        # would print as it but train or build otherwise)
        return self.decode(self.encode(arch))

    def build(self, arch: MLPArch) -> nn.Module:
        arch = self.decode(self.encode(arch))  # the choices themselves, not values close to them
        layers: list[nn.Module] = [nn.Flatten()]
        c = int(np.prod(self.input_shape))
        for w in arch.widths:
            layers += [nn.Linear(c, w), _ACTIVATIONS[arch.activation]()]
            if arch.dropout > 0:
                layers.append(nn.Dropout(arch.dropout))
            c = w
        layers.append(nn.Linear(c, self.output_dim))
        return nn.Sequential(*layers)

    training_genes = ("lr", "optimizer", "dropout")

    def train_recipe(self, arch: MLPArch) -> Mapping[str, Any]:
        return {"lr": arch.lr, "optimizer": arch.optimizer}
