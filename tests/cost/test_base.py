"""The cost-model registry and the built-in cost models."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from hwnas.cost import COST_MODELS, CostModel, count_macs_params, load_target, peak_memory_mb
from hwnas.exceptions import ConfigError, RegistryError

from .conftest import INPUT_SHAPE, conv_net


BUILT_IN = ("counts", "memory", "ort")  # tests/fakes.py registers more


def test_registry_names():
    assert set(BUILT_IN) <= set(COST_MODELS.names())
    for name in BUILT_IN:
        cls = COST_MODELS.get(name)
        assert issubclass(cls, CostModel) and cls.name == name and cls.provides


def test_unknown_name_suggests_close_match():
    with pytest.raises(RegistryError, match=r"^unknown cost model 'ortt'; did you mean 'ort'\? choose one of: counts, .*memory, ort"):
        COST_MODELS.get("ortt")


def test_counts_and_memory(fast_target):
    model = conv_net(8, 1)
    counts = COST_MODELS.get("counts")(fast_target, INPUT_SHAPE).measure("a", model)
    macs, params = count_macs_params(model, INPUT_SHAPE)
    assert counts == {"macs": float(macs), "params": float(params)}
    memory = COST_MODELS.get("memory")(fast_target, INPUT_SHAPE).measure("a", model)
    assert memory == {"peak_memory_mb": peak_memory_mb(model, INPUT_SHAPE)}


def test_memory_uses_target_batch_and_dtype():
    half = dataclasses.replace(load_target("cuda-ort"), dtype="float16", batch_size=2)
    model = conv_net(4, 0)
    got = COST_MODELS.get("memory")(half, INPUT_SHAPE).measure("a", model)["peak_memory_mb"]
    assert got == peak_memory_mb(model, INPUT_SHAPE, batch_size=2, dtype_bytes=2)


def test_ort_measures_a_training_model_and_restores_its_mode(fast_target):
    small, big = conv_net(4, 0).train(), conv_net(24, 2).train()
    big[3].eval()  # a frozen batch norm inside a training model must stay frozen
    cost = COST_MODELS.get("ort")(fast_target, INPUT_SHAPE)
    fast, slow = cost.measure_many(["small", "big"], [small, big])
    assert set(fast) == set(cost.provides) == {"latency_ms", "latency_spread_pct"}
    assert slow["latency_ms"] > fast["latency_ms"] > 0
    assert small.training and big.training and not big[3].training
    single = cost.measure("small", small)
    assert set(single) == set(cost.provides) and single["latency_spread_pct"] >= 0


def test_model_required(fast_target):
    for name in BUILT_IN:
        with pytest.raises(ConfigError, match=rf"^cost model '{name}' needs the torch module of 'arch-7' but got None"):
            COST_MODELS.get(name)(fast_target, INPUT_SHAPE).measure("arch-7", None)


def test_bad_input_shape(fast_target):
    with pytest.raises(ConfigError, match=r"^cost model ort: input_shape = \(3, 0\) is invalid"):
        COST_MODELS.get("ort")(fast_target, (3, 0))


def test_describe_carries_target_metadata(fast_target):
    info = COST_MODELS.get("ort")(fast_target, INPUT_SHAPE).describe()
    assert info["cost_model"] == "ort" and info["provides"] == ["latency_ms", "latency_spread_pct"]
    assert info["execution_provider"] == "CPUExecutionProvider" and info["runtime_version"]


def test_length_mismatch(fast_target):
    with pytest.raises(ValueError, match="2 archs but 1 models"):
        COST_MODELS.get("counts")(fast_target, INPUT_SHAPE).measure_many(["a", "b"], [torch.nn.Identity()])
