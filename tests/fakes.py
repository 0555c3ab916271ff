"""Deterministic fakes for the estimator and cost-model roles (the one home for fakes).

Importing this module registers ``fake-accuracy`` (an estimator) and ``fake-latency`` (a cost
model) so configs in tests can name them. Values depend only on the architecture string and
the module's parameter count, so searches with them are exactly reproducible and fast.
"""

from __future__ import annotations

import zlib

import torch

#: A fast search config: the mlp space on digits, scored by the fakes (a CLI test's run).
MLP_CONFIG = """
[task]
dataset = "digits"
[space]
name = "mlp"
max_layers = 2
[estimator]
name = "fake-accuracy"
[cost]
target = "cpu-ort-1t"
models = ["counts", "memory", "fake-latency"]
[search]
objectives = ["error", "latency_ms"]
evaluations = 24
population = 8
"""

from hwnas.cost import COST_MODELS, CostModel
from hwnas.estimate import ESTIMATORS, AccuracyEstimator


def _jitter(arch: str) -> float:
    """A stable pseudo-random number in [0, 1) from the architecture string."""
    return (zlib.crc32(arch.encode()) % 10007) / 10007


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@ESTIMATORS.register("fake-accuracy")
class FakeAccuracy(AccuracyEstimator):
    """Bigger models are more accurate, with a stable per-architecture jitter.

    It "trains" by adding 0.01 to every parameter in place, so saved weights differ from a
    freshly built module (what ``hwnas export`` must not hand out instead).

    Options that inject trouble for architectures containing a substring:
        fail_substring: the estimator raises (a failing candidate).
        sleep_substring, sleep_s: the evaluation takes ``sleep_s`` longer (a timeout).
        crash_substring: the process dies (``os._exit``) as a killed worker would; with
            ``crash_once_dir`` only the first time per architecture (a marker file remembers).
        kill_worker_at_start_dir: the first worker process (local or Ray) to build it is killed
            (SIGKILL) there, before it is ready (marker files in this folder remember the search
            process, which builds it first, and the kill).
    """

    trains = True

    def __init__(self, task, fail_substring: str = "", sleep_substring: str = "", sleep_s: float = 0.0,
                 crash_substring: str = "", crash_once_dir: str = "", kill_worker_at_start_dir: str = "",
                 **_ignored) -> None:
        import os
        import signal
        from pathlib import Path

        if kill_worker_at_start_dir:  # the search process builds it first, then its workers (local or Ray)
            search_pid, marker = Path(kill_worker_at_start_dir, "search.pid"), Path(kill_worker_at_start_dir, "worker.killed")
            if not search_pid.exists():
                search_pid.write_text(str(os.getpid()))
            elif search_pid.read_text() != str(os.getpid()) and not marker.exists():
                marker.write_text("killed")
                os.kill(os.getpid(), signal.SIGKILL)
        self.fail_substring = fail_substring
        self.sleep_substring, self.sleep_s = sleep_substring, sleep_s
        self.crash_substring, self.crash_once_dir = crash_substring, crash_once_dir
        self.calls = 0

    def estimate(self, arch, model, recipe=None):
        import os
        import time
        from pathlib import Path

        self.calls += 1
        if self.fail_substring and self.fail_substring in arch:
            raise RuntimeError(f"injected failure for {arch}")
        if self.sleep_substring and self.sleep_substring in arch:
            time.sleep(self.sleep_s)
        if self.crash_substring and self.crash_substring in arch:
            marker = Path(self.crash_once_dir, f"{zlib.crc32(arch.encode())}.crashed") if self.crash_once_dir else None
            if marker is None or not marker.exists():
                if marker is not None:
                    marker.write_text(arch)
                os._exit(17)
        error = 60.0 / (1.0 + _params(model) / 5e3) + 5.0 * _jitter(arch)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.01)
        return {"error_pct": error, "accuracy_pct": 100.0 - error, "train_s": 0.0, "epochs": 0.0}


@COST_MODELS.register("fake-latency")
class FakeLatency(CostModel):
    """Latency proportional to parameters plus a stable jitter; no runtime involved."""

    name = "fake-latency"
    provides = ("latency_ms", "latency_spread_pct")

    def measure(self, arch, model):
        return {"latency_ms": 0.01 + _params(model) / 1e6 * (1.0 + 0.2 * _jitter(arch)),
                "latency_spread_pct": 0.0}


def table_search_argv(table, out, evaluations: int) -> list[str]:
    """``hwnas search`` argv for a quiet table-backed NB201 search on :func:`write_nb201_table`'s
    ``acc`` and ``lat`` columns."""
    return ["search", "--space", "nb201", "--table", str(table), "--arch-column", "arch_str", "--accuracy-column",
            "acc", "--cost", "latency_ms=lat", "--evaluations", str(evaluations), "--no-progress", "--out", str(out)]


def write_nb201_table(path, *, blank_every: int = 7, drop_every: int = 0) -> list[str]:
    """A synthetic NB201-style metric table of every cell (deterministic, fast to write).

    Columns: ``arch_str``, ``acc`` (%), ``lat`` (ms), ``energy`` (mJ). Every ``blank_every``-th
    row has a blank ``lat``; every ``drop_every``-th architecture has no row at all.

    Returns:
        The architecture strings written, in row order.
    """
    import csv
    import itertools

    from hwnas.space.nb201 import OPS, NB201Space, is_connected

    space = NB201Space()
    weight = {"none": 0.0, "skip_connect": 0.2, "nor_conv_1x1": 0.5, "nor_conv_3x3": 1.0, "avg_pool_3x3": 0.3}
    archs = []
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["idx", "arch_str", "acc", "lat", "energy"])
        for i, ops in enumerate(itertools.product(OPS, repeat=6)):
            if drop_every and i % drop_every == 0:
                continue
            arch = space.canonical(ops)
            size = sum(weight[o] for o in ops)
            acc = 10.0 if not is_connected(ops) else 60.0 + 5.0 * size + 3.0 * _jitter(arch)
            lat = 1.0 + size * (1.0 + 0.1 * _jitter(arch + "l"))
            w.writerow([i, arch, f"{acc:.4f}", "" if blank_every and i % blank_every == 3 else f"{lat:.4f}",
                        f"{2 * lat:.4f}"])
            archs.append(arch)
    return archs


def interrupt_at(monkeypatch, call: int) -> None:
    """Make the ``call``-th evaluation from now raise KeyboardInterrupt (Ctrl-C mid-search).

    ``monkeypatch.undo()`` restores normal evaluation (for the resumed run).
    """
    from hwnas.evaluation import Evaluator

    real, calls = Evaluator.evaluate, {"n": 0}

    def interrupted(self, genome):
        calls["n"] += 1
        if calls["n"] == call:
            raise KeyboardInterrupt
        return real(self, genome)

    monkeypatch.setattr(Evaluator, "evaluate", interrupted)


def hand_table(space, target, coef=(0.5, -0.001, 0.01)):
    """Entry i (in key order) is 0.01 * (i + 1) ms; linear calibration ``coef``."""
    import onnxruntime

    from hwnas.cost.device import device_info
    from hwnas.cost.lut_table import LatencyTable

    entries = {sig.key: {"latency_ms": 0.01 * (i + 1), "spread_pct": 1.0}
               for i, sig in enumerate(space.all_layer_signatures())}
    meta = {"target": target.name, "runtime": "onnxruntime", "runtime_version": onnxruntime.__version__,
            "execution_provider": target.execution_provider, "intra_op_threads": 1, "inter_op_threads": 1,
            "batch_size": 1, "dtype": "float32", "graph_optimization": "all", "opset": 17,
            "space": space.describe(), "remote": False, "date": "2025-01-01T00:00:00+00:00",
            "device": device_info(target)}
    return LatencyTable(meta, entries, {"model": "linear", "features": ["sum_ms", "n_layers", "const"],
                                        "coef": list(coef)})


def all_proposals(strategy, over=lambda genome: False):
    """Every proposal of a strategy, batch by batch, each told a result (over a budget where
    ``over`` says so), as the search loop does; the genomes in order."""
    import numpy as np

    out = []
    while (genomes := strategy.ask()) is not None:
        violations = np.array([[1.0 if over(g) else -1.0] for g in genomes])[:, :strategy.n_constraints]
        strategy.tell(genomes, np.zeros((len(genomes), strategy.n_objectives)), violations)
        out += list(genomes)
    return np.array(out)
