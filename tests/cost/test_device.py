"""The device a target runs on: its label, its tables' folder name."""

from hwnas.cost import device, load_target
from hwnas.cost.device import device_folder, device_info, device_label, local_device


def test_label_is_the_processor_or_the_gpu_of_gpu_providers():
    info = {"cpu": "AMD EPYC", "gpu": "NVIDIA H100 80GB HBM3, 550.54.15"}
    assert device_label(info, "CPUExecutionProvider") == "AMD EPYC"
    assert device_label(info, "CUDAExecutionProvider") == "NVIDIA H100 80GB HBM3"  # no driver version
    assert device_label({"cpu": "AMD EPYC", "gpu": None}, "CUDAExecutionProvider") == "AMD EPYC"


def test_folder_names():
    assert device_folder("Intel(R) Xeon(R) Processor") == "intel-xeon-processor"
    assert device_folder("AMD EPYC 7B13 64-Core Processor") == "amd-epyc-7b13-64-core-processor"
    assert device_folder("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"
    assert device_folder("(R)") == "unknown"


def test_this_machine():
    target = load_target("cpu-ort-1t")
    info = device_info(target)
    assert info["cpu"] and info["cores"] >= 1 and info["gpu"] is None
    assert local_device(target) == info["cpu"]


ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x0
CPU part\t: {part}
CPU revision\t: 3

processor\t: 1
CPU implementer\t: 0x41
CPU part\t: {part}
"""


def test_arm_processors_are_told_apart(monkeypatch, tmp_path):
    # Linux on ARM has no "model name": every ARM board used to be the same device, "aarch64".
    monkeypatch.setattr(device.platform, "machine", lambda: "aarch64")
    monkeypatch.setattr(device.platform, "processor", lambda: "")
    labels = []
    for part in ("0xd08", "0xd0c"):  # Cortex-A72 (Raspberry Pi 4), Neoverse-N1 (Graviton2)
        path = tmp_path / f"cpuinfo-{part}"
        path.write_text(ARM_CPUINFO.format(part=part))
        monkeypatch.setattr(device, "_CPUINFO", path)
        labels.append(local_device(load_target("cpu-ort-1t")))
    assert labels == ["aarch64 implementer 0x41 part 0xd08", "aarch64 implementer 0x41 part 0xd0c"]
    assert device_folder(labels[0]) == "aarch64-implementer-0x41-part-0xd08"


def test_x86_model_name_wins(monkeypatch, tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n")
    monkeypatch.setattr(device, "_CPUINFO", path)
    assert device.cpu_model() == "Intel(R) Xeon(R) Processor"


def test_macos_uses_the_cpu_brand(monkeypatch, tmp_path):
    # platform.processor() is "arm" on every Apple silicon Mac.
    monkeypatch.setattr(device, "_CPUINFO", tmp_path / "missing")
    monkeypatch.setattr(device.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(device.platform, "processor", lambda: "arm")
    monkeypatch.setattr(device, "_run", lambda command: "Apple M2 Pro" if command[0] == "sysctl" else None)
    assert device.cpu_model() == "Apple M2 Pro"


def test_the_gpu_label_follows_cuda_visible_devices(monkeypatch):
    table = ("0, GPU-aaaa1111-0000, NVIDIA A100-SXM4-40GB, 550.54.15\n"
             "1, GPU-bbbb2222-0000, NVIDIA H100 80GB HBM3, 550.54.15")
    monkeypatch.setattr(device, "_gpu_table", lambda: table)
    target = load_target("cuda-ort")
    for visible, label in ((None, "NVIDIA A100-SXM4-40GB"), ("1", "NVIDIA H100 80GB HBM3"),
                           ("1,0", "NVIDIA H100 80GB HBM3"), ("GPU-bbbb", "NVIDIA H100 80GB HBM3"),
                           ("MIG-cccc3333", "NVIDIA A100-SXM4-40GB")):
        if visible is None:
            monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
        else:
            monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
        assert local_device(target) == label, visible
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,7,0")  # CUDA stops at the first entry it cannot resolve
    assert device_info(target)["gpu"] == "NVIDIA H100 80GB HBM3, 550.54.15"
    for hidden in ("", "-1", "7"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
        assert device_info(target)["gpu"] is None


def test_cores_are_the_ones_this_process_may_use(monkeypatch):
    # Under `taskset -c 0` on a 2-core machine the timings ran on 1 core; os.cpu_count() said 2.
    monkeypatch.setattr(device.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(device.os, "cpu_count", lambda: 2)
    info = device_info(load_target("cpu-ort-1t"))
    assert (info["cores"], info["cores_total"]) == (1, 2)
    assert device.cores_text(info) == "1 of 2 cores"
    assert device.cores_text({**info, "cores": 2}) == "2 cores"
    assert device.cores_text({"cores": 8}) == "8 cores"  # a table written before cores_total
