"""MACs and parameter counts of a torch module, via fvcore.

fvcore counts one per multiply-accumulate (a ``Conv2d`` 1->8, 3x3, on 8x8 with padding 1 is
8*9*64 = 4608) and does not count bias additions, so its totals are called MACs here. It also
counts two per element for an affine batch norm in eval mode (scale and shift), one per input
element for the pooling ops it knows, and nothing for elementwise activations.
"""

from __future__ import annotations

import logging
import warnings

import torch

from ._model_state import eval_on_cpu


def count_macs_params(model: torch.nn.Module, input_shape: tuple[int, ...]) -> tuple[int, int]:
    """Count multiply-accumulates of one forward pass at batch 1, and parameters.

    The model is traced in eval mode on the CPU (its mode and device are restored). fvcore's
    warnings about ops it cannot count or modules never called are silenced: those ops count 0.

    Args:
        model: the module to count.
        input_shape: shape of one sample, without the batch dimension.

    Returns:
        ``(macs, params)``; ``params`` is the total number of parameter elements (buffers such as
        batch-norm running statistics are not parameters).

    Example:
        >>> count_macs_params(torch.nn.Linear(4, 2), (4,))
        (8, 10)
    """
    params = sum(p.numel() for p in model.parameters())
    with eval_on_cpu(model), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Imported here: fvcore is only needed for counting, and its import warns (torch.jit.script).
        from fvcore.nn import FlopCountAnalysis

        analysis = FlopCountAnalysis(model, torch.zeros((1, *input_shape)))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        analysis.tracer_warnings("none")
        fvcore_logger = logging.getLogger("fvcore")
        level = fvcore_logger.level
        fvcore_logger.setLevel(logging.ERROR)
        try:
            macs = int(analysis.total())
        finally:
            fvcore_logger.setLevel(level)
    return macs, int(params)
