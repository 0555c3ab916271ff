"""The Ray executor on a real local Ray cluster that the executor starts (no mocks), and its set-up."""

import csv
import os
import zlib

import pytest

from hwnas.search.runner import run_search

pytest.importorskip("ray")

EVALS = {"evaluations": 16}


def _rows(path):
    with open(path) as fh:
        return [{k: v for k, v in r.items() if k != "duration_s"} for r in csv.DictReader(fh)]


def test_ray_gives_the_serial_evaluations_through_a_dead_actor_and_a_timeout(tmp_path, make_config):
    import ray

    run_search(make_config(search=EVALS), tmp_path / "serial", progress=False)
    rows = _rows(tmp_path / "serial" / "evaluations.csv")
    crashes, sleeper = rows[3]["arch"], rows[9]["arch"]
    cfg = make_config(search=EVALS, execution={"executor": "ray", "workers": 2, "eval_timeout_s": 10},
                      estimator={"crash_substring": crashes, "crash_once_dir": str(tmp_path),
                                 "sleep_substring": sleeper, "sleep_s": 600})
    summary = run_search(cfg, tmp_path / "ray", progress=False)
    assert not ray.is_initialized()  # the executor stopped the cluster it started
    assert (tmp_path / f"{zlib.crc32(crashes.encode())}.crashed").exists()  # the actor really died once
    got = _rows(tmp_path / "ray" / "evaluations.csv")
    assert len(got) == summary.new_evaluations == len(rows)
    for a, b in zip(rows, got):
        if b["arch"] == sleeper:
            assert b["status"] == "failed" and b["reason"].startswith("TimeoutError: evaluation exceeded")
        else:
            assert a == b  # same arch, same metrics, same order; the crashed one was retried once


def test_an_actor_killed_while_starting_is_replaced_and_the_search_goes_on(tmp_path, make_config):
    """An actor killed (kill -9, the out-of-memory killer, a lost node) before it is ready held no
    candidate: it is replaced, not reported as an evaluator that cannot be built with the search stopped."""
    run_search(make_config(search=EVALS), tmp_path / "serial", progress=False)
    cfg = make_config(search=EVALS, execution={"executor": "ray", "workers": 2},
                      estimator={"kill_worker_at_start_dir": str(tmp_path)})
    run_search(cfg, tmp_path / "ray", progress=False)
    assert (tmp_path / "worker.killed").exists()  # one actor did die while starting
    assert _rows(tmp_path / "ray" / "evaluations.csv") == _rows(tmp_path / "serial" / "evaluations.csv")


def test_an_actor_dying_every_time_fails_its_candidate_with_the_seconds_it_ran(tmp_path, make_config):
    run_search(make_config(search=EVALS), tmp_path / "serial", progress=False)
    victim = _rows(tmp_path / "serial" / "evaluations.csv")[3]["arch"]
    cfg = make_config(search=EVALS, execution={"executor": "ray", "workers": 2},
                      estimator={"crash_substring": victim})
    run_search(cfg, tmp_path / "ray", progress=False)
    with open(tmp_path / "ray" / "evaluations.csv") as fh:
        row = next(r for r in csv.DictReader(fh) if r["arch"] == victim)
    assert row["status"] == "failed" and row["reason"].startswith("WorkerDied: the Ray actor died on 2 attempts")
    assert float(row["duration_s"]) > 0  # its two attempts ran, not 0 s


def test_an_address_where_nothing_answers_is_one_error_not_a_hang(tmp_path, make_config):
    # ray.init(address=...) retries such an address forever
    from hwnas.exceptions import ExecutionError

    cfg = make_config(search=EVALS, execution={"executor": "ray", "workers": 1, "address": "127.0.0.1:1"})
    with pytest.raises(ExecutionError, match=r"cannot start or reach a Ray cluster at '127.0.0.1:1' \(ConnectionError: "
                                             r"nothing answers at 127.0.0.1:1"):
        run_search(cfg, tmp_path / "r", progress=False)


def test_a_local_cluster_chooses_token_auth_before_ray_is_imported(monkeypatch):
    # left unset, Ray chooses token authentication itself and logs a WARNING saying so
    import sys

    from hwnas.execute.ray import _quiet_token_auth

    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    monkeypatch.delitem(sys.modules, "ray")
    _quiet_token_auth("127.0.0.1:6379")  # a cluster elsewhere has its own mode
    assert "RAY_AUTH_MODE" not in os.environ
    _quiet_token_auth(None)
    assert os.environ["RAY_AUTH_MODE"] == "token"
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # the user's choice stands
    _quiet_token_auth(None)
    assert os.environ["RAY_AUTH_MODE"] == "disabled"


def test_a_local_cluster_with_ray_already_imported_is_left_to_ray(monkeypatch):
    # Ray reads the mode at import: setting it afterwards makes ray.init fail with AuthenticationError
    from hwnas.execute.ray import _quiet_token_auth

    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    _quiet_token_auth(None)
    assert "RAY_AUTH_MODE" not in os.environ


def test_checking_for_ray_does_not_import_it():
    import subprocess
    import sys

    code = ("import sys; from hwnas.execute.ray import RayExecutor; RayExecutor.check_requirements(); "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


class _FakeRay:
    """Just enough of Ray for RayExecutor.map: a cluster with ``cpus`` CPUs, where an actor beyond
    them never starts (its refs never finish), and the others evaluate at once."""

    class exceptions:
        class RayError(Exception):
            pass

        class RayActorError(RayError):
            pass

    class _Ref:
        def __init__(self, value, stuck):
            self.value, self.stuck = value, stuck

    def __init__(self, cpus):
        self.cpus, self.actors = cpus, 0

    def is_initialized(self):
        return True

    def cluster_resources(self):
        return {"CPU": self.cpus}

    def remote(self, **resources):
        ray = self

        class Method:
            def __init__(self, fn, stuck):
                self.fn, self.stuck = fn, stuck

            def remote(self, *args):
                return ray._Ref(self.fn(*args), self.stuck)

        class Actor:
            def __init__(self, stuck):
                self.ready = Method(lambda: True, stuck)
                self.evaluate = Method(lambda genome: ("done", int(genome[0])), stuck)

        class ActorClass:
            @staticmethod
            def remote(spec):
                ray.actors += 1
                return Actor(stuck=ray.actors > ray.cpus)

        return lambda cls: ActorClass

    def wait(self, refs, num_returns=1, timeout=None):
        ready = [r for r in refs if not r.stuck][:num_returns]
        assert ready or timeout is not None, "the search waits forever on actors that cannot start"
        return ready, [r for r in refs if r not in ready]

    def get(self, refs):
        if isinstance(refs, list):
            assert not any(r.stuck for r in refs), "the search waits forever on actors that cannot start"
            return [r.value for r in refs]
        return refs.value


def test_fewer_cpus_than_workers_evaluates_on_the_actors_that_start(monkeypatch, capsys):
    # the executor waited for every actor to be ready: on a 1-CPU cluster with 2 workers the search
    # never evaluated anything, although its note said the others start when the cluster grows
    import numpy as np

    from hwnas.execute import WorkerSpec
    from hwnas.execute.ray import RayExecutor

    monkeypatch.setattr("hwnas.execute.ray.require", lambda *args: _FakeRay(cpus=1))
    spec = WorkerSpec(config=None, weights_dir=None, modules=(), threads=1)
    executor = RayExecutor(None, spec, workers=2, eval_timeout_s=None)
    assert "the Ray cluster has 1 CPU(s) now for --workers 2" in capsys.readouterr().err
    got = dict(executor.map([np.array([g]) for g in range(5)]))
    assert got == {i: i for i in range(5)}  # every genome, on the one actor the cluster could start


def test_a_local_cluster_that_cannot_start_names_no_address(tmp_path, make_config, monkeypatch):
    # it read "cannot start or reach a Ray cluster at 'a new local one' ...; check address", a
    # setting the user never gave
    import ray

    from hwnas.exceptions import ExecutionError

    def init(**kwargs):
        raise RuntimeError("no room for the raylet")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    cfg = make_config(search=EVALS, execution={"executor": "ray", "workers": 1})
    with pytest.raises(ExecutionError, match=r"cannot start a local Ray cluster here \(RuntimeError: no room for the "
                                             r"raylet\); run with workers on this machine \(--executor local\)") as err:
        run_search(cfg, tmp_path / "r", progress=False)
    assert "check address" not in str(err.value) and "a new local one" not in str(err.value)
