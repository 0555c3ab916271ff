"""Latency tables: file round trip, prediction on a hand-made table, and every refusal message."""

import dataclasses
import json
import re

import numpy as np
import pytest

from fakes import hand_table
from hwnas.cost import COST_MODELS, load_target
from hwnas.cost.device import device_folder, device_info, local_device
from hwnas.cost.lut import LatencyTable, find_table, fit_linear, latency_models
from hwnas.exceptions import ConfigError, LatencyTableError
from hwnas.space import make_space

SHAPE = (1, 8, 8)


@pytest.fixture
def space():
    return make_space("mbv3", SHAPE, 10, widths=[0.5], depths=[1, 2], kernels=[3, 5], expands=[3])


@pytest.fixture
def target():
    return load_target("cpu-ort-1t")


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


def test_fit_linear_recovers_coefficients():
    rng = np.random.default_rng(0)
    feats = [{"sum_ms:ir": a, "sum_ms:ir-se": b, "n_layers": float(n), "const": 1.0}
             for a, b, n in zip(rng.uniform(0.05, 0.3, 20), rng.uniform(0.0, 0.1, 20), rng.integers(6, 15, 20))]
    y = [0.9 * f["sum_ms:ir"] + 0.8 * f["sum_ms:ir-se"] - 0.004 * f["n_layers"] + 0.01 for f in feats]
    names = ["sum_ms:ir", "sum_ms:ir-se", "n_layers", "const"]
    assert fit_linear(feats, names, y) == pytest.approx([0.9, 0.8, -0.004, 0.01], abs=1e-9)


def test_group_features(space, target):
    table = hand_table(space, target)
    table.calibration = {"model": "linear", "features": ["sum_ms:ir", "n:head", "const"], "coef": [2.0, 0.5, 0.1]}
    sigs = space.layer_signatures(space.parse("w0.5:k5e3,k3e3/k3e3/k3e3/k5e3"))
    ir = sum(table.entries[s.key]["latency_ms"] for s in sigs if s.kind == "ir")
    assert table.predict(sigs) == pytest.approx(2.0 * ir + 0.5 + 0.1)


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


def test_tables_live_in_one_folder_per_device(space, target):
    path = find_table(target, space)
    assert path.parent.name == device_folder(local_device(target)) and path.parent.parent.name == "cpu-ort-1t"
    assert path.name == "mbv3-1x8x8.json"
    assert find_table(target, space, "my/table.json").as_posix() == "my/table.json"


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


def test_no_table_names_the_path_and_the_fix(space, target, tmp_path):
    with pytest.raises(LatencyTableError, match="no latency table for target cpu-ort-1t.*does not exist.*hwnas profile"):
        COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(tmp_path / "none.json"))


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


def test_lut_cost_model_predicts_without_a_model(space, target, tmp_path):
    path = hand_table(space, target).save(tmp_path / "mbv3-1x8x8.json")
    lut = COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(path))
    assert lut.needs_model is False and lut.provides == ("latency_ms",)
    arch = "w0.5:k3e3/k3e3/k3e3/k3e3"
    assert lut.measure(arch, None)["latency_ms"] == pytest.approx(lut.table.predict(space.layer_signatures(space.parse(arch))))


def test_a_config_is_told_to_build_its_table_beside_it_when_latency_tables_holds_another_configurations(tmp_path, monkeypatch):
    import hwnas.cost.lut as lut

    monkeypatch.setattr(lut, "tables_dir", lambda: tmp_path / "tables")  # no table at all
    config = tmp_path / "narrow.toml"
    config.write_text("")
    names, cost = ["counts", "ort"], {"target": "cpu-ort-1t"}
    narrowed = make_space("mbv3", (1, 8, 8), 10, widths=[0.5])
    _, note = latency_models(names, cost, narrowed, explicit=False, source=str(config))
    assert f"--task {config}`" in note  # no table in latency_tables/ yet: build it there, where searches look
    full = make_space("mbv3", (1, 8, 8), 10)
    target = load_target("cpu-ort-1t")
    hand_table(narrowed, target).save(lut.local_table_path(target, full))  # latency_tables/ holds another's
    _, note = latency_models(names, cost, full, explicit=False, source=str(config))
    assert f"--task {config} --out {tmp_path / 'narrow-mbv3-1x8x8.json'}`" in note  # not over that table
    assert lut.table_to_build(target, narrowed, str(config)) is None  # the same configuration: latency_tables/


def test_a_table_built_beside_its_config_is_found_by_the_search(space, target, tmp_path, monkeypatch):
    import hwnas.cost.lut as lut

    monkeypatch.setattr(lut, "tables_dir", lambda: tmp_path / "tables")  # nothing in latency_tables/
    config = tmp_path / "narrow.toml"
    config.write_text("")
    own = tmp_path / f"narrow-mbv3-{SHAPE[0]}x{SHAPE[1]}x{SHAPE[2]}.json"
    assert lut.own_table_path(space, str(config)) == own  # where profile's hint writes it
    hand_table(space, target).save(own)
    assert find_table(target, space, config_source=str(config)) == own
    assert find_table(target, space, tmp_path / "other.json", str(config)) == tmp_path / "other.json"  # a path wins
    names, note = latency_models(["counts", "ort"], {"target": "cpu-ort-1t"}, space, explicit=False, source=str(config))
    assert (names, note) == (["counts", "lut"], None)
    model = COST_MODELS.get("lut")(target, SHAPE, space=space, config_source=str(config))
    assert model.table.meta["space"] == space.describe()


def test_latency_mode_resolution(space, target, tmp_path):
    cost = {"target": "cpu-ort-1t"}
    names = ["counts", "memory", "ort"]
    assert latency_models(names, {**cost, "latency": "measure"}, space, explicit=False) == (names, None)
    assert latency_models(names, {**cost, "latency": "lut"}, space, explicit=False) == (
        ["counts", "memory", "lut"], None)
    # auto: no table for this space's input size in latency_tables/ -> measure, and it says why
    chosen, note = latency_models(names, cost, space, explicit=False)
    assert chosen == names and note.startswith("no latency table for target cpu-ort-1t on ") and "\n" not in note
    assert "input 1x8x8" in note and "timing every candidate instead; build one with `hwnas profile --target" in note
    path = hand_table(space, target).save(tmp_path / "mbv3-1x8x8.json")
    assert latency_models(names, {**cost, "lut": {"path": str(path)}}, space, explicit=False) == (
        ["counts", "memory", "lut"], None)
    # an explicit list is kept under auto, unless the config names a table: then that table is used
    assert latency_models(names, cost, space, explicit=True) == (names, None)
    assert latency_models(names, {**cost, "lut": {"path": str(path)}}, space, explicit=True) == (
        ["counts", "memory", "lut"], None)
    for extra in ({"latency": "lut"}, {"latency": "measure"}, {"lut": {"path": str(path)}}):
        with pytest.raises(ConfigError, match=r"models = \['counts'\] has no latency model \(ort or lut\) to read"):
            latency_models(["counts"], {**cost, **extra}, space, explicit=True)
    with pytest.raises(ConfigError, match="latency = 'fast' is not valid"):
        latency_models(names, {**cost, "latency": "fast"}, space, explicit=False)


def test_a_bundled_target_copied_with_other_settings_is_told_to_take_a_name_of_its_own(space, target, tmp_path,
                                                                                       monkeypatch):
    # the rebuild the message offers would otherwise be refused: profile keeps the bundled target's table
    import hwnas.cost.lut as lut

    monkeypatch.setattr(lut, "tables_dir", lambda: tmp_path / "tables")
    path = hand_table(space, target).save(lut.local_table_path(target, space))
    copied = tmp_path / "mine.toml"
    copied.write_text(open(target.source).read().replace("batch_size = 1", "batch_size = 8"))
    mine = load_target(copied)
    with pytest.raises(LatencyTableError, match=rf"batch_size = 1, the target cpu-ort-1t has 8; {re.escape(str(copied))} "
                                                rf"is a copy of targets/cpu-ort-1t.toml .* give it a name of its own "
                                                rf"\(name = \"...\"\) first; rebuild it with"):
        LatencyTable.load(path).check(mine, space)
    elsewhere = hand_table(space, target).save(tmp_path / "own.json")  # rebuilt with --out: nothing to rename
    with pytest.raises(LatencyTableError) as refused:
        LatencyTable.load(elsewhere).check(mine, space)
    assert "a name of its own" not in str(refused.value)


def test_auto_mode_says_why_a_table_is_not_used(space, target, tmp_path, recwarn):
    table = hand_table(space, target)
    table.meta["runtime_version"] = "1.0.0"
    path = table.save(tmp_path / "mbv3-1x8x8.json")
    cost = {"target": "cpu-ort-1t", "lut": {"path": str(path)}}
    chosen, note = latency_models(["counts", "ort"], cost, space, explicit=False)
    assert chosen == ["counts", "ort"] and "\n" not in note
    assert "built with onnxruntime 1.0.0" in note and note.endswith("; timing every candidate instead (--latency measure)")
    with pytest.raises(LatencyTableError, match="built with onnxruntime 1.0.0"):
        COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(path))
    assert not recwarn.list


def test_auto_mode_on_a_machine_that_cannot_run_the_target_says_why_the_table_was_not_used(space, tmp_path,
                                                                                          monkeypatch):
    # falling back to timing is no way out there: the provider's error alone hid the table's problem
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    target = load_target("cuda-ort")
    table = hand_table(space, target)
    table.meta.update(remote=True, device={"cpu": None, "gpu": "NVIDIA A100"})
    del table.entries[sorted(table.entries)[0]]
    path = table.save(tmp_path / "a100.json")
    cost = {"target": "cuda-ort", "lut": {"path": str(path)}}
    with pytest.raises(LatencyTableError, match=r"has no entry for .* fill it on NVIDIA A100, .*; and this machine "
                                                r"cannot time every candidate instead: .*'CUDAExecutionProvider' is "
                                                r"not available"):
        latency_models(["counts", "ort"], cost, space, explicit=False)
    monkeypatch.setattr("hwnas.cost.lut.tables_dir", lambda: tmp_path / "no tables")
    with pytest.raises(LatencyTableError, match=r"^no latency table for target cuda-ort .*; and this machine cannot "
                                                r"time every candidate instead: .*; use a table built where the target "
                                                r"runs: latency_tables/cuda-ort/<its device>/mbv3-1x8x8.json with "
                                                r"\"remote\": true"):
        latency_models(["counts", "ort"], {"target": "cuda-ort"}, space, explicit=False)


def test_a_table_copied_from_the_device_without_remote_true_is_named(space, tmp_path, monkeypatch):
    # hwnas profile writes "remote": false; a table copied back as it is was passed over in silence
    import onnxruntime

    import hwnas.cost.lut as lut

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    monkeypatch.setattr(lut, "tables_dir", lambda: tmp_path)
    target = load_target("cuda-ort")
    table = hand_table(space, target)
    table.meta["device"] = {"cpu": "AMD EPYC", "gpu": "NVIDIA A100"}
    copied = table.save(tmp_path / "cuda-ort" / "a100" / "mbv3-1x8x8.json")
    message = (rf"; {re.escape(str(copied))} is there, built on NVIDIA A100, but its meta says \"remote\": false "
               rf"\(as hwnas profile writes it\): set \"remote\": true to use it on this machine$")
    with pytest.raises(LatencyTableError, match=message):
        latency_models(["counts", "ort"], {"target": "cuda-ort"}, space, explicit=False)
    with pytest.raises(LatencyTableError, match=message):
        COST_MODELS.get("lut")(target, SHAPE, space=space)


def test_a_table_built_on_the_device_but_not_marked_remote_says_to_mark_it(space, tmp_path, monkeypatch):
    # its onnxruntime version or device refusal offered a rebuild or timing here: neither works here
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    target = load_target("cuda-ort")
    table = hand_table(space, target)
    table.meta.update(device={"cpu": "AMD EPYC", "gpu": "NVIDIA A100"}, runtime_version="1.16.0")
    path = table.save(tmp_path / "a100.json")
    message = (r"was built on NVIDIA A100, not on this machine \(.*\), which cannot run its target: .*"
               r"'CUDAExecutionProvider' is not available.*; if NVIDIA A100 is where target cuda-ort runs, set "
               r"\"remote\": true in the table's meta to use its predictions without timing here$")
    with pytest.raises(LatencyTableError, match=message):
        latency_models(["counts", "ort"], {"target": "cuda-ort", "lut": {"path": str(path)}}, space, explicit=False)
    with pytest.raises(LatencyTableError, match=message):
        COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(path))


def test_a_table_path_given_but_missing_is_an_error(space, tmp_path):
    cost = {"target": "cpu-ort-1t", "lut": {"path": str(tmp_path / "nope" / "table.json")}}
    for mode in ("auto", "lut"):
        with pytest.raises(LatencyTableError, match=r"^run.toml \[cost.lut\] path = '.*nope/table.json' does not "
                                                    r"exist; point it at a table file built by `hwnas profile`"):
            latency_models(["counts", "ort"], {**cost, "latency": mode}, space, explicit=False, source="run.toml")
    # measure reads no table: the key is left alone
    assert latency_models(["counts", "ort"], {**cost, "latency": "measure"}, space, explicit=False) == (
        ["counts", "ort"], None)


def test_residual_weights_learn_a_per_layer_effect_and_ignore_noise():
    import numpy as np

    from hwnas.cost.lut import ResidualRidge

    rng = np.random.default_rng(0)
    counts = rng.integers(0, 3, size=(120, 30)).astype(float)
    layer_ms = counts * rng.uniform(0.5, 2.0, size=30)  # ms each layer contributes to each network
    true = np.zeros(30)
    true[:5] = 0.3  # five layers cost 30 % more inside a network than alone
    measured = layer_ms.sum(axis=1) + layer_ms @ true
    residual = measured - layer_ms.sum(axis=1)
    weights, lam, scores = ResidualRidge(layer_ms, measured).fit(residual)
    assert lam > 0 and scores[lam] < 0.05 * scores[0.0]
    assert np.allclose(weights[:5], 0.3, atol=0.08) and np.abs(weights[5:]).max() < 0.08
    noise = rng.normal(0, 0.01, size=120) * measured  # residuals with no per-layer structure
    _, lam_noise, scores_noise = ResidualRidge(layer_ms, measured).fit(noise)
    assert scores_noise[lam_noise] >= 0.9 * scores_noise[0.0]  # nothing to learn: barely better than none


def test_residual_weights_of_a_rare_layer_borrow_from_its_group():
    import numpy as np

    from hwnas.cost.lut import ResidualRidge, signature_groups
    from hwnas.space.base import LayerSignature

    sigs = [LayerSignature("ir", (("k", k), ("e", e)), (8, 6, 6)) for k in (3, 5, 7) for e in (3, 4, 6, 8)]
    groups, membership = signature_groups(sigs)
    assert "ir:k=7" in groups and "ir:e=3&k=7" in groups and "ir:in=8x6x6" in groups
    assert membership[sigs.index(LayerSignature("ir", (("k", 7), ("e", 3)), (8, 6, 6))), groups.index("ir:k=7")] == 1
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 3, size=(300, len(sigs))).astype(float)
    rare = len(sigs) - 1  # k=7, e=8: in no calibration network
    counts[:, rare] = 0
    layer_ms = counts * rng.uniform(0.5, 2.0, size=len(sigs))
    true = np.array([0.2 if dict(s.fields)["k"] == 7 else 0.0 for s in sigs])  # k = 7 costs 20 % more in a network
    measured = (layer_ms.sum(axis=1) + layer_ms @ true) * (1 + rng.normal(0, 0.01, size=300))
    residual = measured - layer_ms.sum(axis=1)
    alone, _, _ = ResidualRidge(layer_ms, measured).fit(residual)
    grouped, _, scores = ResidualRidge(layer_ms, measured, membership).fit(residual)
    assert alone[rare] == 0 and grouped[rare] > 0.1  # unseen: no correction alone, its kernel's with groups
    assert np.abs(np.delete(grouped - true, rare)).max() < 0.05


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


def test_rebuild_hints_keep_the_configured_table_path(space, target, tmp_path):
    table = hand_table(space, target)
    missing = sorted(table.entries)[0]
    del table.entries[missing]
    path = table.save(tmp_path / "mine.json")
    with pytest.raises(LatencyTableError, match=rf"--task my.toml --out {path}`"):
        COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(path), config_source="my.toml")
    _, note = latency_models(["ort"], {"target": "cpu-ort-1t", "lut": {"path": str(path)}}, space, explicit=False,
                             source="my.toml")
    assert f"--task my.toml --out {path}`" in note
    with pytest.raises(LatencyTableError, match=rf"--out {path}`"):
        table.features(space.layer_signatures(space.smallest()) + [next(
            s for s in space.all_layer_signatures() if s.key == missing)])


def test_default_lookup_finds_a_single_remote_table(space, target, tmp_path, monkeypatch):
    import hwnas.cost.lut as lut

    monkeypatch.setattr(lut, "tables_dir", lambda: tmp_path)
    assert not find_table(target, space).exists()  # nothing: this machine's path, which says what to build
    table = hand_table(space, target)
    table.meta.update(remote=True, device={"cpu": "Snapdragon 8", "gpu": None})
    phone = table.save(tmp_path / "cpu-ort-1t" / "snapdragon-8" / "mbv3-1x8x8.json")
    table.meta["remote"] = False  # built on another machine but not marked remote: not picked up
    table.save(tmp_path / "cpu-ort-1t" / "other-cpu" / "mbv3-1x8x8.json")
    assert find_table(target, space) == phone
    assert COST_MODELS.get("lut")(target, SHAPE, space=space).table.path == phone
    table.meta["remote"] = True
    fpga = table.save(tmp_path / "cpu-ort-1t" / "fpga" / "mbv3-1x8x8.json")
    with pytest.raises(LatencyTableError, match=rf"several tables built elsewhere fit .*{fpga}, {phone}; pick one "
                                                r"with \[cost.lut\] path$"):
        find_table(target, space)
    here = hand_table(space, target).save(lut.local_table_path(target, space))  # this machine's own wins
    assert find_table(target, space) == here


def test_reference_level_times_the_table_s_first_calibration_networks(space, target, tmp_path, monkeypatch):
    import hwnas.cost.models as models

    table = hand_table(space, target)
    nets = [space.canonical(space.smallest()), space.canonical(space.sample(np.random.default_rng(0)))]
    table.calibration["networks"] = nets
    lut = COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(table.save(tmp_path / "t.json")))
    predicted = lut.predict(nets)
    timed = []

    def measure_many(self, archs, modules):
        timed.append(list(archs))
        return [{"latency_ms": 0.25 * p} for p in predicted]

    monkeypatch.setattr(models.OrtLatencyCostModel, "measure_many", measure_many)
    assert lut.reference_level() == pytest.approx(0.25) and timed == [nets] * lut.REFERENCE_REPEATS
    lut.level = 0.25
    assert lut.predict(nets) == pytest.approx(0.25 * predicted)
    table.meta.update(remote=True, device={"cpu": "Snapdragon 8", "gpu": None})
    remote = COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(table.save(tmp_path / "r.json")))
    assert remote.reference_level() is None  # another device's table: nothing here to time


def test_reference_level_times_the_calibration_networks_a_narrowed_space_holds(space, target, tmp_path, monkeypatch):
    # a config with kernels = [3] cannot build the table's kernel-5 networks: they are skipped, not fatal
    import hwnas.cost.models as models

    narrowed = make_space("mbv3", SHAPE, 10, widths=[0.5], depths=[1, 2], kernels=[3], expands=[3])
    table = hand_table(space, target)
    wide = [space.canonical(space.decode([int(i == k) for i in range(space.n_genes)])) for k in (5, 9)]  # k5 blocks
    inside = [narrowed.canonical(narrowed.smallest())]
    table.calibration["networks"] = [*wide, *inside]
    lut = COST_MODELS.get("lut")(target, SHAPE, space=narrowed, path=str(table.save(tmp_path / "t.json")))
    timed = []

    def measure_many(self, archs, modules):
        timed.append(list(archs))
        return [{"latency_ms": 1.0} for _ in archs]

    monkeypatch.setattr(models.OrtLatencyCostModel, "measure_many", measure_many)
    lut.reference_level()
    assert timed == [inside] * lut.REFERENCE_REPEATS


def test_an_infinite_count_and_level_are_refused(space, target, tmp_path):
    doc = hand_table(space, target).to_dict()
    next(iter(doc["entries"].values()))["weights"] = float("inf")
    path = tmp_path / "t.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(LatencyTableError, match="has 'weights' inf; it must be a count >= 0"):
        LatencyTable.load(path)
    good = hand_table(space, target).save(tmp_path / "g.json")
    with pytest.raises(ConfigError, match=r"level = inf must be"):
        COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(good), level=float("inf"))


def test_a_prediction_that_is_not_positive_fails_the_candidate_naming_the_fix(space, target, tmp_path):
    table = hand_table(space, target)
    table.calibration["coef"] = [1.0, 0.0, -1.0]  # a fit that extrapolates below 0
    path = table.save(tmp_path / "t.json")
    lut = COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(path))
    arch = "w0.5:k3e3/k3e3/k3e3/k3e3"
    with pytest.raises(ValueError, match=rf"predicts -?[0-9.e-]+ ms for {re.escape(arch)}; .*more --calibration"):
        lut.measure(arch)


def test_lut_on_a_space_without_layers_says_no_table_can_exist(target):
    mlp = make_space("mlp", (64,), 10)
    with pytest.raises(LatencyTableError, match=r"^the lut cost model reads latency tables: space 'mlp' does not "
                                                r"describe its layers") as err:
        COST_MODELS.get("lut")(target, (64,), space=mlp)  # [cost] models = ["lut"] names no --latency flag
    assert "hwnas profile" not in str(err.value) and "--latency measure" in str(err.value)


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


def test_a_local_table_missing_a_setting_is_refused_a_remote_one_is_not(space, target, tmp_path):
    table = hand_table(space, target)
    del table.meta["opset"]
    with pytest.raises(LatencyTableError, match="does not record the opset it was built with"):
        table.check(target, space)
    table.meta.update(remote=True)
    table.check(target, space)


def test_no_table_for_a_target_this_machine_cannot_run_points_to_a_remote_table(space, tmp_path, monkeypatch):
    # profile (the usual fix) would fail here too: the provider is missing
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    target = load_target("cuda-ort")
    with pytest.raises(LatencyTableError, match=r"no latency table for target cuda-ort .* this machine cannot build "
                                                r"one: .*'CUDAExecutionProvider' is not available.* \[cost.lut\] path "
                                                r"\(its meta marked \"remote\": true\)"):
        COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(tmp_path / "none.json"))


def test_a_local_table_whose_target_cannot_run_here_is_refused_up_front(space, tmp_path, monkeypatch, capsys):
    # its level is timed and its front re-measured here: a search would otherwise crash at its end
    import hwnas.cost.latency as latency

    target = load_target("cpu-ort-2t")
    table = hand_table(space, target)
    table.meta["intra_op_threads"] = 2
    path = table.save(tmp_path / "t.json")
    monkeypatch.setattr(latency, "usable_cores", lambda: 2)
    lut = COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(path))
    monkeypatch.setattr(latency, "usable_cores", lambda: 1)  # e.g. taskset -c 0
    with pytest.raises(LatencyTableError, match=rf"latency table {path} is this machine's, but its target cannot run "
                                                r"here: .*intra_op_threads = 2 is more than the 1 CPU core.*; mark "
                                                r"the table \"remote\": true in its meta"):
        COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(path))
    arch = space.canonical(space.smallest())
    rows = lut.verify_front([arch])  # a machine that changed since the search began keeps its outputs
    assert rows == [{"latency_ms_predicted": pytest.approx(lut.predict([arch])[0])}]
    assert "front's predicted latencies are not re-measured: target cpu-ort-2t" in capsys.readouterr().err
    table.meta["remote"] = True
    COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(table.save(tmp_path / "r.json")))


def test_the_suggested_profile_command_pastes_into_a_shell(space, target, tmp_path):
    import shlex

    from hwnas.cost.lut import profile_command

    out = tmp_path / "my tables" / "t.json"
    line = profile_command(target, space.name, "my runs/config.toml", out)
    assert shlex.split(line)[-4:] == ["--task", "my runs/config.toml", "--out", str(out)]
    table = hand_table(space, target)
    table.path = out
    with pytest.raises(LatencyTableError) as err:
        table.features(space.layer_signatures(space.smallest()) + [dataclasses.replace(
            space.all_layer_signatures()[0], fields=(("k", 99),))])
    assert f"--out {shlex.quote(str(out))}`" in str(err.value)


def test_the_profile_command_for_a_run_read_back_names_its_config_json_not_its_store(space, target):
    from hwnas.cost.lut import profile_command

    # hwnas compress reads a run back from runs/x/store.sqlite; profile cannot read that as --task
    line = profile_command(target, space.name, "runs/x/store.sqlite")
    assert line.endswith("--task runs/x/config.json"), line


def test_no_table_here_names_a_table_of_another_folder_that_cannot_be_read(space, target, tmp_path, monkeypatch):
    import hwnas.cost.lut as lut

    monkeypatch.setattr(lut, "tables_dir", lambda: tmp_path)
    doc = hand_table(space, target).to_dict()
    doc["meta"].update(remote="true", device={"cpu": "Snapdragon 8", "gpu": None})  # a string, not true
    phone = tmp_path / "cpu-ort-1t" / "snapdragon-8" / "mbv3-1x8x8.json"
    phone.parent.mkdir(parents=True)
    phone.write_text(json.dumps(doc))
    message = rf"does not exist; a table there could not be used: latency table {phone}: meta.remote must be true"
    with pytest.raises(LatencyTableError, match=message):
        COST_MODELS.get("lut")(target, SHAPE, space=space)
    _, note = latency_models(["ort"], {"target": "cpu-ort-1t"}, space, explicit=False)
    assert re.search(message, note), note


def test_the_level_is_the_median_of_several_timings_and_a_front_off_its_predictions_is_noted(space, target, tmp_path,
                                                                                            monkeypatch, capsys):
    import hwnas.cost.models as models

    table = hand_table(space, target)
    nets = [space.canonical(space.smallest())]
    table.calibration["networks"] = nets
    lut = COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(table.save(tmp_path / "t.json")))
    predicted = lut.predict(nets)
    levels = iter([1.3, 0.95, 1.0])  # one busy timing does not set the level

    monkeypatch.setattr(models.OrtLatencyCostModel, "measure_many",
                        lambda self, archs, modules: [{"latency_ms": next(levels) * p} for p in predicted])
    assert lut.reference_level() == pytest.approx(1.0)
    for factor, noted in ((1.2, True), (1.03, False)):
        monkeypatch.setattr(models.OrtLatencyCostModel, "measure_many",
                            lambda self, archs, modules: [{"latency_ms": factor * p} for p in lut.predict(archs)])
        rows = lut.verify_front(nets)
        assert rows[0]["latency_ms_measured"] == pytest.approx(factor * predicted[0])
        err = capsys.readouterr().err
        assert ("the front ran at 1.2x its predicted latencies here (median of 1; level 1)" in err) == noted, err


def test_the_lowest_latency_is_searched_for_not_taken_from_the_smallest_architecture(space, target, tmp_path):
    # a budget the cheapest network meets must not be refused because the smallest one misses it
    table = hand_table(space, target)
    smallest = space.canonical(space.smallest())
    for sig in space.layer_signatures(space.smallest()):
        if "k=3" in sig.key:
            table.entries[sig.key]["latency_ms"] = 1.0  # kernel 3 is slow on this device
    lut = COST_MODELS.get("lut")(target, SHAPE, space=space, path=str(table.save(tmp_path / "t.json")))
    value, arch = lut.lowest(space, smallest, None)["latency_ms"]
    assert arch != smallest and value == pytest.approx(lut.predict([arch])[0])
    assert value < lut.predict([smallest])[0]
