"""DARTS-style gradient search, hardware-aware through the expected cost of the choices.

The space's supernet (:meth:`~hwnas.space.base.SearchSpace.supernet`) mixes every choice of
every gene by the softmax of learnable logits. Training alternates, batch by batch, a step on
the network weights (cross-entropy on one half of the task's training split) and a step on
the logits (cross-entropy on the other half plus ``penalty`` times the expected cost of the
choices, relative to their most expensive combination): first-order DARTS with an FBNet-style
cost term. The cost is the milliseconds each choice adds on the search's target: from the
latency table when the search predicts latency from one (each layer's share of the table's
prediction, :func:`~hwnas.space.supernet.table_cost`; nothing is timed, so this works for a
device this machine cannot run), else every distinct operation timed with ONNX Runtime, call
overhead subtracted (:func:`~hwnas.space.supernet.latency_cost`); or fvcore MACs without a
target or on request. The task's validation split is never seen; it stays the evaluator's.

One run of the supernet per penalty traces the accuracy/cost trade-off: the weights are first
trained with uniform logits (``warmup_epochs``), then each penalty continues from that state
for ``search_epochs``. Proposals are the most likely architectures under each penalty's
logits, taken in turn (the most likely of every penalty first), never repeating one, never a
degenerate one. With budgets, an architecture the budgets' cost models price over one before
training (a latency table, the counts: what budget first prices) is skipped, not proposed (at
most :data:`MAX_PRICED` are priced), and a penalty whose last :data:`STRIKES` proposals were over
budget proposes no more, so the evaluations go to the trade-offs that meet them. They are then trained
and measured like any other strategy's, so the front, the store and the outputs are true
evaluations; the supernet's values are not reported as
results.

Resuming replays the supernet training (seeded): priced in MACs or from a latency table it
proposes the same architectures again; timed, the choices are timed anew, and slightly different
times can change later proposals (the evaluations already stored are kept, none is repeated).
"""

from __future__ import annotations

import copy
import itertools
import math
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ...data.base import Task
from ...cost.target import Target
from ...exceptions import ConfigError
from ...space.base import SearchSpace
from ...space.supernet import latency_cost, table_cost
from ...wording import counted
from ..objectives import FAILED_VALUE
from .base import STRATEGIES, Strategy
from .common import Archive, check_int_options, check_number_options, key

#: Spaces up to this many architectures are ranked exhaustively; larger ones by sampling.
MAX_ENUMERATED = 200_000
#: Samples drawn per penalty to rank the architectures of a larger space.
RANK_SAMPLES = 20_000
#: Proposals of one penalty over budget in a row after which that penalty proposes no more.
STRIKES = 3
#: Ranked architectures priced against the budgets before training, at most (pricing by timing
#: takes about a second each).
MAX_PRICED = 500


@STRATEGIES.register("darts")
class DartsStrategy(Strategy):
    """Gradient search on a supernet of the space (``nb201``, ``mbv3``), one trade-off per penalty.

    Options (``[search]``):
        penalties: weights of the expected-cost term, one supernet run each (default: the
            supernet's, ``[0, 0.03, 0.1, 0.3]`` for nb201, ``[0, 0.3, 1, 3]`` for mbv3; 0 is
            plain DARTS; the cost term is the expected cost as a share of the most expensive
            choices, next to a cross-entropy of ~0.1-0.5).
        cost: what the penalty prices: ``"latency_ms"`` on the ``[cost] target`` (from its latency
            table when the search uses one, else timed), ``"macs"``, or ``"auto"`` (default: MACs
            when the objectives and budgets use MACs and not latency, else latency when the search
            has a target, else MACs).
        warmup_epochs: epochs training the weights with uniform logits first (default 3).
        search_epochs: epochs per penalty, alternating weight and logit steps (default 6).
        batch_size: training batch (default 64).
        lr: SGD learning rate of the weights, cosine-decayed (default 0.025, as DARTS).
        arch_lr: Adam learning rate of the logits (default 0.05). DARTS's 0.0003-0.003 suit its
            ~20,000 logit steps on CIFAR-10; a few epochs of a small task take tens to hundreds,
            and at 0.003 the logits end where they started, whatever the penalty.
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
    """

    needs_task = True

    def __init__(self, space: SearchSpace, *, n_objectives: int, n_constraints: int, evaluations: int,
                 seed: int, task: Task, target: Target | None = None, latency_table: Any = None,
                 search_metrics: Sequence[str] = (), latency_model: str | None = None,
                 over_budget: Callable[[np.ndarray], bool] | None = None, cost: str = "auto",
                 penalties: Sequence[float] | None = None,
                 warmup_epochs: int = 3, search_epochs: int = 6, batch_size: int = 64, lr: float = 0.025,
                 arch_lr: float = 0.05, device: str = "auto") -> None:
        super().__init__(space, n_objectives=n_objectives, n_constraints=n_constraints,
                         evaluations=evaluations, seed=seed)
        if task.num_classes < 2:
            raise ConfigError(f"strategy 'darts' trains a classifier; task {task.name!r} is a regression; "
                              f"use another strategy (nsga2, evolution, ...)")
        with torch.random.fork_rng():  # built now, so a space without one says so; seeded, torch's RNG left alone
            torch.manual_seed(seed)
            self.net = space.supernet(seed)
        penalties = self.net.penalties if penalties is None else penalties
        if (isinstance(penalties, (str, bytes)) or not isinstance(penalties, Sequence) or not penalties
                or not all(isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p < math.inf
                           for p in penalties)):
            raise ConfigError(f"[search] penalties = {penalties!r} must be a non-empty list of finite numbers >= 0, "
                              f"e.g. [0, 0.03, 0.1, 0.3]")
        check_int_options({"warmup_epochs": (warmup_epochs, 0), "search_epochs": (search_epochs, 1),
                           "batch_size": (batch_size, 1)})
        check_number_options({"lr": (lr, lambda v: 0 < v <= 10, "in (0, 10]"),
                              "arch_lr": (arch_lr, lambda v: 0 < v <= 10, "in (0, 10]")})
        if cost not in ("auto", "macs", "latency_ms"):
            raise ConfigError(f"[search] cost = {cost!r} must be 'auto', 'macs' or 'latency_ms'")
        if cost == "latency_ms" and target is None:
            raise ConfigError("[search] cost = 'latency_ms' times the choices on the [cost] target, and there is "
                              "none; add [cost] target = \"cpu-ort-1t\" or use cost = 'macs'")
        if device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"[search] device = {device!r} must be 'auto', 'cpu' or 'cuda'")
        if device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("[search] device = 'cuda' but no CUDA device is available; use 'auto' or 'cpu'")
        self.task, self.target, self.latency_table = task, target, latency_table
        if cost == "auto":
            macs_only = "macs" in search_metrics and "latency_ms" not in search_metrics
            cost = "latency_ms" if target is not None and not macs_only else "macs"
        self.cost = cost
        if cost == "latency_ms" and latency_model not in (None, "ort", "lut"):
            print(f"darts: note: the search's latency_ms comes from cost model {latency_model!r}; the penalty "
                  f"prices latency on target {target.name} instead ({'its latency table' if latency_table else 'timed here'}); "
                  f"[search.darts] cost = 'macs' prices MACs", file=sys.stderr)
        if self.cost == "latency_ms" and latency_table is not None:  # instant: priced now (errors too)
            self.net.price(table_cost(latency_table), "ms")
        self.penalties = sorted({float(p) for p in penalties})
        self.warmup_epochs, self.search_epochs, self.batch_size = warmup_epochs, search_epochs, batch_size
        self.lr, self.arch_lr = float(lr), float(arch_lr)
        self.device = torch.device("cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available())
                                   else "cpu")
        self.archive = Archive(space)
        self.proposed = 0
        self.probabilities: dict[float, np.ndarray] = {}  # per penalty: genes x choices, after its search
        self.rankings: dict[float, list[np.ndarray]] = {}  # per penalty: genomes, most likely first
        self.round = 0  # the place in every ranking the next ask proposes from
        self.source: dict[tuple, float] = {}  # proposed genome -> the penalty it came from
        self.strikes: dict[float, int] = {}  # per penalty: its proposals over budget in a row
        self.dropped: set[float] = set()  # penalties whose proposals kept breaking the budgets
        self.over_budget = over_budget
        self.skipped = 0  # ranked architectures not proposed: priced over a budget before training
        self.priced = 0  # genomes priced so far (at most MAX_PRICED)

    def computed_options(self) -> dict[str, Any]:
        return {"penalties": self.penalties, "cost": self.cost}

    # --- ask / tell ---------------------------------------------------------------------
    def ask(self) -> np.ndarray | None:
        """The next round: the next most likely architecture of every penalty still in play (one
        not proposed before), so the trade-offs are covered from their best outwards."""
        if self.proposed >= self.evaluations:
            return None
        if not self.probabilities:
            self.probabilities = self.search()
            self.rankings = {p: self._ranked(probs) for p, probs in self.probabilities.items()}
        out: list[np.ndarray] = []
        longest = max((len(r) for r in self.rankings.values()), default=0)
        while not out and self.round < longest:
            for penalty, ranking in self.rankings.items():
                if penalty in self.dropped or self.round >= len(ranking):
                    continue
                genome = ranking[self.round]
                if len(out) < self.evaluations - self.proposed and self.archive.is_new(genome):
                    if self._priced_over(genome):
                        continue
                    out.append(self.archive.propose(genome))
                    self.source[key(out[-1])] = penalty
            self.round += 1
        if self.skipped and (not out or self.proposed + len(out) >= self.evaluations):
            print(f"darts: skipped {counted(self.skipped, 'ranked architecture')} priced over the budgets before "
                  f"training", file=sys.stderr)
            self.skipped = 0
        if not out:
            return None  # every architecture the rankings hold was proposed (or priced over a budget)
        self.proposed += len(out)
        return np.array(out)

    def _priced_over(self, genome: np.ndarray) -> bool:
        """Whether ``genome`` is priced over a budget before training (then it is never proposed:
        budgets are constraints, and an evaluation spent on it would teach nothing); pricing stops
        after :data:`MAX_PRICED` genomes, whose proposals are then judged by their evaluations."""
        if self.over_budget is None or self.priced >= MAX_PRICED:
            return False
        self.priced += 1
        if not self.over_budget(genome):
            return False
        self.archive.seen.add(key(genome))  # never priced again
        self.skipped += 1
        return True

    def tell(self, genomes: np.ndarray, objectives: np.ndarray, violations: np.ndarray) -> None:
        """Record the results; a penalty whose last :data:`STRIKES` proposals were all over a budget
        proposes no more (while another penalty is in play): the budget steers which trade-offs
        the evaluations go to."""
        self.archive.record(genomes, objectives, violations)
        violations = np.asarray(violations, float).reshape(len(genomes), -1)
        over = violations.max(axis=1, initial=0.0) > 0
        failed = (violations >= FAILED_VALUE).any(axis=1)  # no metrics: nothing known of its cost
        for genome, is_over, is_failed in zip(np.asarray(genomes, dtype=np.int64), over, failed):
            penalty = self.source.get(key(genome))
            if penalty is None or penalty in self.dropped or is_failed:
                continue
            self.strikes[penalty] = self.strikes.get(penalty, 0) + 1 if is_over else 0
            if self.strikes[penalty] >= STRIKES and len(self.rankings) - len(self.dropped) > 1:
                self.dropped.add(penalty)
                print(f"darts: penalty {penalty:g} proposes no more: its last {STRIKES} proposals were over budget",
                      file=sys.stderr)

    # --- the supernet ---------------------------------------------------------------------
    def search(self) -> dict[float, np.ndarray]:
        """Train the supernet once per penalty; the choice probabilities each one ends with."""
        x, y = (torch.from_numpy(np.array(a)) for a in (self.task.x_train, self.task.y_train))  # a writable copy
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(self.seed))
        halves = [(x[idx].to(self.device), y[idx].to(self.device)) for idx in (order[::2], order[1::2])]
        with torch.random.fork_rng(devices=[self.device.index or 0] if self.device.type == "cuda" else []):
            torch.manual_seed(self.seed)
            net = self.net
            if self.cost == "latency_ms" and self.latency_table is None:
                net.price(latency_cost(self.target), "ms")
            net = net.to(self.device)
            if x.dim() == 4:
                net = net.to(memory_format=torch.channels_last)
            scale = net.max_cost() or 1.0
            steps = self.warmup_epochs + self.search_epochs
            start = time.perf_counter()
            print(f"darts: training the supernet on {len(x)} samples ({self.device.type}): {self.warmup_epochs} warm-up "
                  f"epoch(s), then {self.search_epochs} for each of {counted(self.penalties, 'penalty', 'penalties')}, "
                  f"before the first evaluation", file=sys.stderr)
            self._epochs(net, halves, None, 0.0, scale, range(self.warmup_epochs), steps)
            warm = copy.deepcopy(net.state_dict())
            out = {}
            for penalty in self.penalties:
                net.load_state_dict(warm)
                arch_opt = torch.optim.Adam([net.alphas], lr=self.arch_lr, betas=(0.5, 0.999), weight_decay=1e-3)
                loss = self._epochs(net, halves, arch_opt, penalty, scale,
                                    range(self.warmup_epochs, steps), steps)
                out[penalty] = net.mixing_weights().detach().cpu().numpy()
                if not (math.isfinite(loss) and np.isfinite(out[penalty]).all()):
                    raise ConfigError(f"darts: the supernet diverged under penalty {penalty:g} (logit-half loss "
                                      f"{loss}); lower [search] lr = {self.lr:g} or arch_lr = {self.arch_lr:g}, "
                                      f"or that penalty")
                best = self.space.canonical(self.space.decode(out[penalty].argmax(axis=1)))
                print(f"darts: penalty {penalty:g} ({time.perf_counter() - start:.0f} s): logit-half loss {loss:.3f}, "
                      f"expected cost {net.expected_cost().item():.4g} of {scale:.4g} {net.cost_unit}; most likely "
                      f"choices {best}", file=sys.stderr)
        return out

    def _epochs(self, net, halves, arch_opt, penalty: float, scale: float, epochs: range, total: int) -> float:
        """Train ``epochs`` (of ``total``, for the cosine schedule); with ``arch_opt`` also the logits.

        Returns:
            The mean logit-half loss of the last epoch (cross-entropy plus the cost term), or 0.
        """
        (x_w, y_w), (x_a, y_a) = halves
        weight_opt = torch.optim.SGD(net.weight_parameters(), lr=self.lr, momentum=0.9, weight_decay=3e-4)
        batches = max(1, len(x_w) // self.batch_size)
        generator = torch.Generator(device="cpu").manual_seed(self.seed + epochs.start)
        last = 0.0
        for epoch in epochs:
            for group in weight_opt.param_groups:
                group["lr"] = 0.5 * self.lr * (1 + np.cos(np.pi * epoch / total))
            w_order, a_order = (torch.randperm(len(t), generator=generator) for t in (x_w, x_a))
            losses = []
            net.train()
            for b in range(batches):
                if arch_opt is not None:
                    idx = a_order[(b * self.batch_size) % len(x_a):][: self.batch_size]
                    arch_opt.zero_grad(set_to_none=True)
                    arch_loss = F.cross_entropy(net(x_a[idx]), y_a[idx]) + penalty * net.expected_cost() / scale
                    arch_loss.backward()
                    arch_opt.step()
                    losses.append(arch_loss.item())
                idx = w_order[b * self.batch_size:(b + 1) * self.batch_size]
                weight_opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(x_w[idx]), y_w[idx]).backward()
                net.alphas.grad = None  # the weight step never moves the logits
                torch.nn.utils.clip_grad_norm_(net.weight_parameters(), 5.0)
                weight_opt.step()
            last = float(np.mean(losses)) if losses else 0.0
        return last

    def _ranked(self, probs: np.ndarray) -> list[np.ndarray]:
        """Canonical, non-degenerate genomes in decreasing probability under ``probs``."""
        sizes = self.space.upper_bounds + 1
        logp = np.log(np.clip(probs, 1e-12, None))
        if int(np.prod(sizes.astype(float))) <= MAX_ENUMERATED:
            genomes = np.array(list(itertools.product(*[range(int(s)) for s in sizes])), dtype=np.int64)
        else:
            rng = np.random.default_rng(self.seed)
            genomes = np.stack([rng.choice(int(s), size=RANK_SAMPLES, p=probs[g, :s] / probs[g, :s].sum())
                                for g, s in enumerate(sizes)], axis=1)
            genomes = np.vstack([probs.argmax(axis=1)[None, :], genomes])
        score = logp[np.arange(len(sizes)), genomes].sum(axis=1)
        # with budgets priced before training, up to MAX_PRICED of them may be skipped, not proposed
        limit = self.evaluations + (MAX_PRICED if self.over_budget is not None else 0)
        out, seen = [], set()
        for i in np.argsort(-score, kind="stable"):
            genome = self.archive.canonical(genomes[i])
            if key(genome) not in seen and self.space.degenerate(self.space.decode(genome)) is None:
                seen.add(key(genome))
                out.append(genome)
                if len(out) == limit:  # no penalty can need more
                    break
        return out
