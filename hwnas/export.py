"""Export an evaluated architecture of a run, with its trained weights, to ONNX."""

from __future__ import annotations

from pathlib import Path

from .evaluation import Evaluation, not_usable, weights_name
from .exceptions import OUTPUT, UNTRAINED, ConfigError, HwnasError
from .outputs import WEIGHTS_DIR, check_file_to_write, load_run


def untrained(config) -> str | None:
    """Why no architecture of a run with ``config`` has weights, when its estimator does not
    train (zero-cost proxies, a table); else None. Export, compress and pick ask this one rule."""
    from .estimate import ESTIMATORS

    name = config.estimator.get("name")
    if name in ESTIMATORS and not ESTIMATORS.get(name).trains:
        return f"its estimator {name!r} does not train, so the run saved no weights"
    return None


def missing_weights(run, ev: Evaluation | None, weights: Path) -> tuple[str, str]:
    """Why an architecture of ``run`` has no ``weights`` file, and the fix: (why, fix).

    Shared by ``hwnas export`` and ``hwnas compress``: not evaluated, evaluated without success,
    an estimator that does not train, or a file moved or deleted since.
    """
    if ev is None:
        return "not evaluated there", "pick one from front.csv"
    if not ev.ok:
        return not_usable(ev), "pick one from front.csv"
    if why := untrained(run.config):  # evaluated, and no weights to save
        return why, "search with a training estimator (e.g. proxy-trainer)"
    return f"{weights} is missing: moved or deleted", "restore it from where the run was searched"


#: ONNX metadata key holding :attr:`hwnas.data.Task.preprocessing` as JSON
PREPROCESSING_KEY = "hwnas.preprocessing"


def trained_module(space, arch: str, weights: Path):
    """``arch`` built by ``space`` with the run's trained weights from ``weights``.

    Weights saved with parameters the built network no longer has are read without them when they
    are exactly those of the network built with its dead edges: a run trained before NB201's dead
    edges stopped being built (:meth:`NB201Space.build`) saved those edges' unused convolutions.
    Any other mismatch is an error.
    """
    import torch

    state = torch.load(weights, weights_only=True, map_location="cpu")
    model = space.build(space.parse(arch))
    missing, unexpected = model.load_state_dict(state, strict=False)
    why = f"it lacks {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}" if missing else None
    if unexpected and not missing:
        try:  # the same cell as built before its dead edges were dropped must take the file whole
            space.build(space.parse(arch), with_dead_edges=True).load_state_dict(state)
        except (TypeError, RuntimeError):  # a space without such a build, or another network's weights
            why = f"it holds {', '.join(unexpected[:3])}{', ...' if len(unexpected) > 3 else ''}, which the network has not"
    if why:
        raise HwnasError(f"{weights} does not hold the weights of {arch!r} ({why}): the search did not write it for "
                         f"this architecture; search again into a new --out to train it")
    return model


def with_preprocessing(onnx_bytes: bytes, preprocessing: dict | None) -> bytes:
    """``onnx_bytes`` with the task's input and target scaling in its metadata (:data:`PREPROCESSING_KEY`).

    The network was trained on scaled and standardised inputs (and, for regression, standardised
    targets); without these numbers its inputs and outputs cannot be related to the user's data.
    """
    if not preprocessing:
        return onnx_bytes
    import json

    import onnx

    proto = onnx.load_from_string(onnx_bytes)
    entry = proto.metadata_props.add()
    entry.key, entry.value = PREPROCESSING_KEY, json.dumps(preprocessing)
    return proto.SerializeToString()


def how_to_feed(path: str | Path) -> list[str]:
    """What a user must know to run an exported file: how its input (and output) relate to the
    data (:data:`PREPROCESSING_KEY`, see :func:`preprocessing_summary`) and its input shape, whose
    batch is fixed at the run's target batch size (more samples at once fail in ONNX Runtime)."""
    import json

    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    meta = {p.key: p.value for p in proto.metadata_props}
    summary = preprocessing_summary(json.loads(meta[PREPROCESSING_KEY]) if PREPROCESSING_KEY in meta else None)
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    # a float16 target's file takes float16 input: float32 arrays fail in ONNX Runtime
    dtype = onnx.helper.tensor_dtype_to_np_dtype(proto.graph.input[0].type.tensor_type.elem_type).name
    cast = "" if dtype == "float32" else f"; its elements are {dtype} (the run's target dtype): cast the input to {dtype}"
    return [*([summary] if summary else []),
            f"input shape: {tuple(dims)}, batch fixed at {dims[0]} (the run's target batch_size): feed "
            f"{dims[0]} sample(s) per run{cast}"]


def preprocessing_summary(preprocessing: dict | None) -> str | None:
    """One line saying what the exported network's input and output are, or None if they are the data's own."""
    if not preprocessing:
        return None
    steps = []
    if preprocessing.get("pixel_max"):
        steps.append(f"x / {preprocessing['pixel_max']:g}")
    if preprocessing.get("resize"):
        method = f" ({preprocessing['resize_method']})" if preprocessing.get("resize_method") else ""
        steps.append(f"resized to {preprocessing['resize']}x{preprocessing['resize']}{method}")
    if preprocessing.get("x_mean") is not None:
        steps.append("(x - x_mean) / x_std")
    parts = [f"input: {', then '.join(steps)}"] if steps else []
    if preprocessing.get("y_mean") is not None:
        parts.append("output: standardised targets, y = output * y_std + y_mean")
    if not parts:
        return None
    figures = "the training split's figures, " if any(preprocessing.get(k) is not None for k in ("x_mean", "y_mean")) else ""
    return f"{'; '.join(parts)} ({figures}in the file's metadata_props {PREPROCESSING_KEY!r} as JSON)"


def export_run_arch(run_dir: str | Path, arch: str | int, output: str | Path, *,
                    untrained: bool = False) -> tuple[Evaluation | None, Path]:
    """Write ``output`` (ONNX) for an architecture of the run at the run target's batch size.

    Args:
        run_dir: the search's run directory.
        arch: canonical architecture string, or an evaluation id (``ev.id``).
        output: ONNX file to write (not a directory; missing parent folders are created).
        untrained: allow an architecture that was not evaluated (random weights).

    Returns:
        The run's evaluation of the architecture (None if untrained) and the written path.

    Raises:
        HwnasError: unknown id, unparsable architecture, a table-backed run (no model),
            an output path that is a directory, or no stored weights.
    """
    from .components import build_space
    from .cost import export_onnx, load_target

    out = check_file_to_write(output, OUTPUT, "the ONNX file to write", "model.onnx")
    run = load_run(run_dir)
    config = run.config
    if not config.task:  # before the task: a table run's table may have moved, which is not the reason
        space = build_space(config, None)
        canonical = run.resolve_arch(space, arch)
        # say what the run does give (the architecture and its table numbers) and how to get a model
        raise ConfigError(f"{run.path} is a table-backed run (no [task]): it has no model to export, {UNTRAINED} "
                          f"or not (no input size, no weights); what it gives is the architecture {canonical!r} "
                          f"and its table row in evaluations.csv; for an ONNX file, search the "
                          f"{space.name} space in a config with a [task] and a [cost] target "
                          f"(e.g. examples/digits_nb201_darts.toml)")
    # no cost model is built: a lut run's table may have changed or gone since, and export reads none
    task = run.task()
    with run.plugins_named():
        space = build_space(config, task)
    canonical = run.resolve_arch(space, arch)
    # the settings the run measured with, not the target file's today (it may have been edited since)
    target = run.target if run.target is not None else (
        load_target(config.cost["target"]).describe() if "target" in config.cost else None)
    if target is None:
        raise ConfigError(f"{run.path} has no [cost] target, so no batch size, opset or dtype to export with; "
                          f"export from a run whose config names a [cost] target")
    ev = {e.arch: e for e in run.evaluations}.get(canonical)
    weights = Path(run_dir) / WEIGHTS_DIR / weights_name(canonical)
    if weights.is_file():
        model = trained_module(space, canonical, weights)
    elif untrained:
        model = space.build(space.parse(canonical))
    else:
        why, fix = missing_weights(run, ev, weights)
        raise HwnasError(f"{canonical!r} has no trained weights in {run_dir} ({why}); "
                         f"{fix}, or pass {UNTRAINED} for random weights")
    onnx_bytes = export_onnx(model, task.input_shape, **{key: target[key] for key in ("batch_size", "opset", "dtype")})
    onnx_bytes = with_preprocessing(onnx_bytes, task.preprocessing)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(onnx_bytes)
    except OSError as exc:
        raise ConfigError(f"{OUTPUT} {out}: cannot write it ({exc.strerror or exc}); choose another path") from None
    return ev, out
