"""Put a (possibly training) module into inference state for a measurement and back again.

Cost models get the very module the estimator trains, so they must not copy it (it may be
large) nor leave it changed: every submodule's train/eval flag and the device are restored.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch


def module_device(model: torch.nn.Module) -> torch.device:
    """Device of the first parameter or buffer; CPU for a module without tensors."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


def module_dtype(model: torch.nn.Module) -> torch.dtype:
    """Dtype of the first floating-point parameter or buffer; float32 when there is none."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


@contextmanager
def eval_on_cpu(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Temporarily put ``model`` in eval mode on the CPU, in place.

    Args:
        model: any module, in train or eval mode, on any device.

    Yields:
        The same module object, in eval mode and on the CPU. On exit each submodule's
        ``training`` flag and the original device are restored (parameters are moved in place,
        so optimiser references stay valid).
    """
    modes = [(module, module.training) for module in model.modules()]
    device = module_device(model)
    moved = device.type != "cpu"
    if moved:
        model.to("cpu")
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training
        if moved:
            model.to(device)
