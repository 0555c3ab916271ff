"""Latency of ONNX models with ONNX Runtime on a :class:`~hwnas.cost.target.Target`.

Timing follows the project's measurement rules: warm-up first, then several passes; in each pass
every model runs ``runs_per_pass`` times back to back, models taking turns in an order that
rotates from pass to pass. Each run is timed with ``time.perf_counter``. A model's latency is the
minimum over passes of its per-pass median, and its spread is the range of those medians.

Why: on shared machines the speed level drifts and persists for seconds (pass-to-pass CV of
8-11 % was seen on the development machine). Interleaving exposes all models of a batch to the
same drift, so their ratios are more stable than their absolute values, and the minimum of medians
picks the least-disturbed pass while the median inside a pass ignores single outliers.
"""

from __future__ import annotations

import difflib
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..exceptions import HwnasError, TargetError
from .device import usable_cores
from .errors import CostMeasurementError
from .target import Target, targets_dir

if TYPE_CHECKING:
    import onnxruntime as ort

_OPT_LEVELS = {
    "all": "ORT_ENABLE_ALL",
    "extended": "ORT_ENABLE_EXTENDED",
    "basic": "ORT_ENABLE_BASIC",
    "disabled": "ORT_DISABLE_ALL",
}

# Providers that the onnxruntime-gpu package brings.
_GPU_PACKAGE_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")
# Providers that run no kernel of their own here: a session on one times the CPU while the
# target would be recorded as something else.
_NOT_TIMED = {"AzureExecutionProvider": "it calls a remote endpoint; local nodes run on the CPU"}


@dataclass(frozen=True)
class LatencyMeasurement:
    """Latency of one model on one target.

    Attributes:
        latency_ms: minimum over passes of the per-pass median run time, in milliseconds.
        spread_pct: ``100 * (max - min) / min`` of the per-pass medians (>= 0).
        pass_medians_ms: the per-pass medians, in pass order.
    """

    latency_ms: float
    spread_pct: float
    pass_medians_ms: tuple[float, ...]


def _own_file(target: Target) -> str:
    """The file to edit when ``target`` came from the user's own TOML file; empty for a target
    built in code or a bundled one, whose name already says which file it is (a copy of a bundled
    file often keeps the bundled ``name``, so the name alone would point at the wrong file)."""
    if not target.source:
        return ""
    bundled = targets_dir() / f"{target.name}.toml"
    return "" if bundled.is_file() and Path(target.source).resolve() == bundled.resolve() else target.source


def require_provider(target: Target) -> None:
    """Refuse, before any work, a target this machine cannot time: an execution provider this
    onnxruntime lacks (or a misspelt one), or more threads than the cores this process may use.

    Raises:
        TargetError: naming the provider or the thread setting, what is available and the fix.
    """
    import onnxruntime as ort

    provider = target.execution_provider
    available = ort.get_available_providers()
    own = _own_file(target)
    if provider in _NOT_TIMED:
        fix = (f"set execution_provider = \"CPUExecutionProvider\" in {own}, or use targets/cpu-ort-1t.toml" if own
               else "use CPUExecutionProvider, e.g. targets/cpu-ort-1t.toml")
        raise TargetError(f"target {target.name}: execution provider {provider!r} cannot be timed here "
                          f"({_NOT_TIMED[provider]}); {fix}")
    if provider not in available:
        problem = (f"target {target.name}: execution provider {provider!r} is not available in "
                   f"onnxruntime {ort.__version__} here (available: {', '.join(available)})")
        known = ort.get_all_providers()
        if provider not in known:
            # Compare the part before "ExecutionProvider", which every name shares.
            stems = {k.lower().removesuffix("executionprovider"): k for k in known}
            close = difflib.get_close_matches(provider.lower().removesuffix("executionprovider"), stems, n=1)
            hint = f"did you mean {stems[close[0]]!r}? " if close else ""
            raise TargetError(f"{problem}; no ONNX Runtime provider has that name: {hint}"
                              f"fix execution_provider (known providers: {', '.join(known)})"
                              + (f" in {own}" if own else ""))
        install = ("install onnxruntime-gpu" if provider in _GPU_PACKAGE_PROVIDERS
                   else "install an onnxruntime build that includes it")
        edit = f"set execution_provider in {own} to an available one, " if own else ""
        raise TargetError(f"{problem}; {edit}use targets/cpu-ort-1t.toml or {install}")
    cores = usable_cores()
    for key in ("intra_op_threads", "inter_op_threads"):
        threads = getattr(target, key)
        if threads > cores:
            where = f"target {target.name}" + (f" ({target.source})" if target.source else "")
            raise TargetError(
                f"{where}: {key} = {threads} is more than the {cores} CPU core(s) this process may use; "
                f"ONNX Runtime's threads would compete for them (or take forever to start) and the timing "
                f"would mean nothing; set {key} to at most {cores}"
            )


def make_session(onnx_bytes: bytes, target: Target, *, profile_prefix: str | None = None) -> "ort.InferenceSession":
    """Create an ONNX Runtime session configured as ``target`` says.

    Args:
        onnx_bytes: a serialised ONNX model.
        target: threads, graph optimisation level and execution provider to use.
        profile_prefix: if given, ONNX Runtime's profiler is on and writes its JSON trace to a
            file starting with this path (see ``session.end_profiling()``).

    Returns:
        A session that runs on ``target.execution_provider`` only, in sequential mode (parallel
        mode, across ``inter_op_threads`` threads, when that is more than 1).

    Raises:
        TargetError: if the provider is not available in this onnxruntime build, the target asks
            for more threads than this machine's cores, or the session silently fell back to
            another provider.

    Example:
        >>> session = make_session(export_onnx(torch.nn.Linear(4, 2), (4,)), load_target("cpu-ort-1t"))
    """
    import onnxruntime as ort  # a core dependency, imported late to keep `import hwnas` light
    require_provider(target)
    provider = target.execution_provider
    options = ort.SessionOptions()
    options.intra_op_num_threads = target.intra_op_threads
    options.inter_op_num_threads = target.inter_op_threads
    # inter_op_num_threads only applies in parallel mode: a target asking for more than one
    # inter-op thread gets it, otherwise operators run one after the other.
    options.execution_mode = (ort.ExecutionMode.ORT_PARALLEL if target.inter_op_threads > 1
                              else ort.ExecutionMode.ORT_SEQUENTIAL)
    level = _OPT_LEVELS[target.graph_optimization]
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    options.log_severity_level = 3  # errors only; provider fallbacks are checked below instead
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    session = ort.InferenceSession(onnx_bytes, sess_options=options, providers=[provider])
    used = session.get_providers()
    # ORT falls back to CPU when e.g. CUDA libraries fail to load; never time the wrong device.
    if not used or used[0] != provider:
        raise TargetError(
            f"target {target.name}: onnxruntime {ort.__version__} created the session on "
            f"{', '.join(used) or 'nothing'} instead of {provider!r}; check the provider's "
            "libraries (e.g. CUDA/cuDNN versions) or use targets/cpu-ort-1t.toml"
        )
    return session


def measure_latency(
    onnx_models: Sequence[bytes],
    target: Target,
    input_shape: tuple[int, ...] | Sequence[tuple[int, ...]],
    batch_sizes: Sequence[int] | None = None,
) -> list[LatencyMeasurement]:
    """Time several ONNX models together, interleaved, on ``target``.

    Args:
        onnx_models: serialised ONNX models, each with one input of shape
            ``(target.batch_size, *input_shape)`` and dtype ``target.dtype``.
        target: session settings, warm-up runs, passes and runs per pass.
        input_shape: shape of one sample, without the batch dimension; or one such shape per
            model (a list of tuples), for models with different inputs such as table layers.
        batch_sizes: the batch each model was exported with, one per model, to compare batch
            sizes in one interleaved measurement (default: ``target.batch_size`` for all).

    Returns:
        One :class:`LatencyMeasurement` per model, in the order given.

    Raises:
        TargetError: if the target's provider cannot be used here.
        CostMeasurementError: if a model fails to run, e.g. it was exported for another
            input shape.

    Example:
        >>> target = load_target("cpu-ort-1t")
        >>> small, big = (export_onnx(m, (3, 32, 32)) for m in (small_net, big_net))
        >>> fast, slow = measure_latency([small, big], target, (3, 32, 32))
        >>> fast.latency_ms < slow.latency_ms
        True
    """
    if not onnx_models:
        return []
    sessions = []
    for number, model in enumerate(onnx_models, 1):
        try:
            sessions.append(make_session(model, target))
        except HwnasError:
            raise
        except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CostMeasurementError(f"ONNX model {number} of {len(onnx_models)} cannot be loaded on target "
                                       f"{target.name}: {reason}; export it again with the target's opset "
                                       f"({target.opset}) and dtype ({target.dtype})") from exc
    shapes = (list(input_shape) if input_shape and not isinstance(input_shape[0], int)
              else [input_shape] * len(onnx_models))
    if len(shapes) != len(onnx_models):
        raise ValueError(f"{len(onnx_models)} models but {len(shapes)} input shapes")
    batches = list(batch_sizes) if batch_sizes is not None else [target.batch_size] * len(onnx_models)
    if len(batches) != len(onnx_models):
        raise ValueError(f"{len(onnx_models)} models but {len(batches)} batch sizes")
    rng = np.random.default_rng(0)
    shapes = [(batch, *shape) for batch, shape in zip(batches, shapes)]
    samples = {shape: rng.standard_normal(shape).astype(target.dtype) for shape in dict.fromkeys(shapes)}
    feeds = [{session.get_inputs()[0].name: samples[shape]} for session, shape in zip(sessions, shapes)]

    count = len(sessions)
    medians_ms: list[list[float]] = [[] for _ in range(count)]
    clock = time.perf_counter
    index = 0
    try:
        for index in range(count):
            for _ in range(target.warmup_runs):
                sessions[index].run(None, feeds[index])
        for pass_index in range(target.passes):
            for offset in range(count):
                index = (pass_index + offset) % count
                run, feed = sessions[index].run, feeds[index]
                times_s = []
                for _ in range(target.runs_per_pass):
                    start = clock()
                    run(None, feed)
                    times_s.append(clock() - start)
                medians_ms[index].append(statistics.median(times_s) * 1e3)
    except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CostMeasurementError(
            f"ONNX model {index + 1} of {count} failed to run on target {target.name} with an input "
            f"of shape {shapes[index]} and dtype {target.dtype}: {reason}; export it with batch "
            f"{shapes[index][0]}, the target's dtype and this input_shape"
        ) from exc

    results = []
    for medians in medians_ms:
        low = min(medians)
        results.append(
            LatencyMeasurement(
                latency_ms=low,
                spread_pct=100.0 * (max(medians) - low) / low,
                pass_medians_ms=tuple(medians),
            )
        )
    return results
