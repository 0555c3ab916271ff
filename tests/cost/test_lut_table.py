"""The latency table file: round trip, prediction on a hand-made table, and every refusal of a table."""

import dataclasses
import json
import re

import pytest

from fakes import hand_table
from hwnas.cost import COST_MODELS, load_target
from hwnas.cost.device import device_info
from hwnas.cost.lut_table import LatencyTable
from hwnas.exceptions import LatencyTableError
from hwnas.space import make_space

from .conftest import SHAPE


def test_round_trip(space, target, tmp_path):
    table = hand_table(space, target)
    path = table.save(tmp_path / "t" / "mbv3-1x8x8.json")
    back = LatencyTable.load(path)
    assert back.to_dict() == table.to_dict()
    assert json.loads(path.read_text())["format"] == "hwnas-latency-table"


def test_prediction_on_a_hand_made_table(space, target):
    table = hand_table(space, target)
    arch = space.parse("w0.5:k5e3,k3e3/k3e3/k3e3/k5e3")
    sigs = space.layer_signatures(arch)
    keys = sorted(table.entries)
    total = sum(0.01 * (keys.index(s.key) + 1) for s in sigs)
    assert table.predict(sigs) == pytest.approx(0.5 * total - 0.001 * len(sigs) + 0.01)
    table.calibration = {}
    assert table.predict(sigs) == pytest.approx(total)


def test_layer_ms_is_what_a_layer_adds_to_the_prediction(space, target):
    table = hand_table(space, target)  # 0.5 * sum_ms - 0.001 * n_layers + 0.01
    sigs = space.layer_signatures(space.parse("w0.5:k5e3,k3e3/k3e3/k3e3/k5e3"))
    assert table.layer_ms(sigs[0]) == pytest.approx(0.5 * table.entries[sigs[0].key]["latency_ms"] - 0.001)
    assert sum(table.layer_ms(s) for s in sigs) + table.predict([]) == pytest.approx(table.predict(sigs))


def test_group_features(space, target):
    table = hand_table(space, target)
    table.calibration = {"model": "linear", "features": ["sum_ms:ir", "n:head", "const"], "coef": [2.0, 0.5, 0.1]}
    sigs = space.layer_signatures(space.parse("w0.5:k5e3,k3e3/k3e3/k3e3/k5e3"))
    ir = sum(table.entries[s.key]["latency_ms"] for s in sigs if s.kind == "ir")
    assert table.predict(sigs) == pytest.approx(2.0 * ir + 0.5 + 0.1)


def test_memory_beyond_a_threshold(space, target):
    table = hand_table(space, target)
    sigs = space.layer_signatures(space.parse("w0.5:k5e3,k3e3/k3e3/k3e3/k5e3"))
    for i, sig in enumerate(sigs):
        table.entries[sig.key].update(weights=100_000 * (i + 1), activations=10_000)
    weights = sum(table.entries[s.key]["weights"] for s in sigs) / 1e6
    activations = 0.01 * len(sigs)
    sum_ms = sum(table.entries[s.key]["latency_ms"] for s in sigs)
    table.calibration = {"model": "linear", "features": ["sum_ms", "memory_m_over:0.5", "memory_m_over:99"],
                         "coef": [1.0, 2.0, 5.0]}
    assert table.predict(sigs) == pytest.approx(sum_ms + 2.0 * (weights - 0.5))  # weights alone by default
    table.calibration["activation_share"] = 0.5
    assert table.predict(sigs) == pytest.approx(sum_ms + 2.0 * (weights + 0.5 * activations - 0.5))


def test_refuses_another_target(space, target):
    table = hand_table(space, target)
    with pytest.raises(LatencyTableError, match="built for target 'cpu-ort-1t', not 'cpu-ort-2t'; if the table's "
                                                "target is the one meant, set \\[cost\\] target = 'cpu-ort-1t' "
                                                "\\(or its .toml path\\), else rebuild it with `hwnas profile"):
        table.check(load_target("cpu-ort-2t"), space)
    other = dataclasses.replace(target, batch_size=4)
    with pytest.raises(LatencyTableError, match="batch_size = 1, the target cpu-ort-1t has 4"):
        table.check(other, space)


def test_refuses_another_runtime_version_unless_remote(space, target):
    table = hand_table(space, target)
    table.meta["runtime_version"] = "1.0.0"
    with pytest.raises(LatencyTableError, match="built with onnxruntime 1.0.0, this machine has .*--latency measure"):
        table.check(target, space)
    table.meta["remote"] = True  # a table measured on a phone: its runtime is not ours
    table.check(target, space)


def test_refuses_a_table_built_on_another_device_unless_remote(space, target):
    table = hand_table(space, target)
    table.meta["device"] = {"cpu": "Other CPU 9000", "gpu": None}
    with pytest.raises(LatencyTableError, match=r"built on Other CPU 9000, this machine is .*hwnas profile.*remote"):
        table.check(target, space)
    table.meta["device"] = {}  # no device named is not a device matched
    with pytest.raises(LatencyTableError, match=r"built on unknown, this machine is "):
        table.check(target, space)
    table.meta["device"] = device_info(target)  # built here
    table.check(target, space)
    table.meta.update(device={"cpu": "Other CPU 9000"}, remote=True)  # measured elsewhere, on purpose
    table.check(target, space)


def test_refuses_another_input_size(space, target):
    table = hand_table(space, target)
    bigger = make_space("mbv3", (1, 12, 12), 10, widths=[0.5], depths=[1, 2], kernels=[3, 5], expands=[3])
    with pytest.raises(LatencyTableError, match="built for input 1x8x8, this task's input is 1x12x12"):
        table.check(target, bigger)


def test_missing_entry_names_the_key_and_the_fix(space, target, tmp_path):
    table = hand_table(space, target)
    missing = sorted(table.entries)[3]
    del table.entries[missing]
    path = table.save(tmp_path / "mbv3-1x8x8.json")
    with pytest.raises(LatencyTableError) as err:
        COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(path), config_source="my.toml")
    message = str(err.value)
    assert repr(missing) in message
    assert "hwnas profile --target" in message and "--task my.toml" in message and "--latency measure" in message


def test_malformed_files_are_refused(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(LatencyTableError, match="not valid JSON"):
        LatencyTable.load(bad)
    bad.write_text(json.dumps({"format": "hwnas-latency-table", "format_version": 1,
                               "meta": {"target": "x", "runtime_version": "1", "execution_provider": "C",
                                        "batch_size": 1, "dtype": "float32", "space": {}},
                               "entries": {"stem:a": {"latency_ms": -1}}}))
    with pytest.raises(LatencyTableError, match="entry 'stem:a' needs a positive 'latency_ms'"):
        LatencyTable.load(bad)
    meta = {"target": "x", "runtime_version": "1", "execution_provider": "C", "batch_size": 1, "dtype": "float32",
            "space": {}}
    for entry, calibration, message in (
            ({"latency_ms": 1, "weights": -3}, {}, "entry 'stem:a' has 'weights' -3"),
            ({"latency_ms": 1, "activations": "many"}, {}, "entry 'stem:a' has 'activations' 'many'"),
            ({"latency_ms": 1}, {"model": "linear", "features": ["memory_m_over:lots"], "coef": [1.0]},
             "calibration feature 'memory_m_over:lots' is unknown"),
            ({"latency_ms": 1}, {"model": "linear", "features": ["sum_ms"], "coef": [1.0], "activation_share": -1},
             "calibration 'activation_share' -1 must be a number >= 0")):
        bad.write_text(json.dumps({"format": "hwnas-latency-table", "format_version": 1, "meta": meta,
                                   "entries": {"stem:a": entry}, "calibration": calibration}))
        with pytest.raises(LatencyTableError, match=message):
            LatencyTable.load(bad)


@pytest.mark.parametrize("where, value, message", [
    ("meta.remote", "false", "meta.remote must be true or false, not 'false'"),
    ("meta.device", None, "meta.device must be an object"),
    ("meta.space.input_shape", "1x8x8", "meta.space.input_shape must be a list of positive integers"),
    ("calibration.coef", ["one", -0.001, 0.01], r"calibration.coef\[0\] must be a finite number, not 'one'"),
    ("calibration.coef", [float("inf"), -0.001, 0.01], r"calibration.coef\[0\] must be a finite number, not inf"),
    ("calibration.residual", "oops", "calibration.residual must be an object"),
    ("calibration.networks", 5, "calibration.networks must be a list of architecture strings, not 5"),
])
def test_fields_of_the_wrong_type_are_refused_at_load(space, target, tmp_path, where, value, message):
    table = hand_table(space, target)
    doc = table.to_dict()
    *parents, last = where.split(".")
    node = doc
    for key in parents:
        node = node[key]
    node[last] = value
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(LatencyTableError) as err:
        LatencyTable.load(path)
    line = str(err.value)
    assert line.startswith(f"latency table {path}: ") and "\n" not in line
    assert re.search(message, line), line


def test_a_table_built_here_without_its_device_is_refused(space, target, tmp_path):
    doc = hand_table(space, target).to_dict()
    del doc["meta"]["device"]  # the device check would be skipped
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(LatencyTableError, match="meta.device must be an object"):
        LatencyTable.load(path)
    doc["meta"]["remote"] = True  # a table of another machine need not name it
    path.write_text(json.dumps(doc))
    LatencyTable.load(path)


def test_a_remote_table_is_mended_on_its_device_not_here(space, target, tmp_path):
    table = hand_table(space, target)
    table.meta.update(remote=True, device={"cpu": "Snapdragon 8", "gpu": None})
    table.entries.pop(sorted(table.entries)[0])
    path = table.save(tmp_path / "phone.json")
    with pytest.raises(LatencyTableError) as err:
        COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(path))
    line = str(err.value)
    assert "; fill it on Snapdragon 8, where its target runs, with `hwnas profile" in line
    assert line.endswith("`, and copy it here with \"remote\": true in its meta")  # profile writes false
    assert "--latency measure" not in line
    table.meta["device"] = {}  # a remote table need not name its device
    table.save(path)
    with pytest.raises(LatencyTableError) as err:
        COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(path))
    assert "; fill it on the device it was built for, with `hwnas profile" in str(err.value)
    assert "unknown" not in str(err.value)


def test_a_local_table_missing_a_setting_is_refused_a_remote_one_is_not(space, target, tmp_path):
    table = hand_table(space, target)
    del table.meta["opset"]
    with pytest.raises(LatencyTableError, match="does not record the opset it was built with"):
        table.check(target, space)
    table.meta.update(remote=True)
    table.check(target, space)


def test_the_suggested_profile_command_pastes_into_a_shell(space, target, tmp_path):
    import shlex

    from hwnas.cost.lut_table import profile_command

    out = tmp_path / "my tables" / "t.json"
    line = profile_command(target, space.name, "my runs/config.toml", out)
    assert shlex.split(line)[-4:] == ["--task", "my runs/config.toml", "--out", str(out)]
    table = hand_table(space, target)
    table.path = out
    with pytest.raises(LatencyTableError) as err:
        table.features(space.layer_signatures(space.smallest()) + [dataclasses.replace(
            space.all_layer_signatures()[0], fields=(("k", 99),))])
    assert f"--out {shlex.quote(str(out))}`" in str(err.value)
