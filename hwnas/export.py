"""Export an evaluated architecture of a run, with its trained weights, to ONNX."""

from __future__ import annotations

from pathlib import Path

from .evaluation import Evaluation, weights_name
from .exceptions import HwnasError
from .outputs import WEIGHTS_DIR, load_run


def export_run_arch(run_dir: str | Path, arch: str, output: str | Path, *,
                    untrained: bool = False) -> tuple[Evaluation | None, Path]:
    """Write ``output`` (ONNX) for an architecture of the run at the run target's batch size.

    Args:
        run_dir: the search's run directory.
        arch: canonical architecture string, or an evaluation id.
        output: ONNX file to write.
        untrained: allow an architecture that was not evaluated (random weights).

    Returns:
        The run's evaluation of the architecture (None if untrained) and the written path.

    Raises:
        HwnasError: unknown id, unparsable architecture, or no stored weights.
    """
    import torch

    from .components import build_components
    from .cost import export_onnx

    run = load_run(run_dir)
    parts = build_components(run.config, with_estimator=False)
    by_id = {str(ev.id): ev for ev in run.evaluations}
    by_arch = {ev.arch: ev for ev in run.evaluations}
    if arch in by_id:
        arch = by_id[arch].arch
    arch_obj = parts.space.parse(arch)
    canonical = parts.space.canonical(arch_obj)
    ev = by_arch.get(canonical)
    model = parts.space.build(arch_obj)
    weights = Path(run_dir) / WEIGHTS_DIR / weights_name(canonical)
    if weights.is_file():
        model.load_state_dict(torch.load(weights, weights_only=True, map_location="cpu"))
    elif not untrained:
        raise HwnasError(f"{canonical!r} has no trained weights in {run_dir} (not evaluated there, or failed); "
                         f"pick one from front.csv, or pass --untrained for random weights")
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(model, parts.task.input_shape, batch_size=parts.target.batch_size, opset=parts.target.opset,
                dtype=parts.target.dtype, path=out)
    return ev, out
