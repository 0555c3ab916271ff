"""Tests for the ``AccuracyEstimator`` interface and the estimator registry."""

import pytest

from hwnas.estimate import ESTIMATORS, AccuracyEstimator, ProxyTrainer
from hwnas.exceptions import RegistryError


def test_proxy_trainer_is_registered():
    assert ESTIMATORS.get("proxy-trainer") is ProxyTrainer
    assert ProxyTrainer.needs_model


def test_unknown_estimator_suggests_names():
    with pytest.raises(RegistryError, match="did you mean 'proxy-trainer'"):
        ESTIMATORS.get("proxy_trainer")


def test_estimate_is_abstract():
    with pytest.raises(TypeError):
        AccuracyEstimator()

    class Constant(AccuracyEstimator):
        needs_model = False

        def estimate(self, arch, model, recipe=None):
            return {"error_pct": 10.0, "accuracy_pct": 90.0}

    assert Constant().estimate("a", None)["accuracy_pct"] == 90.0
