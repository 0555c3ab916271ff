"""The search-space interface: integer genomes <-> architectures <-> torch modules.

A space is built for one task shape (input shape, output size). Every gene is categorical:
gene ``i`` takes an integer in ``[0, len(genes[i].choices))``. Genes that an architecture does
not use (e.g. blocks beyond a stage's depth) are inactive; :meth:`SearchSpace.canonical`
ignores them, so two genomes that build the same network share one canonical string, and
:meth:`SearchSpace.encode` sets inactive genes to 0.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Generic, Mapping, Sequence, TypeVar

import numpy as np
import torch

from ..exceptions import ConfigError, SpaceError
from ..registry import Registry, construct, option_defaults

A = TypeVar("A")


def shape_text(input_shape: Sequence[int]) -> str:
    """``(1, 12, 12)`` -> ``"1x12x12"``: an input shape as layer keys and latency table file names write it."""
    return "x".join(str(int(d)) for d in input_shape)


@dataclass(frozen=True)
class LayerSignature:
    """Everything that decides the run time of one layer or block, as latency tables key it.

    Two layers with equal signatures build identical standalone modules (up to weights), so a
    table measured per signature covers every network of the space.

    Args:
        op: layer kind, e.g. ``"stem"``, ``"ir"`` (inverted residual), ``"head"``.
        fields: ``(name, value)`` pairs in a fixed order, e.g. ``(("cin", 16), ("k", 3))``.
        input_shape: shape of one input sample of the layer, ``(C, H, W)``.
        group: calibration group (default: ``op``), e.g. ``"ir-se"`` for blocks with
            squeeze-excite, whose standalone/in-network ratio differs from plain blocks.
    """

    op: str
    fields: tuple[tuple[str, Any], ...]
    input_shape: tuple[int, ...]
    group: str = ""

    @property
    def kind(self) -> str:
        """The calibration group: ``group`` if set, else ``op``."""
        return self.group or self.op

    @property
    def key(self) -> str:
        """Canonical table key, e.g. ``"ir:cin=16,cout=24,k=3,e=4,s=2,se=0,act=relu,in=16x12x12"``."""
        parts = [f"{name}={value}" for name, value in self.fields]
        parts.append("in=" + shape_text(self.input_shape))
        return f"{self.op}:" + ",".join(parts)


@dataclass(frozen=True)
class Gene:
    """One categorical decision of a genome.

    Args:
        name: readable name, e.g. ``"s2.b0.kernel"``.
        choices: the values the gene selects between, in a stable order.
    """

    name: str
    choices: tuple[Any, ...]

    @property
    def size(self) -> int:
        """Number of choices."""
        return len(self.choices)


def gene_kind(name: str) -> str:
    """What a gene decides, without where: ``"s2.b0.kernel"`` -> ``"kernel"``, ``"width3"`` ->
    ``"width"``, ``"edge2<-1"`` -> ``"edge<-"``. Genes of one kind with one choice list are
    counted together by :meth:`SearchSpace.features`; genes of different kinds never are, even
    with equal choices (kernels and expansions both ``[3, 5]``)."""
    return re.sub(r"\d+", "", name.rsplit(".", 1)[-1])


class SearchSpace(ABC, Generic[A]):
    """Base class of all search spaces.

    Subclasses define :attr:`genes` and the five methods decode/encode/canonical/parse/build.

    Args:
        input_shape: one sample's shape, ``(C, H, W)`` for images or ``(F,)`` for tables.
        output_dim: number of classes, or 1 for regression.
    """

    name: str = ""
    #: ``(input_shape, output_dim)`` used when no task gives them (table-backed searches), or
    #: None when the space needs a task.
    default_shapes: tuple[tuple[int, ...], int] | None = None

    def __init__(self, input_shape: Sequence[int], output_dim: int) -> None:
        self.input_shape = tuple(int(d) for d in input_shape)
        self.output_dim = int(output_dim)
        # a subclass may list its genes on the class; a copy, so an instance can add to it
        self.genes: list[Gene] = list(getattr(self, "genes", ()))

    # --- genome <-> architecture -------------------------------------------------------
    @abstractmethod
    def decode(self, genome: Sequence[int]) -> A:
        """Architecture described by a (validated) genome."""

    @abstractmethod
    def encode(self, arch: A) -> np.ndarray:
        """Canonical genome of an architecture (inactive genes are 0)."""

    @abstractmethod
    def canonical(self, arch: A) -> str:
        """Canonical, shell-safe string; equal strings build identical networks."""

    @abstractmethod
    def parse(self, text: str) -> A:
        """Inverse of :meth:`canonical`.

        Raises:
            SpaceError: the string is not an architecture of this space.
        """

    @abstractmethod
    def build(self, arch: A) -> torch.nn.Module:
        """A freshly initialised torch module for the architecture."""

    # --- per-layer view, for latency tables ----------------------------------------------
    def layer_signatures(self, arch: A) -> list[LayerSignature]:
        """The layers of ``arch`` in execution order (see :class:`LayerSignature`).

        Raises:
            SpaceError: the space does not support latency tables.
        """
        raise SpaceError(f"space {self.name!r} does not describe its layers; latency tables "
                         "need it; time every candidate instead (hwnas search ... --latency measure)")

    def all_layer_signatures(self) -> list[LayerSignature]:
        """Every distinct layer signature any architecture of this space can contain, sorted."""
        raise SpaceError(f"space {self.name!r} does not describe its layers; latency tables "
                         "need it; time every candidate instead (hwnas search ... --latency measure)")

    def build_layer(self, signature: LayerSignature) -> torch.nn.Module:
        """A standalone module for one signature; its input is ``signature.input_shape``."""
        raise SpaceError(f"space {self.name!r} does not describe its layers; latency tables "
                         "need it; time every candidate instead (hwnas search ... --latency measure)")

    # --- gradient search --------------------------------------------------------------
    def supernet(self, seed: int = 0) -> torch.nn.Module:
        """A :class:`~hwnas.space.supernet.Supernet` of this space (gradient search, ``darts``).

        Raises:
            SpaceError: the space has none.
        """
        raise SpaceError(f"space {self.name!r} has no supernet, which gradient search (strategy 'darts') "
                         f"needs; search it with another strategy (nsga2, evolution, ...) or use space 'mbv3' or 'nb201'")

    # --- shared behaviour --------------------------------------------------------------
    def degenerate(self, arch: A) -> str | None:
        """Why an architecture is useless whatever it is trained on (e.g. its output cannot
        depend on its input), or None. Search strategies do not propose degenerate ones."""
        return None

    def train_recipe(self, arch: A) -> Mapping[str, Any]:
        """Training overrides carried by the architecture (e.g. lr, optimizer); none by default."""
        return {}

    #: ``[space]`` options the space takes when a search's accuracy is a table's row (the
    #: estimator's ``reads_table``), unless the config gives them: NB201 keeps the cells that
    #: compute one network apart there, since the table measured each (``dead_edges = "keep"``)
    table_defaults: Mapping[str, Any] = {}

    #: genes that change only how a network trains (its recipe, its dropout), not the untrained
    #: network an estimator that does not train (a zero-cost proxy) scores
    training_genes: tuple[str, ...] = ()

    def varied_training_genes(self) -> list[str]:
        """The :attr:`training_genes` with more than one choice."""
        return [g.name for g in self.genes if g.name in self.training_genes and g.size > 1]

    @property
    def n_genes(self) -> int:
        """Genome length."""
        return len(self.genes)

    @property
    def n_genomes(self) -> int:
        """How many genomes the space has, canonical or not (the product of the genes' sizes; an
        exact integer however large)."""
        return math.prod(g.size for g in self.genes)

    @property
    def upper_bounds(self) -> np.ndarray:
        """Largest valid value of each gene."""
        return np.array([g.size - 1 for g in self.genes], dtype=np.int64)

    def validate(self, genome: Sequence[int]) -> np.ndarray:
        """Check a genome's length and ranges and return it as an int array.

        Raises:
            SpaceError: naming the gene and the valid range.
        """
        g = np.asarray(genome)
        if g.ndim != 1 or g.shape[0] != self.n_genes:
            raise SpaceError(
                f"{self.name}: genome has {g.size} genes, the space needs {self.n_genes}"
            )
        if not np.all(np.equal(np.mod(g, 1), 0)):
            raise SpaceError(f"{self.name}: genome {g.tolist()} has non-integer genes")
        g = g.astype(np.int64)
        for i, (v, gene) in enumerate(zip(g, self.genes)):
            if not 0 <= v < gene.size:
                raise SpaceError(
                    f"{self.name}: gene {i} ({gene.name}) = {v} is out of range 0..{gene.size - 1}"
                )
        return g

    def features(self, genomes: np.ndarray) -> np.ndarray:
        """Numeric description of genomes (rows) for learned models such as the search's surrogate.

        One column per (gene, choice), plus, for each kind of gene that several genes are (NB201's
        six edges, MobileNet kernel sizes: the name without its position, :func:`gene_kind`)
        with the same choices, how many active genes (:meth:`active_genes`) take each choice. The counts
        show a small model what a network holds in total (three 3x3 convolutions), which one-hot
        genes show only through many splits; on NB201 they double the rank correlation of an
        extra-trees accuracy predictor trained on 16 architectures. Spaces add what their
        genomes do not say directly (see :meth:`NB201Space.features`).
        """
        genomes = np.asarray(genomes, dtype=np.int64).reshape(-1, self.n_genes)
        sizes = self.upper_bounds + 1
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        one_hot = np.zeros((len(genomes), int(sizes.sum())))
        one_hot[np.repeat(np.arange(len(genomes)), self.n_genes), (genomes + offsets).ravel()] = 1.0
        groups: dict[tuple, list[int]] = {}
        for i, gene in enumerate(self.genes):
            groups.setdefault((gene_kind(gene.name), tuple(gene.choices)), []).append(i)
        active = self.active_genes(genomes)  # an unused block slot holds no kernel
        counts = [((genomes[:, idx] == c) & active[:, idx]).sum(axis=1, keepdims=True)
                  for (_, choices), idx in groups.items() if len(idx) > 1 and len(choices) > 1
                  for c in range(len(choices))]
        return np.hstack([one_hot, *counts]).astype(float)

    def active_genes(self, genomes: np.ndarray) -> np.ndarray:
        """Which genes each genome (a row) uses, as a boolean array of the genomes' shape; every
        gene by default. Spaces with inactive genes (blocks beyond a stage's depth) override it."""
        return np.ones(np.shape(genomes), dtype=bool)

    def sample(self, rng: np.random.Generator) -> A:
        """A uniformly random architecture (uniform over genes)."""
        return self.decode(rng.integers(0, self.upper_bounds + 1))

    def canonical_genome(self, genome: Sequence[int]) -> str:
        """Canonical string of a genome (validates it first)."""
        return self.canonical(self.decode(self.validate(genome)))

    def smallest(self) -> A:
        """The cheapest architecture: every gene at its smallest choice (its first where the
        choices are not numbers); a config may list a gene's choices in any order."""
        return self.decode(np.array([_extreme_choice(g.choices) for g in self.genes], dtype=np.int64))

    def largest(self) -> A:
        """The most expensive architecture: every gene at its largest choice (its last where the
        choices are not numbers), for the anchors and the device report of ``hwnas profile``."""
        return self.decode(np.array([_extreme_choice(g.choices, largest=True) for g in self.genes],
                                    dtype=np.int64))

    def describe(self) -> dict[str, Any]:
        """Name, shape and gene list, for the resolved config and reports."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "output_dim": self.output_dim,
            "genes": {g.name: list(g.choices) for g in self.genes},
        }


def _extreme_choice(choices: Sequence[Any], *, largest: bool = False) -> int:
    """Index of the smallest (``largest``: the largest) of numeric choices, else the first (last)."""
    if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in choices):
        return int(np.argmax(choices) if largest else np.argmin(choices))
    return len(choices) - 1 if largest else 0


SPACES: Registry[type[SearchSpace]] = Registry("search space")


def make_space(name: str, input_shape: Sequence[int] | None, output_dim: int | None, *,
               reads_table: bool = False, **options: Any) -> SearchSpace:
    """Instantiate a registered space.

    ``input_shape``/``output_dim`` None (no task) take the space's :attr:`SearchSpace.default_shapes`.
    ``reads_table``: the accuracy comes from a table's rows; the space's
    :attr:`SearchSpace.table_defaults` apply under ``options``.

    Raises:
        RegistryError: unknown space name.
        ConfigError: an option the space does not take, or no shapes for a space that needs a task.
        SpaceError: the space defines no genes (or entries that are not :class:`Gene`), or its
            ``__init__`` skips :class:`SearchSpace`'s.
    """

    cls = SPACES.get(name)
    if reads_table:
        options = {**getattr(cls, "table_defaults", {}), **options}
    if input_shape is None or output_dim is None:
        if cls.default_shapes is None:
            without_task = [n for n in SPACES.names() if SPACES.get(n).default_shapes is not None]
            raise ConfigError(f"space {name!r} needs a [task] (its input shape and classes): add [task] dataset = "
                              f"... to a config; a table search without a config (--table) takes a space that needs "
                              f"none ({', '.join(without_task)})")
        input_shape = cls.default_shapes[0] if input_shape is None else input_shape
        output_dim = cls.default_shapes[1] if output_dim is None else output_dim
    space = construct(cls, input_shape, output_dim, options=options, where="[space]", label=name)
    if not all(hasattr(space, a) for a in ("input_shape", "output_dim")):  # read by cost models, estimators, export
        raise SpaceError(f"space {name!r} ({type(space).__qualname__}) has no input_shape or output_dim: its __init__ "
                         f"does not call super().__init__(input_shape, output_dim); call it first")
    genes = getattr(space, "genes", None)
    if isinstance(genes, tuple):  # a sequence of genes is as good as a list
        genes = space.genes = list(genes)
    if not isinstance(genes, list) or not genes or not all(isinstance(g, Gene) for g in genes):
        raise SpaceError(f"space {name!r} ({type(space).__qualname__}) has genes {genes!r:.80}, not a non-empty list of "
                         f"Gene; set self.genes = [Gene(...), ...] after super().__init__()")
    _check_round_trip(space, name)
    return space


def _check_round_trip(space: SearchSpace, name: str) -> None:
    """Refuse a space whose ``parse`` does not invert ``canonical`` on its smallest, largest and a
    few seeded random architectures: export, compress and resume rebuild a stored architecture from
    its string, and would silently build another network than the one searched (its weights loaded
    into it)."""
    rng = np.random.default_rng(0)
    for make in (space.smallest, space.largest, *[lambda: space.sample(rng)] * 8):
        try:
            text = space.canonical(make())
        except Exception:  # a genome the space cannot decode is the search's to report, with its plugin frame
            continue
        if not isinstance(text, str):  # told apart where the search proposes it (canonical() returned no string)
            continue
        try:
            again = space.canonical(space.parse(text))
        except Exception as exc:  # a plugin's parse may raise anything on a string it should read
            again, why = None, f"parse raises {type(exc).__name__}: {exc}"
        else:
            why = f"it parses to {again!r}"
        if again != text:
            raise SpaceError(f"space {name!r} ({type(space).__qualname__}): parse() does not invert canonical() on "
                             f"{text!r} ({why}); make parse(canonical(arch)) give an architecture with the same "
                             f"canonical string")


#: Most parameters the largest architecture of a built-in space may have: 1e9 (4 GB of float32
#: weights) is past any network hwnas trains or times; more means a size option is mistyped.
MAX_PARAMS = 10**9


def check_image_input(space: SearchSpace) -> None:
    """Refuse a task whose samples are not images (C, H, W), for a space of convolutions.

    Raises:
        SpaceError: naming the samples' shape, and the ``mlp`` space for tabular data.
    """
    if len(space.input_shape) != 3:
        raise SpaceError(f"{space.name} needs image inputs (C, H, W); this task's samples have shape "
                         f"{space.input_shape}; use the 'mlp' space for tabular data"
                         + (" (grayscale images (N, H, W) need a channel axis: save x[:, None])"
                            if len(space.input_shape) == 2 else ""))


def refuse_oversized(space: SearchSpace, options: Mapping[str, Any]) -> None:
    """Refuse a space whose largest architecture would have more than :data:`MAX_PARAMS`
    parameters, counted on the meta device (nothing is allocated), so a size option such as
    ``head_channels = 100000000`` fails here rather than in every evaluation.

    Args:
        space: the space, its genes set.
        options: the size options that decide it (name -> value); the message names those not
            at their defaults.

    Raises:
        ConfigError: naming the options, the parameter count and the limit.
    """
    try:
        with torch.device("meta"):
            params = sum(p.numel() for p in space.build(space.largest()).parameters())
    except (TypeError, ValueError, RuntimeError, OverflowError):  # sizes torch cannot even describe
        params = math.inf
    if params > MAX_PARAMS:
        as_given = {k: list(v) if isinstance(v, (tuple, list)) else v for k, v in options.items()}
        defaults = {k: list(v) if isinstance(v, (tuple, list)) else v for k, v in option_defaults(type(space)).items()}
        changed = {k: v for k, v in as_given.items() if k not in defaults or defaults[k] != v} or as_given
        given = ", ".join(f"{k} = {v!r}" for k, v in changed.items())
        count = f"{params:.3g} parameters" if math.isfinite(params) else "more parameters than torch can describe"
        raise ConfigError(f"{space.name}: [space] {given} give a largest architecture with {count}, more than the "
                          f"{MAX_PARAMS:.0e} any evaluation could build; lower them")


def option_choices(space: str, option: str, values: Any, kind: type, *, minimum: float | None = None,
                   maximum: float | None = None, allowed: Sequence[Any] | None = None,
                   distinct: bool = True) -> tuple:
    """Validate a space option that lists the choices of a gene (e.g. ``widths``).

    Args:
        space: the space's name, for messages.
        option: the option's name.
        values: what the config gave.
        kind: ``int``, ``float`` or ``str``.
        minimum: smallest allowed value (numbers), if any.
        maximum: largest allowed value (numbers), if any.
        allowed: the allowed values (strings), if any.
        distinct: whether repeated values are refused (true for gene choices).

    Returns:
        The choices as a tuple of ``kind``.

    Raises:
        ConfigError: not a non-empty list of distinct values of that kind and range.
    """
    numeric = kind in (int, float)
    ok_type = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               and (kind is float or v == int(v))) if numeric else (lambda v: isinstance(v, str))
    hint = (f"a non-empty list of {'distinct ' if distinct else ''}"
            f"{'integers' if kind is int else 'numbers' if numeric else 'names'}")
    if minimum is not None:
        hint += f" >= {minimum:g}"
    if maximum is not None:
        hint += f" <= {maximum:g}"
    if allowed is not None:
        hint += f" from {list(allowed)}"
    if (isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values
            or not all(ok_type(v) for v in values) or (distinct and len(set(values)) != len(values))
            or (minimum is not None and min(values) < minimum)
            or (maximum is not None and max(values) > maximum)
            or (allowed is not None and any(v not in allowed for v in values))):
        raise ConfigError(f"{space}: [space] {option} = {values!r} is invalid; it must be {hint}")
    # canonical strings write numbers with 6 significant digits ("{:g}"): more would not parse back
    if kind is float and (long := [v for v in values if float(f"{v:g}") != v]):
        raise ConfigError(f"{space}: [space] {option} = {values!r} is invalid; {long} have more than 6 "
                          f"significant digits, which architecture strings do not keep; use "
                          f"{[float(f'{v:g}') for v in long]}")
    return tuple(kind(v) for v in values)


def choice_index(gene: Gene, value: Any, *, where: str) -> int:
    """Index of ``value`` among a gene's choices.

    Raises:
        SpaceError: the value is not a choice, naming the valid ones.
    """
    for i, c in enumerate(gene.choices):
        if c == value or (isinstance(c, float) and isinstance(value, (int, float))
                          and math.isclose(c, value, rel_tol=1e-9)):
            return i
    raise SpaceError(f"{where}: {value!r} is not a valid {gene.name}; choose one of {list(gene.choices)}")
