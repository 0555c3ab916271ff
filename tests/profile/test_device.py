"""The device report: profiler breakdown and latency against batch size (:mod:`hwnas.profile.device`)."""

import json


def test_op_breakdown_drops_warm_up_runs_and_runs_the_machine_disturbed(fast_target, monkeypatch, tmp_path):
    """Conv and Mul take 100 us each a run; the first run of a session (cold) and one run preempted
    for 50 ms while in Mul must not make Mul most of the network's time."""
    import hwnas.profile.device as device

    class FakeSession:
        def __init__(self):
            self.runs = 0

        def get_inputs(self):
            return [type("I", (), {"name": "input"})()]

        def run(self, outputs, feed):
            self.runs += 1

        def end_profiling(self):
            events, ts = [], 0
            for run in range(self.runs):
                mul_us = 50_000 if run in (0, self.runs - 3) else 100
                events.append({"cat": "Session", "name": "model_run", "ts": ts, "dur": 200 + mul_us})
                for name, op, dur in (("c", "Conv", 100), ("m", "Mul", mul_us)):
                    events.append({"cat": "Node", "name": f"{name}_kernel_time", "ts": ts + 1, "dur": dur,
                                   "args": {"op_name": op}})
                ts += 300 + mul_us
            path = tmp_path / f"trace{id(self)}.json"
            path.write_text(json.dumps(events))
            return str(path)

    monkeypatch.setattr(device, "make_session", lambda *args, **kwargs: FakeSession())
    rows = {r["op"]: r for r in device.op_breakdown(b"", fast_target, (1, 8, 8), runs=10)}
    assert rows["Conv"]["share_pct"] == rows["Mul"]["share_pct"] == 50.0
    assert rows["Conv"]["ms_per_run"] == rows["Mul"]["ms_per_run"] == 0.1


def test_latency_against_batch_size_is_one_interleaved_measurement(fast_target, space, monkeypatch):
    import hwnas.profile.device as device

    calls, real = [], device.measure_latency
    monkeypatch.setattr(device, "op_breakdown", lambda *args, **kwargs: [])
    monkeypatch.setattr(device, "measure_latency",
                        lambda models, *a, **k: calls.append(len(models)) or real(models, *a, **k))
    report = device.describe_device(fast_target, space, fast_target)
    assert calls == [len(device.REPORT_BATCHES)]  # one call: the machine's drift hits every batch size alike
    assert [r["batch_size"] for r in report["latency_vs_batch"]] == list(device.REPORT_BATCHES)
    assert report["latency_vs_batch"][-1]["latency_ms"] > report["latency_vs_batch"][0]["latency_ms"]
