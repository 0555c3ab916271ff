"""REINFORCE with an RNN controller (Zoph & Le, 2017), multi-objective through its reward.

The controller is an LSTM cell that emits one categorical choice per gene, feeding each
choice's embedding to the next step. After each batch it takes one policy-gradient step
(Adam) on ``advantage * log-probability`` plus an entropy bonus, with an exponential moving
average of rewards as the baseline.

Reward (all objectives at once, no weights to tune): ``-(share of evaluated architectures that
dominate this one)`` under constrained domination, so every architecture on the current front
scores 0, and failed or over-budget ones score -1.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ...exceptions import ConfigError
from ...space.base import SearchSpace
from ..objectives import FAILED_VALUE
from .base import STRATEGIES, Strategy
from .common import MAX_DRAWS, Archive, check_batch, check_int_options, check_number_options, key

#: The largest controller (LSTM hidden size) ``reinforce`` builds.
MAX_HIDDEN = 4096


def _dominated_share(f: np.ndarray, cv: np.ndarray, archive_f: np.ndarray, archive_cv: np.ndarray) -> float:
    if cv > 0 or np.any(f >= FAILED_VALUE):  # over budget, or failed: the worst reward
        return 1.0
    ok = archive_cv <= 0
    if not ok.any():
        return 0.0
    a = archive_f[ok]
    dominating = np.all(a <= f, axis=1) & np.any(a < f, axis=1)
    return float(dominating.sum()) / len(archive_f)


@contextmanager
def _one_thread(torch):
    """The controller's tensors are tiny: threads only add synchronisation (restored after)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@STRATEGIES.register("reinforce")
class ReinforceStrategy(Strategy):
    """Policy-gradient NAS with an LSTM controller.

    Options (``[search]``):
        batch: architectures per policy update (default 8).
        hidden: LSTM hidden size (default 32).
        lr: Adam learning rate (default 0.02).
        entropy: entropy bonus weight (default 0.01).
        baseline_decay: EMA decay of the reward baseline (default 0.9).
    """

    def __init__(self, space: SearchSpace, *, n_objectives: int, n_constraints: int,
                 evaluations: int, seed: int, batch: int = 8, hidden: int = 32, lr: float = 0.02,
                 entropy: float = 0.01, baseline_decay: float = 0.9) -> None:
        super().__init__(space, n_objectives=n_objectives, n_constraints=n_constraints,
                         evaluations=evaluations, seed=seed)
        import torch

        check_batch(batch)
        check_int_options({"hidden": (hidden, 1)})
        if hidden > MAX_HIDDEN:
            raise ConfigError(f"[search] hidden = {hidden} must be at most {MAX_HIDDEN} (the controller's LSTM size)")
        check_number_options({"lr": (lr, lambda v: v > 0, "> 0"), "entropy": (entropy, lambda v: v >= 0, ">= 0"),
                              "baseline_decay": (baseline_decay, lambda v: 0 <= v < 1, "in [0, 1)")})
        self.torch = torch
        self.batch, self.entropy, self.decay = batch, entropy, baseline_decay
        self.sizes = [int(u) + 1 for u in space.upper_bounds]
        self.gen = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        # building modules draws default initial weights from torch's global RNG: fork it so the
        # global state is left untouched, then re-initialise from our own generator
        with torch.random.fork_rng(devices=[]):
            self.cell = torch.nn.LSTMCell(hidden, hidden)
            self.embed = torch.nn.ModuleList(torch.nn.Embedding(n, hidden) for n in self.sizes)
            self.heads = torch.nn.ModuleList(torch.nn.Linear(hidden, n) for n in self.sizes)
            self.start = torch.nn.Parameter(torch.zeros(1, hidden))
        self.params = [*self.cell.parameters(), *self.embed.parameters(), *self.heads.parameters(), self.start]
        for p in self.params:
            torch.nn.init.uniform_(p, -0.1, 0.1, generator=self.gen)
        # plain Adam by hand: torch.optim's first use imports the compiler stack (seconds)
        self.lr, self.step = lr, 0
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in self.params]
        self.archive = Archive(space)
        # canonical proposal -> the genome the controller sampled (the canonical form zeroes
        # genes that do not act, e.g. a missing layer's width): the update is on what was sampled
        self._sampled: dict[tuple[int, ...], np.ndarray] = {}
        self.baseline: float | None = None
        self.proposed = 0

    def _sample(self, n: int) -> np.ndarray:
        """``n`` genomes drawn from the controller in one batched pass."""
        torch = self.torch
        with torch.no_grad():
            x, state = self.start.expand(n, -1), None
            out = []
            for i in range(len(self.sizes)):
                state = self.cell(x, state)
                probs = torch.softmax(self.heads[i](state[0]), dim=-1)
                c = torch.multinomial(probs, 1, generator=self.gen).squeeze(1)
                out.append(c)
                x = self.embed[i](c)
        return torch.stack(out, dim=1).numpy()

    def _log_prob(self, genomes: np.ndarray):
        torch = self.torch
        g = torch.as_tensor(np.asarray(genomes, dtype=np.int64))
        x = self.start.expand(len(g), -1)
        state = None
        logp = torch.zeros(len(g))
        ent = torch.zeros(len(g))
        for i in range(len(self.sizes)):
            state = self.cell(x, state)
            log_probs = torch.log_softmax(self.heads[i](state[0]), dim=-1)
            logp = logp + log_probs.gather(1, g[:, i:i + 1]).squeeze(1)
            ent = ent - (log_probs.exp() * log_probs).sum(dim=1)
            x = self.embed[i](g[:, i])
        return logp, ent

    def ask(self) -> np.ndarray | None:
        with _one_thread(self.torch):
            return self._ask()

    def tell(self, genomes: np.ndarray, objectives: np.ndarray, violations: np.ndarray) -> None:
        with _one_thread(self.torch):
            self._tell(genomes, objectives, violations)

    def _ask(self) -> np.ndarray | None:
        want = min(self.batch, self.evaluations - self.proposed)
        out = []
        # at least the batch per round: 50 a round capped a batch's controller samples at 200, so
        # a batch of 300 was a third uniform fill-ins even from an untrained controller
        for _ in range(MAX_DRAWS // 50):
            for sampled in self._sample(max(50, want)):
                cand = self.archive.canonical(sampled)
                if len(out) < want and self.archive.is_new(cand):
                    out.append(self.archive.propose(cand))
                    self._sampled[key(cand)] = sampled
            if len(out) == want:
                break
        while len(out) < want:  # the controller has converged onto evaluated architectures
            g = self.archive.random_unseen(self.rng)
            if g is None:
                break
            out.append(self.archive.propose(g))
        self.proposed += len(out)
        return np.array(out) if out else None

    def _tell(self, genomes: np.ndarray, objectives: np.ndarray, violations: np.ndarray) -> None:
        torch = self.torch
        self.archive.record(genomes, objectives, violations)
        arch_f = np.array(self.archive.objectives)
        arch_cv = np.clip(np.array(self.archive.violations).reshape(len(arch_f), -1), 0, None).sum(axis=1)
        cv = np.clip(np.asarray(violations, float).reshape(len(genomes), -1), 0, None).sum(axis=1)
        rewards = np.array([-_dominated_share(f, c, arch_f, arch_cv) for f, c in zip(np.asarray(objectives), cv)])
        if self.baseline is None:
            self.baseline = float(rewards.mean())
        advantage = torch.as_tensor(rewards - self.baseline, dtype=torch.float32)
        self.baseline = self.decay * self.baseline + (1 - self.decay) * float(rewards.mean())
        # random fill-ins (the controller had converged) were not sampled: scored as proposed
        sampled = np.array([self._sampled.pop(key(g), g) for g in np.asarray(genomes, dtype=np.int64)])
        logp, ent = self._log_prob(sampled)
        loss = -(advantage * logp).mean() - self.entropy * ent.mean()
        # the last gene's embedding feeds nothing: its gradient is None
        grads = torch.autograd.grad(loss, self.params, allow_unused=True)
        self.step += 1
        b1, b2, eps = 0.9, 0.999, 1e-8
        with torch.no_grad():
            for p, g, (m, v) in zip(self.params, grads, self.moments):
                if g is None:
                    continue
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (v / (1 - b2 ** self.step)).sqrt_().add_(eps)
                p.addcdiv_(m, denom, value=-self.lr / (1 - b1 ** self.step))
