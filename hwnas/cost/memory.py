"""Peak inference memory of a torch module: weights plus the largest set of live activations.

The model, deliberately simple so it can be checked by hand:

* **Weights** are all parameters plus floating-point buffers (batch-norm statistics), at
  ``dtype_bytes`` per element. Integer buffers such as ``num_batches_tracked`` are not counted
  (they are not part of an exported inference graph).
* **Activations** are observed with forward hooks during one forward pass under ``no_grad``.
  When any module (leaf or not) finishes, the tensors live at that moment are taken to be:
  its inputs, its outputs, the model's input (the caller owns that buffer for the whole run),
  and the inputs of every enclosing module that is still running and has the attribute
  ``holds_input = True``. Set that flag on a residual block (``out = x + f(x)``): ``x`` stays
  allocated while ``f`` runs. A module that keeps more than its input alive (a cell's earlier
  nodes, a partial sum) defines ``held_tensors()`` instead, returning what it holds at the moment
  it is asked. Tensors sharing storage (views, in-place ops) count once, at the size of their
  storage.
* Peak = weights + the maximum activation total over all those moments.

Work done by functional calls outside any submodule (``torch.cat`` in a ``forward``) is only seen
through the enclosing module's inputs and outputs; where such a call can set the peak (its result
allocated while a cell's nodes are alive), make it a module, as NB201's node sums are. One MB here
is 2**20 bytes (a MiB).
"""

from __future__ import annotations

from typing import Any, Iterator

import torch

from ._model_state import eval_on_cpu

BYTES_PER_MB = 2**20


def peak_memory_mb(
    model: torch.nn.Module,
    input_shape: tuple[int, ...],
    *,
    batch_size: int = 1,
    dtype_bytes: int = 4,
) -> float:
    """Estimate peak memory of one inference (weights + largest live activation set).

    Args:
        model: the module; run once in eval mode on the CPU (mode and device are restored).
        input_shape: shape of one sample, without the batch dimension.
        batch_size: batch of the forward pass that is observed.
        dtype_bytes: bytes per element on the target (4 for float32, 2 for float16).

    Returns:
        Peak memory in MB, where 1 MB = 2**20 bytes.

    Example:
        >>> round(peak_memory_mb(torch.nn.Linear(4, 2), (4,)) * 2**20)  # (10 + 4 + 2) * 4
        64
    """
    weight_elements = sum(p.numel() for p in model.parameters())
    weight_elements += sum(b.numel() for b in model.buffers() if b.is_floating_point())

    held: list[Any] = []  # per holding module: its input tensors, or its held_tensors method
    peak_elements = 0

    def holds(module: torch.nn.Module) -> bool:
        return getattr(module, "holds_input", False) or hasattr(module, "held_tensors") or module is model

    def pre_hook(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        if holds(module):
            held.append(list(_tensors((args, kwargs))) if module is model or not hasattr(module, "held_tensors")
                        else module.held_tensors)

    def post_hook(module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        nonlocal peak_elements
        live = [t for group in held for t in (group() if callable(group) else group)]
        live += _tensors((args, kwargs, output))
        peak_elements = max(peak_elements, _unique_elements(live))
        if holds(module):
            held.pop()

    with eval_on_cpu(model), torch.no_grad():
        handles = []
        for module in model.modules():
            handles.append(module.register_forward_pre_hook(pre_hook, with_kwargs=True))
            handles.append(module.register_forward_hook(post_hook, with_kwargs=True))
        try:
            model(torch.zeros((batch_size, *input_shape)))
        finally:
            for handle in handles:
                handle.remove()
    return (weight_elements + peak_elements) * dtype_bytes / BYTES_PER_MB


def _tensors(obj: Any) -> Iterator[torch.Tensor]:
    """All tensors inside nested tuples, lists and dicts."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            yield from _tensors(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _tensors(item)


def _unique_elements(tensors: list[torch.Tensor]) -> int:
    """Elements of the distinct storages behind ``tensors`` (views and in-place results once)."""
    storages: dict[int, int] = {}
    for tensor in tensors:
        storage = tensor.untyped_storage()
        if storage.nbytes() == 0:
            continue
        storages[storage.data_ptr()] = storage.nbytes() // tensor.element_size()
    return sum(storages.values())
