"""The device a target runs on: its label, its tables' folder name."""

from hwnas.cost import load_target
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
