"""What a table build measures: ONNX export of layers and networks, timing of networks in
anchored sessions, and each layer's memory.

Networks are timed in sessions of a search's size (:data:`CHUNK`), each with anchor networks
that put every session on the level of the layers' session (:func:`measure_in_chunks`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np

from ..cost.latency import measure_latency
from ..cost.onnx_export import export_onnx
from ..cost.target import Target

#: Networks timed together in one session of a build, and how many of them are anchors, timed
#: in every session to put all sessions on one level.
CHUNK, ANCHORS = 100, 10


def export_model(model, shape, target: Target, batch_size: int | None = None) -> bytes:
    """ONNX bytes of ``model`` at input ``shape`` with the target's opset, dtype and (unless given) batch size."""
    return export_onnx(model, tuple(shape), batch_size=batch_size or target.batch_size,
                       opset=target.opset, dtype=target.dtype)


def _export_job(job: tuple) -> bytes:
    space, target, kind, item = job
    if kind == "layer":
        return export_model(space.build_layer(item), item.input_shape, target)
    return export_model(space.build(space.parse(item)), space.input_shape, target)


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def export_models(space, target: Target, signatures: Sequence[Any], archs: Sequence[str],
                  workers: int = 1) -> list[bytes]:
    """ONNX bytes of every layer signature alone, then of every whole network, in that order.

    Exporting is most of a table build's time and needs no quiet machine (timing comes after),
    so with ``workers > 1`` it runs in that many spawned processes, one torch thread each.
    """
    jobs = [(space, target, "layer", s) for s in signatures] + [(space, target, "net", a) for a in archs]
    if workers <= 1:
        return [_export_job(job) for job in jobs]
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_one_thread) as pool:
        return list(pool.map(_export_job, jobs, chunksize=8))


def measure_in_chunks(models: Sequence[bytes], anchors: Sequence[int], anchor_times: Sequence[Any], timing: Target,
                      input_shape: Sequence[int], log: Callable[[str], None] | None = None
                      ) -> tuple[list[Any], list[float]]:
    """Time networks in sessions of :data:`CHUNK`, each with the anchors, on the anchors' level.

    Inside a session of a thousand models, wide networks read about 1 % faster, relative to
    the rest, than in a session of a hundred, as a search times them; so the networks a
    calibration is fitted on are timed in sessions of a search's size. Each session also times
    the ``anchors`` (indices into ``models``), and its times are divided by the median ratio of
    its anchor times to ``anchor_times`` (their measurements in the layers' session), so drift
    between sessions does not reach the calibration.

    Returns:
        One :class:`~hwnas.cost.latency.LatencyMeasurement` per model (anchors: ``anchor_times``),
        and each session's level (the factor it was divided by).
    """
    reference = np.array([m.latency_ms for m in anchor_times])
    out: list[Any] = [None] * len(models)
    for i, m in zip(anchors, anchor_times):
        out[i] = m
    rest = sorted(set(range(len(models))) - set(anchors))
    levels = []
    for start in range(0, len(rest), CHUNK):
        chunk = rest[start:start + CHUNK]
        times = measure_latency([models[i] for i in anchors] + [models[i] for i in chunk], timing, input_shape)
        level = float(np.median(np.array([m.latency_ms for m in times[:len(anchors)]]) / reference)) if anchors else 1.0
        levels.append(level)
        for i, m in zip(chunk, times[len(anchors):]):
            out[i] = dataclasses.replace(m, latency_ms=m.latency_ms / level,
                                         pass_medians_ms=tuple(v / level for v in m.pass_medians_ms))
        if log is not None:
            log(f"profile: networks {start + len(chunk)}/{len(rest)} timed")
    return out, levels


def layer_memory(layer, input_shape: Sequence[int]) -> dict[str, int]:
    """What a layer keeps in memory while it runs: its ``weights`` (parameters) and its
    ``activations`` (its input plus the largest tensor one of its modules writes), as counts of
    numbers for a batch of one."""
    import torch

    largest = [0]

    def note(module, inputs, output):
        if isinstance(output, torch.Tensor):
            largest[0] = max(largest[0], output.numel())

    hooks = [m.register_forward_hook(note) for m in layer.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            layer.eval()(torch.zeros(1, *input_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return {"weights": sum(p.numel() for p in layer.parameters()),
            "activations": int(np.prod(input_shape)) + largest[0]}
