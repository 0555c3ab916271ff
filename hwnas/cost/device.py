"""The machine a target runs on: its processor or GPU, which latency tables belong to.

A target (``targets/*.toml``) fixes the runtime's settings; the same target on another
processor is another device, with other latencies: a table built on an AMD EPYC predicted
whole networks on an Intel Xeon VM with Kendall τ 0.91 against 0.99 for one built there, and
its layers read 15 % slower on average, spread ±6 %. So tables live in one folder per device
(:func:`device_folder`), and a table built on another device is refused unless it is marked
remote (see :mod:`hwnas.cost.lut`).

Example:
    >>> local_device(load_target("cpu-ort-1t"))          # doctest: +SKIP
    'Intel(R) Xeon(R) Processor'
    >>> device_folder("Intel(R) Xeon(R) Processor")
    'intel-xeon-processor'
"""

from __future__ import annotations

import functools
import os
import platform
import re
from pathlib import Path
from typing import Any, Mapping

from .target import Target


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=None)
def _gpu_names() -> str | None:
    import subprocess

    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def device_info(target: Target) -> dict[str, Any]:
    """CPU model, core count, platform and (for GPU providers) GPU names with driver versions."""
    gpu = _gpu_names() if target.execution_provider != "CPUExecutionProvider" else None
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(), "gpu": gpu}


def device_label(info: Mapping[str, Any], execution_provider: str) -> str:
    """The device a target's latencies depend on: the (first) GPU's name for GPU providers,
    the processor's model otherwise."""
    if execution_provider != "CPUExecutionProvider" and info.get("gpu"):
        return str(info["gpu"]).splitlines()[0].split(",")[0].strip()
    return str(info.get("cpu") or "unknown")


def local_device(target: Target) -> str:
    """:func:`device_label` of this machine for ``target``."""
    return device_label(device_info(target), target.execution_provider)


def device_folder(label: str) -> str:
    """A device label as a folder name: lower case, trademarks dropped, words joined by ``-``."""
    text = re.sub(r"\((r|tm|c)\)", " ", label.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "unknown"
