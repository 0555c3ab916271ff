"""The executor base: how a worker's torch threads are chosen."""

from hwnas.execute import threads_per_worker


def test_workers_share_the_cores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert [threads_per_worker(w) for w in (1, 2, 3, 16)] == [8, 4, 2, 1]


def test_omp_num_threads_caps_every_worker(monkeypatch):
    # OMP_NUM_THREADS=1 keeps the in-process search at one thread; a worker (started by
    # --eval-timeout alone) ran with all the cores, and stalled on a busy machine
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads_per_worker(1) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert [threads_per_worker(w) for w in (1, 2, 4)] == [3, 3, 2]
    monkeypatch.setenv("OMP_NUM_THREADS", "")  # unset in effect
    assert threads_per_worker(1) == 8
