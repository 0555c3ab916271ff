"""Where latency tables live: one folder per device, a config's own table, a remote table found."""

import pytest

from fakes import hand_table
from hwnas.cost import COST_MODELS, load_target
from hwnas.cost.device import device_folder, local_device
from hwnas.cost.lut import latency_choice
from hwnas.cost.lut_paths import find_table
from hwnas.exceptions import LatencyTableError
from hwnas.space import make_space

from .conftest import SHAPE


def test_tables_live_in_one_folder_per_device(space, target):
    path = find_table(target, space)
    assert path.parent.name == device_folder(local_device(target)) and path.parent.parent.name == "cpu-ort-1t"
    assert path.name == "mbv3-1x8x8.json"
    assert find_table(target, space, "my/table.json").as_posix() == "my/table.json"


def test_a_config_is_told_to_build_its_table_beside_it_when_latency_tables_holds_another_configurations(tmp_path, monkeypatch):
    import hwnas.cost.lut_paths as lut_paths
    import hwnas.cost.lut_table as lut_table

    monkeypatch.setattr(lut_paths, "tables_dir", lambda: tmp_path / "tables")  # no table at all
    config = tmp_path / "narrow.toml"
    config.write_text("")
    names, cost = ["counts", "ort"], {"target": "cpu-ort-1t"}
    narrowed = make_space("mbv3", (1, 8, 8), 10, widths=[0.5])
    _, note, _ = latency_choice(names, cost, narrowed, explicit=False, source=str(config))
    assert f"--task {config}`" in note  # no table in latency_tables/ yet: build it there, where searches look
    full = make_space("mbv3", (1, 8, 8), 10)
    target = load_target("cpu-ort-1t")
    hand_table(narrowed, target).save(lut_paths.local_table_path(target, full))  # latency_tables/ holds another's
    _, note, _ = latency_choice(names, cost, full, explicit=False, source=str(config))
    assert f"--task {config} --out {tmp_path / 'narrow-mbv3-1x8x8.json'}`" in note  # not over that table
    assert lut_table.table_to_build(target, narrowed, str(config)) is None  # the same configuration: latency_tables/


def test_a_table_built_beside_its_config_is_found_by_the_search(space, target, tmp_path, monkeypatch):
    import hwnas.cost.lut_paths as lut_paths

    monkeypatch.setattr(lut_paths, "tables_dir", lambda: tmp_path / "tables")  # nothing in latency_tables/
    config = tmp_path / "narrow.toml"
    config.write_text("")
    own = tmp_path / f"narrow-mbv3-{SHAPE[0]}x{SHAPE[1]}x{SHAPE[2]}.json"
    assert lut_paths.own_table_path(space, str(config)) == own  # where profile's hint writes it
    hand_table(space, target).save(own)
    assert find_table(target, space, config_source=str(config)) == own
    assert find_table(target, space, tmp_path / "other.json", str(config)) == tmp_path / "other.json"  # a path wins
    names, note, _ = latency_choice(["counts", "ort"], {"target": "cpu-ort-1t"}, space, explicit=False,
                                    source=str(config))
    assert (names, note) == (["counts", "lut"], None)
    model = COST_MODELS.get("lut")(target, SHAPE, space=space, config_source=str(config))
    assert model.table.meta["space"] == space.describe()


def test_default_lookup_finds_a_single_remote_table(space, target, tmp_path, monkeypatch):
    import hwnas.cost.lut_paths as lut_paths

    monkeypatch.setattr(lut_paths, "tables_dir", lambda: tmp_path)
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
    here = hand_table(space, target).save(lut_paths.local_table_path(target, space))  # this machine's own wins
    assert find_table(target, space) == here


def _stored_run(run):
    """A run folder whose store holds a narrowed mbv3 LUT search's config (and nothing else); (run, config)."""
    from hwnas.config import config_from_dict
    from hwnas.store import Store

    config = config_from_dict({"task": {"dataset": "digits"}, "space": {"name": "mbv3", "widths": [0.5]},
                               "cost": {"target": "cpu-ort-1t", "models": ["counts", "lut"]},
                               "search": {"objectives": ["error", "latency_ms"], "evaluations": 2}})
    run.mkdir()
    store = Store(run / Store.FILE_NAME)
    store.set_meta("config", config.to_dict())
    store.close()
    return run, config


def test_a_run_read_back_is_told_to_build_its_table_beside_its_config_json(tmp_path, monkeypatch):
    import json
    import shlex

    import hwnas.cost.lut_paths as lut_paths
    from hwnas.outputs import load_run

    monkeypatch.setattr(lut_paths, "tables_dir", lambda: tmp_path / "tables")
    target = load_target("cpu-ort-1t")
    full = make_space("mbv3", (1, 8, 8), 10)
    hand_table(full, target).save(lut_paths.local_table_path(target, full))  # latency_tables/ holds another's
    run, config = _stored_run(tmp_path / "my run")
    (run / "config.json").write_text(json.dumps(config.to_dict()))
    lut = next(c for c in load_run(run).components().cost_models if c.name == "lut")
    # hwnas profile reads the run's config.json, and a table beside it is the run's own
    assert shlex.split(lut.fix)[-4:] == ["--task", str(run / "config.json"), "--out", str(run / "config-mbv3-1x8x8.json")]
    assert lut_paths.own_table_path(lut.space, str(run / "config.json")) == run / "config-mbv3-1x8x8.json"


def test_a_run_killed_before_writing_its_config_json_names_its_store_not_that_file(tmp_path, monkeypatch):
    import hwnas.cost.lut_paths as lut_paths
    from hwnas.outputs import load_run
    from hwnas.store import Store

    monkeypatch.setattr(lut_paths, "tables_dir", lambda: tmp_path / "tables")
    run, _ = _stored_run(tmp_path / "killed")
    with pytest.raises(LatencyTableError) as info:  # no table yet: the message names the config and the rebuild
        load_run(run).components()
    message = str(info.value)
    assert message.startswith(f"<config in {run / Store.FILE_NAME}>: no latency table for target cpu-ort-1t")
    assert "config.json" not in message and "--task" not in message  # no file of its config for profile to read
