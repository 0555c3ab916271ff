"""hwnas.components: what the parts of a run refuse before any evaluation."""

from __future__ import annotations

import pytest

from hwnas.components import build_components
from hwnas.exceptions import ConfigError


def test_estimator_options_the_space_sets_per_architecture_are_refused(make_config):
    # the mlp space's lr and optimizer genes override the trainer's: these would be silently ignored
    config = make_config(estimator={"name": "proxy-trainer", "epochs": 1, "lr": 5.0, "optimizer": "sgd"})
    with pytest.raises(ConfigError, match=r"\[estimator\] lr, optimizer would be ignored: the mlp space sets them "
                                          r"per architecture; .* e\.g\. \[space\] lrs = \[5\.0\]"):
        build_components(config)
    build_components(make_config(estimator={"name": "proxy-trainer", "epochs": 1, "weight_decay": 0.0}))


def test_a_pre_filter_whose_warm_up_covers_the_search_is_noted(make_config):
    config = make_config(estimator={"name": "zero-cost-filtered", "warmup": 8, "epochs": 1},
                         search={"evaluations": 6})
    assert build_components(config).notes == [
        "zero-cost-filtered: warmup = 8 covers all 6 evaluations, so every candidate is trained and none filtered; "
        "set warmup below the evaluations to filter"]
    assert build_components(make_config(estimator={"name": "zero-cost-filtered", "warmup": 2, "epochs": 1},
                                        search={"evaluations": 6})).notes == []
