"""hwnas.evaluation: a built model's initial weights depend on its architecture alone."""

from __future__ import annotations

import numpy as np
import torch

from hwnas.evaluation import Evaluator
from hwnas.space.base import make_space


class _KeepsBuiltWeights:
    """An estimator that scores the built weights as they are (no re-initialisation)."""

    needs_model = True
    trains = False

    def __init__(self):
        self.first = []

    def estimate(self, arch, model, recipe=None):
        self.first.append(next(model.parameters()).detach().clone())
        return {"accuracy_pct": 50.0, "error_pct": 50.0}


def test_initial_weights_do_not_depend_on_what_was_built_before_or_on_the_callers_torch_state():
    space = make_space("mlp", (64,), 10)
    rng = np.random.default_rng(0)
    a, b = (space.encode(space.sample(rng)) for _ in range(2))
    estimator = _KeepsBuiltWeights()
    evaluator = Evaluator(space, estimator, [])

    assert evaluator.evaluate(a).ok
    torch.manual_seed(123)
    evaluator.evaluate(b)  # another model built in between, under another global seed
    torch.rand(5)
    state = torch.get_rng_state()
    evaluator.evaluate(a)
    assert torch.equal(torch.get_rng_state(), state)  # the caller's torch random state is left alone
    first, _, again = estimator.first
    assert torch.equal(first, again)
