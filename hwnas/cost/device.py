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


_CPUINFO = Path("/proc/cpuinfo")


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``'s, e.g. "Intel(R) Xeon(R) Processor"), not "x86_64"."""
    try:
        lines = _CPUINFO.read_text().splitlines()
    except OSError:
        lines = []
    fields = [(key.strip(), value.strip()) for key, _, value in (line.partition(":") for line in lines)]
    for key, value in fields:
        if key == "model name" and value:
            return value
    # Linux on ARM gives no model name: the core designs (implementer and part numbers, e.g.
    # 0x41 0xd08 = Arm Cortex-A72) tell a Raspberry Pi 4 from a Graviton, which "aarch64" does not.
    implementers = dict.fromkeys(value for key, value in fields if key == "CPU implementer")
    parts = dict.fromkeys(value for key, value in fields if key == "CPU part")
    if implementers and parts:
        return f"{platform.machine()} implementer {'/'.join(implementers)} part {'/'.join(parts)}"
    if platform.system() == "Darwin":  # platform.processor() says only "arm" or "i386" there
        brand = _run(["sysctl", "-n", "machdep.cpu.brand_string"])  # e.g. "Apple M2 Pro"
        if brand:
            return brand
    return platform.processor() or platform.machine()


def _run(command: list[str]) -> str | None:
    import subprocess

    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


@functools.lru_cache(maxsize=None)
def _gpu_table() -> str | None:
    return _run(["nvidia-smi", "--query-gpu=index,uuid,name,driver_version", "--format=csv,noheader"])


def _gpu_names() -> str | None:
    """``"name, driver"`` per GPU the CUDA runtime sees, the one it uses first (device 0) first:
    ``CUDA_VISIBLE_DEVICES`` (indices or UUIDs) picks and orders them, as it does for ONNX Runtime
    and torch; without it (or with MIG slices) every GPU, in nvidia-smi's order."""
    table = _gpu_table()
    if not table:
        return None
    gpus = []
    for line in table.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) >= 4:
            gpus.append((parts[0], parts[1], f"{parts[2]}, {parts[3]}"))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and gpus and "MIG-" not in visible:  # a MIG slice: its GPU is not named here
        chosen = []
        for want in (w.strip() for w in visible.split(",")):
            match = [g for g in gpus if want and (g[0] == want or (want.startswith("GPU-") and g[1].startswith(want)))]
            if not match:
                break  # CUDA stops at the first entry it cannot resolve, as here
            chosen.append(match[0])
        gpus = chosen
    return "\n".join(g[2] for g in gpus) or None


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def device_info(target: Target) -> dict[str, Any]:
    """CPU model, core counts, platform and (for GPU providers) GPU names with driver versions.

    ``cores`` is what this process may use (under ``taskset -c 0``, 1), which is what its
    timings ran on; ``cores_total`` is the machine's.
    """
    gpu = _gpu_names() if target.execution_provider != "CPUExecutionProvider" else None
    return {"cpu": cpu_model(), "cores": usable_cores(), "cores_total": os.cpu_count(),
            "platform": platform.platform(), "gpu": gpu}


def cores_text(info: Mapping[str, Any]) -> str:
    """``"2 cores"``, or ``"1 of 2 cores"`` when the process could use fewer than the machine has."""
    cores, total = info.get("cores"), info.get("cores_total")
    return f"{cores} of {total} cores" if total is not None and total != cores else f"{cores} cores"


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
