"""MACs and params on models small enough to count by hand."""

from __future__ import annotations

import warnings

import pytest
import torch

from hwnas.cost import count_macs_params


def test_conv_macs_exclude_bias():
    # 8 output channels * 9 weights * 64 positions; fvcore does not count the bias adds.
    conv = torch.nn.Conv2d(1, 8, 3, padding=1)
    assert count_macs_params(conv, (1, 8, 8)) == (8 * 9 * 64, 8 * 9 + 8)


def test_conv_relu_linear_network():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(512, 10)
    )
    macs, params = count_macs_params(model, (1, 8, 8))
    assert macs == 8 * 9 * 64 + 512 * 10  # ReLU is not counted
    assert params == (8 * 9 + 8) + (512 * 10 + 10)


def test_batchnorm_is_not_counted_and_mode_is_restored():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8)).train()
    macs, params = count_macs_params(model, (1, 8, 8))
    assert macs == 8 * 9 * 64  # batch norm folds into the conv at inference (fvcore would add 2 * 8 * 64)
    assert params == 80 + 16  # running stats are buffers, not parameters
    assert model.training and model[1].training


def test_an_op_fvcore_cannot_count_is_warned_about_once_and_free_ones_are_not():
    class Attention(torch.nn.Module):
        def forward(self, x):
            x = torch.nn.functional.hardswish(x) + x * 2  # elementwise: free, no warning
            a = torch.nn.functional.scaled_dot_product_attention(x, x, x)
            return torch.nn.functional.scaled_dot_product_attention(a, a, a)

    with pytest.warns(UserWarning, match=r"MACs of aten::scaled_dot_product_attention \(Attention\) are not counted") as got:
        assert count_macs_params(Attention(), (4, 8)) == (0, 0)
    assert len([w for w in got if "not counted" in str(w.message)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an mbv3-style block (hardswish, hardsigmoid_, add, mul) warns nothing
        from hwnas.space import make_space

        space = make_space("mbv3", (1, 8, 8), 10)
        count_macs_params(space.build(space.largest()), (1, 8, 8))
