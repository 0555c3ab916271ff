"""A search stopped by an interrupt or an error (:mod:`hwnas.search.stopped`): what finished is written, and resumes."""

import csv

import pytest

from fakes import interrupt_at
from hwnas.exceptions import StoreError
from hwnas.search.runner import run_search
from hwnas.store import Store


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_an_interrupt_while_the_front_is_re_measured_still_writes_the_outputs(tmp_path, make_config, monkeypatch):
    from hwnas.search.runner import SearchRun

    def interrupted(self, archs):
        raise KeyboardInterrupt

    monkeypatch.setattr(SearchRun, "verify_front", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_search(make_config(search={"evaluations": 8}), tmp_path / "r", progress=False)
    for name in ("evaluations.csv", "front.csv", "pareto.png", "config.json"):
        assert (tmp_path / "r" / name).is_file(), name


def test_an_interrupt_before_the_run_is_recorded_writes_no_outputs_and_resumes(tmp_path, make_config, monkeypatch):
    # outputs beside a store with no config would read as a damaged run to --resume ("lost its run's config")
    real = Store.set_meta

    def interrupted(self, key, value):  # Ctrl-C while the run's settings are stored, before its config
        if key == "config":
            raise KeyboardInterrupt
        return real(self, key, value)

    config = make_config(search={"evaluations": 8})
    with monkeypatch.context() as m:
        m.setattr(Store, "set_meta", interrupted)
        with pytest.raises(KeyboardInterrupt):
            run_search(config, tmp_path / "r", progress=False)
    assert (tmp_path / "r" / Store.FILE_NAME).is_file() and not (tmp_path / "r" / "evaluations.csv").exists()
    assert run_search(config, tmp_path / "r", resume=True, progress=False).evaluations == 8


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_full_disk_mid_search_is_one_store_error_and_keeps_what_finished(tmp_path, make_config):
    import gc

    real_add, real_set_meta, full = Store.add, Store.set_meta, {"on": False}

    def add(self, ev):
        if len(self) == 5:
            full["on"] = True
        if full["on"]:
            raise StoreError(f"{self.path}: disk I/O error; free space (or fix the disk), then --resume")
        return real_add(self, ev)

    def set_meta(self, key, value):
        if full["on"]:
            raise StoreError(f"{self.path}: disk I/O error; free space (or fix the disk), then --resume")
        real_set_meta(self, key, value)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(Store, "add", add)
        m.setattr(Store, "set_meta", set_meta)
        with pytest.raises(StoreError, match="disk I/O error") as caught:
            run_search(make_config(), tmp_path / "r", progress=False)
        gc.collect()  # the evaluation generator's clean-up ran without a second, unraisable error
    assert caught.value.stored == 5
    with open(tmp_path / "r" / "evaluations.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 5


def test_ctrl_c_pressed_twice_still_writes_every_evaluation(tmp_path, make_config, monkeypatch):
    # the second Ctrl-C comes while the first one's outputs are written: evaluations.csv must still list them all
    import os
    import signal

    import hwnas.outputs as outputs

    real, calls = outputs.write_csv, {"n": 0}

    def second_ctrl_c(path, rows, columns):
        calls["n"] += 1
        if calls["n"] == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return real(path, rows, columns)

    monkeypatch.setattr(outputs, "write_csv", second_ctrl_c)
    interrupt_at(monkeypatch, 10)
    with pytest.raises(KeyboardInterrupt):
        run_search(make_config(search={"evaluations": 16}), tmp_path / "r", progress=False)
    assert len(_rows(tmp_path / "r" / "evaluations.csv")) == 9  # all that finished before the first Ctrl-C
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl-C stops the process again
