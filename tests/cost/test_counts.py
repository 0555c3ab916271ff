"""MACs and params on models small enough to count by hand."""

from __future__ import annotations

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


def test_batchnorm_counts_one_per_element_and_mode_is_restored():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8)).train()
    macs, params = count_macs_params(model, (1, 8, 8))
    assert macs == 8 * 9 * 64 + 2 * 8 * 64  # eval-mode affine batch norm: scale + shift per element
    assert params == 80 + 16  # running stats are buffers, not parameters
    assert model.training and model[1].training
