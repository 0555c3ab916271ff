"""The local executor with real worker processes: same evaluations as serial, timeouts, dead workers."""

import csv

import pytest

from fakes import interrupt_at
from hwnas.exceptions import ConfigError, RegistryError
from hwnas.search.runner import run_search
from hwnas.store import Store

EVALS = {"evaluations": 16}


def _rows(path):
    with open(path) as fh:
        return [{k: v for k, v in r.items() if k != "duration_s"} for r in csv.DictReader(fh)]


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The serial reference run (in-process) and the arch of its fourth evaluation."""
    from conftest import small_config

    run = tmp_path_factory.mktemp("serial") / "run"
    run_search(small_config(search=EVALS), run, progress=False)
    rows = _rows(run / "evaluations.csv")
    return rows, rows[3]["arch"]


def test_two_workers_give_the_serial_evaluations_even_when_one_dies(tmp_path, make_config, serial):
    rows, victim = serial
    cfg = make_config(search=EVALS, execution={"workers": 2},
                      estimator={"crash_substring": victim, "crash_once_dir": str(tmp_path)})
    summary = run_search(cfg, tmp_path / "r", progress=False)
    assert (tmp_path / f"{__import__('zlib').crc32(victim.encode())}.crashed").exists()  # it did die once
    assert _rows(tmp_path / "r" / "evaluations.csv") == rows  # retried once: same rows, same order
    assert summary.new_evaluations == len(rows) == len(Store(tmp_path / "r" / "store.sqlite"))


def test_a_worker_killed_while_starting_is_replaced_and_the_search_goes_on(tmp_path, make_config, serial):
    """A worker killed (kill -9, the out-of-memory killer) before it is ready held no candidate: it
    is replaced, not blamed on a script's missing ``__main__`` guard with the search stopped."""
    rows, _ = serial
    cfg = make_config(search=EVALS, execution={"workers": 2},
                      estimator={"kill_worker_at_start_dir": str(tmp_path)})
    run_search(cfg, tmp_path / "r", progress=False)
    assert (tmp_path / "worker.killed").exists()  # one worker did die while starting
    assert _rows(tmp_path / "r" / "evaluations.csv") == rows


def test_timeout_fails_the_candidate_and_the_search_goes_on(tmp_path, make_config, serial):
    rows, victim = serial
    cfg = make_config(search=EVALS, execution={"eval_timeout_s": 2.0},
                      estimator={"sleep_substring": victim, "sleep_s": 600})
    run_search(cfg, tmp_path / "r", progress=False)
    got = {r["arch"]: r for r in _rows(tmp_path / "r" / "evaluations.csv")}
    assert got[victim]["status"] == "failed"
    assert got[victim]["reason"] == "TimeoutError: evaluation exceeded eval_timeout_s = 2 s"
    assert len(got) == len(rows) and sum(r["status"] == "failed" for r in got.values()) == 1


def test_a_worker_dying_every_time_fails_only_its_candidate(tmp_path, make_config, serial):
    rows, victim = serial
    cfg = make_config(search=EVALS, execution={"workers": 2}, estimator={"crash_substring": victim})
    run_search(cfg, tmp_path / "r", progress=False)
    got = {r["arch"]: r for r in _rows(tmp_path / "r" / "evaluations.csv")}
    assert got[victim]["status"] == "failed"
    assert got[victim]["reason"] == "WorkerDied: the worker process exited (code 17) on 2 attempts"
    with open(tmp_path / "r" / "evaluations.csv") as fh:  # the seconds its two attempts ran, not 0
        assert next(float(r["duration_s"]) for r in csv.DictReader(fh) if r["arch"] == victim) > 0
    assert len(got) == len(rows) and sum(r["status"] == "failed" for r in got.values()) == 1


def test_resume_may_change_the_workers(tmp_path, make_config, serial, monkeypatch):
    rows, _ = serial
    interrupt_at(monkeypatch, 6)
    with pytest.raises(KeyboardInterrupt):
        run_search(make_config(search=EVALS), tmp_path / "r", progress=False)
    monkeypatch.undo()
    resumed = run_search(make_config(search=EVALS, execution={"workers": 2}), tmp_path / "r",
                         resume=True, progress=False)
    assert resumed.new_evaluations == len(rows) - 5
    assert _rows(tmp_path / "r" / "evaluations.csv") == rows


@pytest.mark.parametrize("execution, error, message", [
    ({"workers": 0}, ConfigError, r"\[execution\]: workers = 0 must be an integer >= 1"),
    ({"workers": 1.5}, ConfigError, r"workers = 1.5 must be an integer >= 1"),
    ({"eval_timeout_s": -1}, ConfigError, r"eval_timeout_s = -1 must be a positive number of seconds"),
    ({"eval_timeout_s": float("inf")}, ConfigError, r"eval_timeout_s = inf .* at most 604800 .* leave it out"),
    ({"eval_timeout_s": 3e6}, ConfigError, r"eval_timeout_s = 3000000.0 must be a positive number"),
    ({"executor": "threads"}, RegistryError, r"unknown executor 'threads'; choose one of: local, ray"),
    ({"address": "auto"}, ConfigError, r"\[execution\]: 'local' has no option\(s\) 'address'"),
])
def test_bad_execution_settings_are_refused_before_anything_is_written(tmp_path, make_config, execution,
                                                                       error, message):
    with pytest.raises(error, match=message):
        run_search(make_config(search=EVALS, execution=execution), tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


def test_a_plugin_module_a_worker_cannot_import_is_named(make_config):
    """A module registered under a name the worker cannot import (loaded from a file, not on the
    path) is one error naming it, not a dead worker blamed on a missing ``__main__`` guard."""
    from hwnas.exceptions import ExecutionError
    from hwnas.execute import WorkerSpec

    spec = WorkerSpec(make_config(), None, ("fakes", "audit_no_such_plugin"), 1)
    with pytest.raises(ExecutionError, match=r"^a worker process cannot import 'audit_no_such_plugin', the module "
                                             r"that registered a part of this search \(ModuleNotFoundError: .*\); "
                                             r".*PYTHONPATH.*workers = 1$"):
        spec.build_evaluator()


def _search_process(run_dir, **sections) -> list[str]:
    """The command line of a search (``small_config`` with ``sections``) in a process of its own,
    for what ends a process; ``--resume`` appended resumes it."""
    import sys
    from pathlib import Path

    tests = Path(__file__).resolve().parents[1]
    script = (f"import sys; sys.path.insert(0, {str(tests)!r}); import fakes; from conftest import small_config; "
              f"from hwnas.search.runner import run_search; "
              f"run_search(small_config(search={EVALS!r}, **{sections!r}), {str(run_dir)!r}, "
              f"resume=len(sys.argv) > 1, progress=False)")
    return [sys.executable, "-c", script]


def test_a_candidate_that_ends_the_search_process_is_tried_once_more_then_recorded_failed(tmp_path, serial):
    import subprocess

    rows, victim = serial
    command = _search_process(tmp_path / "r", estimator={"crash_substring": victim})

    def session(*resume):
        return subprocess.run([*command, *resume], capture_output=True, text=True)

    assert session().returncode == 17  # in process (1 worker, no timeout): the candidate ends the search
    store = Store(tmp_path / "r" / "store.sqlite")
    assert store.get_meta("in_process") == {"arch": victim, "attempt": 1} and store.get(victim) is None
    store.close()
    second = session("--resume")
    assert second.returncode == 17 and f"the last session ended while evaluating {victim}" in second.stderr
    third = session("--resume")
    assert third.returncode == 0, third.stderr
    got = {r["arch"]: r for r in _rows(tmp_path / "r" / "evaluations.csv")}
    assert got[victim]["status"] == "failed" and got[victim]["reason"].startswith(
        "ProcessDied: the search process ended while evaluating it, on 2 attempts")
    archs = [r["arch"] for r in _rows(tmp_path / "r" / "evaluations.csv")]
    first = [r["arch"] for r in rows].index(victim) + 1
    assert archs[:first] == [r["arch"] for r in rows][:first] and len(archs) == len(rows)  # then told a failure
    assert sum(r["status"] == "failed" for r in got.values()) == 1


@pytest.mark.skipif(not __import__("os").path.isdir("/proc/self"), reason="reads /proc")
def test_workers_end_when_the_search_process_is_killed(tmp_path, serial):
    import os
    import signal
    import subprocess
    import time
    from pathlib import Path

    _, victim = serial
    search = subprocess.Popen(_search_process(tmp_path / "r", execution={"workers": 2},
                                              estimator={"sleep_substring": victim, "sleep_s": 600}))

    def children():
        out = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            except OSError:
                continue
            if fields.get("PPid", "").strip() == str(search.pid):
                out.append(int(status.parent.name))
        return out

    deadline = time.time() + 120
    while time.time() < deadline and not (len(children()) >= 2 and (tmp_path / "r" / "store.sqlite").exists()):
        time.sleep(0.5)
    time.sleep(3)  # the workers are evaluating; one sleeps on its candidate
    workers = children()
    assert len(workers) >= 2
    os.kill(search.pid, signal.SIGKILL)
    search.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.2)
    left = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "workers outlived the killed search"


@pytest.mark.parametrize("broken_at", ["ready", "done"])
def test_a_worker_whose_search_process_is_gone_ends_quietly(monkeypatch, broken_at):
    import hwnas.execute.local as local

    class _Pipe:  # the search process was killed: sending to it breaks the pipe
        def __init__(self):
            self.tasks = [(0, [0]), None]

        def send(self, message):
            if message[0] == broken_at:
                raise BrokenPipeError(32, "Broken pipe")

        def recv(self):
            return self.tasks.pop(0)

    class _Spec:
        def build_evaluator(self):
            return type("E", (), {"evaluate": staticmethod(lambda genome: "evaluation")})()

    monkeypatch.setattr(local, "_exit_with", lambda parent: None)
    monkeypatch.setattr(local.signal, "signal", lambda *args: None)  # leave pytest's Ctrl-C alone
    assert local._worker_main(_Pipe(), _Spec(), 0) is None  # no BrokenPipeError traceback
