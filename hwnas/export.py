"""Export an evaluated architecture of a run, with its trained weights, to ONNX.

Also the one place that turns what a user types for an architecture of a run (an evaluation id
or an architecture string) into the run's canonical string: :func:`resolve_arch`, shared by
``hwnas export`` and ``hwnas compress --arch``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .evaluation import Evaluation, weights_name
from .exceptions import ConfigError, HwnasError
from .outputs import FRONT_CSV, WEIGHTS_DIR, Run, check_file_to_write, load_run

_ID = re.compile(r"[+-]?\d+")


def resolve_arch(run: Run, space: Any, text: str) -> str:
    """The canonical architecture string that ``text`` names in ``run``.

    Text of digits (optionally signed) is an evaluation id, since no space's architecture
    string is a bare number; anything else is parsed as an architecture of ``space``.

    Args:
        run: the run the id or architecture belongs to.
        space: the run's search space.
        text: an evaluation id (``"3"``) or an architecture string.

    Returns:
        The canonical architecture string (evaluated in the run or not).

    Raises:
        ConfigError: an id that no evaluation of the run has (naming the run's ids).
        SpaceError: text that is no architecture of the space.

    Example:
        >>> resolve_arch(load_run("runs/digits"), space, "3")   # doctest: +SKIP
        'w1:k3e4/k5e6/k3e4/k7e3'
    """
    text = text.strip()
    if _ID.fullmatch(text):
        by_id = {ev.id: ev for ev in run.evaluations}
        if int(text) in by_id:
            return by_id[int(text)].arch
        ids = f"ids {min(by_id)}-{max(by_id)}" if by_id else "no evaluations yet"
        raise ConfigError(f"no evaluation {text} in {run.path} ({ids}); "
                          f"give an id or an arch string from {FRONT_CSV}")
    return space.canonical(space.parse(text))


def export_run_arch(run_dir: str | Path, arch: str, output: str | Path, *,
                    untrained: bool = False) -> tuple[Evaluation | None, Path]:
    """Write ``output`` (ONNX) for an architecture of the run at the run target's batch size.

    Args:
        run_dir: the search's run directory.
        arch: canonical architecture string, or an evaluation id.
        output: ONNX file to write (not a directory; missing parent folders are created).
        untrained: allow an architecture that was not evaluated (random weights).

    Returns:
        The run's evaluation of the architecture (None if untrained) and the written path.

    Raises:
        HwnasError: unknown id, unparsable architecture, a table-backed run (no model),
            an output path that is a directory, or no stored weights.
    """
    import torch

    from .components import build_components
    from .cost import export_onnx

    out = check_file_to_write(output, "-o", "the ONNX file to write", "model.onnx")
    run = load_run(run_dir)
    parts = build_components(run.config, with_estimator=False)
    canonical = resolve_arch(run, parts.space, arch)
    if parts.task is None:
        raise ConfigError(f"{run.path} is a table-backed run (no [task]): it has no model to export, only rows "
                          f"of its metric table; export from a run searched on a [task]")
    if parts.target is None:
        raise ConfigError(f"{run.path} has no [cost] target, so no batch size, opset or dtype to export with; "
                          f"export from a run whose config names a [cost] target")
    ev = {e.arch: e for e in run.evaluations}.get(canonical)
    arch_obj = parts.space.parse(canonical)
    model = parts.space.build(arch_obj)
    weights = Path(run_dir) / WEIGHTS_DIR / weights_name(canonical)
    if weights.is_file():
        model.load_state_dict(torch.load(weights, weights_only=True, map_location="cpu"))
    elif not untrained:
        raise HwnasError(f"{canonical!r} has no trained weights in {run_dir} (not evaluated there, or failed); "
                         f"pick one from front.csv, or pass --untrained for random weights")
    out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(model, parts.task.input_shape, batch_size=parts.target.batch_size, opset=parts.target.opset,
                dtype=parts.target.dtype, path=out)
    return ev, out
