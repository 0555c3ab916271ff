"""The Ray executor on a real local Ray cluster that the executor starts (no mocks)."""

import csv
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


def test_an_address_where_nothing_answers_is_one_error_not_a_hang(tmp_path, make_config):
    # ray.init(address=...) retries such an address forever
    from hwnas.exceptions import ExecutionError

    cfg = make_config(search=EVALS, execution={"executor": "ray", "workers": 1, "address": "127.0.0.1:1"})
    with pytest.raises(ExecutionError, match=r"cannot start or reach a Ray cluster at '127.0.0.1:1' \(ConnectionError: "
                                             r"nothing answers at 127.0.0.1:1"):
        run_search(cfg, tmp_path / "r", progress=False)
