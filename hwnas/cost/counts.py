"""MACs and parameter counts of a torch module, via fvcore.

fvcore counts one per multiply-accumulate (a ``Conv2d`` 1->8, 3x3, on 8x8 with padding 1 is
8*9*64 = 4608) and does not count bias additions, so its totals are called MACs here. Batch norm
is not counted: at inference it folds into the preceding convolution (ONNX Runtime does), where
fvcore would count two per element (5-8 % of an mbv3 network). Adaptive pooling counts one per
input element; elementwise activations, additions and the other pooling ops count nothing
(:data:`FREE_OPS`). Any other op fvcore cannot count adds nothing too, and is warned about.
"""

from __future__ import annotations

import logging
import warnings

import torch

from ._model_state import eval_on_cpu

#: Ops fvcore does not count that cost nothing or next to nothing beside the convolutions and
#: matrix products (elementwise arithmetic and activations, pooling, reductions; in-place ``_``
#: variants too); any other op it cannot count (attention, an FFT) is warned about, as its MACs
#: are missing from the total.
FREE_OPS = frozenset(f"aten::{op}" for op in (
    "add", "sub", "rsub", "mul", "div", "neg", "abs", "exp", "log", "pow", "sqrt", "rsqrt", "square",
    "sigmoid", "hardsigmoid", "tanh", "hardtanh", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu",
    "mish", "softplus", "hardswish", "softmax", "log_softmax", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "max_pool1d", "max_pool2d", "max_pool3d", "adaptive_max_pool2d", "mean", "sum", "clone", "fill",
    "zero", "where", "minimum", "maximum", "lt", "le", "ne",
))


def count_macs_params(model: torch.nn.Module, input_shape: tuple[int, ...]) -> tuple[int, int]:
    """Count multiply-accumulates of one forward pass at batch 1, and parameters.

    The model is traced in eval mode on the CPU (its mode and device are restored). Batch norm
    counts 0 (it folds into the convolution at inference). An op fvcore cannot count and that is
    not in :data:`FREE_OPS` counts 0 with one warning per op name.

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
        # folded into the conv at inference; a zero handle, since fvcore's None keeps its own handle
        analysis.set_op_handle("aten::batch_norm", lambda inputs, outputs: 0)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        analysis.tracer_warnings("none")
        fvcore_logger = logging.getLogger("fvcore")
        level = fvcore_logger.level
        fvcore_logger.setLevel(logging.ERROR)
        try:
            macs = int(analysis.total())
            uncounted = sorted({op for op in analysis.unsupported_ops() if op.rstrip("_") not in FREE_OPS})
        finally:
            fvcore_logger.setLevel(level)
    for op in uncounted:  # outside catch_warnings, which would swallow it
        warnings.warn(f"MACs of {op} ({type(model).__name__}) are not counted (fvcore cannot count them), so "
                      f"'macs' is too low by that op's share; rank such networks by measured latency instead",
                      stacklevel=2)
    return macs, int(params)
