"""``hwnas bench`` and the table search CLI, on a synthetic table (and the real one if present)."""

import csv
import shutil
from pathlib import Path

import pytest

from fakes import write_nb201_table
from hwnas.bench import BenchProblem, medians, run_bench
from hwnas.cli import main
from hwnas.exceptions import ConfigError

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "nb201" / "nb201_cifar10_hw.csv"


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("t") / "nb201.csv"
    write_nb201_table(path)
    return path


def test_hv_fraction_of_the_whole_table_is_one(table):
    problem = BenchProblem(table, "arch_str", "acc", "lat")
    assert problem.hv_fraction(problem.data.archs) == pytest.approx(1.0)
    assert problem.hv_fraction([]) == 0.0
    degenerate = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    assert problem.hv_fraction([degenerate]) == 0.0  # accuracy <= 11 % is dropped


def test_run_bench_scores_strategies_and_peers(table):
    records = run_bench(BenchProblem(table, "arch_str", "acc", "lat"), ["nsga2", "random"],
                        ["pymoo-nsga2", "optuna-nsga2"], [10, 30], seeds=2)
    assert len(records) == 4 * 2 * 2 and all(0 <= r.hv_fraction <= 1 for r in records)
    table_ = medians(records)
    assert set(table_) == {"nsga2", "random", "pymoo-nsga2", "optuna-nsga2"}
    assert all(d[30] >= d[10] * 0.9 for d in table_.values())


@pytest.mark.parametrize("search", ["nsga2", "pymoo-nsga2"])
def test_table_searches_evaluate_the_rows_of_cells_that_compute_one_network(table, search):
    # a table measured each such cell: its rows are what the search and the hypervolume see
    from hwnas.bench import PEERS, run_ours
    from hwnas.space.nb201 import NB201Space, without_dead_edges

    problem = BenchProblem(table, "arch_str", "acc", "lat")
    archs = PEERS.get(search)(problem, 0, 200) if search in PEERS.names() else run_ours(problem, search, 0, 200)
    space = NB201Space(dead_edges="keep")
    assert any(without_dead_edges(space.parse(a)) != space.parse(a) for a in archs)


def test_bench_cli_writes_csv_and_plot(table, tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["bench", "--table", str(table), "--cost", "latency_ms=lat", "--accuracy-column", "acc",
                 "--strategies", "nsga2,evolution", "--peers", "pymoo-nsga2", "--evaluations", "10,20",
                 "--seeds", "1", "--out", str(out), "--quiet"]) == 0
    with open(out / "bench.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["strategy"] for r in rows} == {"nsga2", "evolution", "pymoo-nsga2"} and len(rows) == 6
    assert (out / "bench.png").is_file() and (out / "summary.csv").is_file()
    out_text = capsys.readouterr().out
    assert "median hypervolume fraction over 1 seed:" in out_text  # not "1 seeds"
    # the peers are counted as peers, not as more strategies (4 strategies, 2 of them asked for)
    assert "; 2 strategies + 1 peer x 1 seed x evaluations [10, 20]" in out_text
    assert main(["bench", "--table", str(table), "--cost", "latency_ms=lat", "--accuracy-column", "acc",
                 "--strategies", "nsga3", "--out", str(out)]) == 2
    assert "unknown search strategy 'nsga3'" in capsys.readouterr().err


def test_table_search_cli(table, tmp_path, capsys):
    args = ["search", "--space", "nb201", "--table", str(table), "--arch-column", "arch_str",
            "--accuracy-column", "acc", "--cost", "latency_ms=lat", "--cost", "energy_mj=energy",
            "--evaluations", "24", "--strategy", "evolution", "--no-progress", "--out", str(tmp_path / "r")]
    assert main(args) == 0
    with open(tmp_path / "r" / "evaluations.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 24 and list(rows[0])[:7] == ["id", "arch", "status", "feasible", "error_pct",
                                                     "latency_ms", "energy_mj"]
    blank = [r for r in rows if r["status"] == "failed" and "blank cell" in r["reason"]]
    # the table's accuracy of a cell with a blank latency is still recorded, off every front
    assert blank and all(r["error_pct"] and r["feasible"] == "False" for r in blank)
    assert main(["search", "--space", "nb201", "--table", str(table), "--arch-column", "arch",
                 "--accuracy-column", "acc", "--cost", "latency_ms=lat", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "no architecture column 'arch'; available columns: idx, arch_str" in err
    assert "name one of them with --arch-column" in err  # the flag that fixes it
    assert main(["search", "--space", "nb201", "--table", str(table), "--out", str(tmp_path / "y")]) == 2
    assert "--accuracy-column, --cost" in capsys.readouterr().err
    assert main(["search", "--space", "mbv3", "--table", str(table), "--arch-column", "arch_str",
                 "--accuracy-column", "acc", "--cost", "latency_ms=lat", "--out", str(tmp_path / "z")]) == 2
    assert "needs a [task]" in capsys.readouterr().err


@pytest.mark.skipif(not REAL.is_file(), reason="shared NB201 table not present")
def test_real_nb201_table_search(tmp_path):
    assert main(["search", "--space", "nb201", "--table", str(REAL), "--arch-column", "arch_str",
                 "--accuracy-column", "val_acc_cifar10valid_nb201", "--cost", "latency_ms=edgegpu_latency",
                 "--evaluations", "60", "--no-progress", "--out", str(tmp_path / "t")]) == 0
    problem = BenchProblem(REAL, "arch_str", "test_acc_cifar10", "edgegpu_latency")
    assert problem.front_size > 10


def test_a_table_run_has_no_model_to_export_and_pick_suggests_no_export(table, tmp_path, capsys, cli_error):
    run = str(tmp_path / "r")
    assert main(["search", "--space", "nb201", "--table", str(table), "--arch-column", "arch_str",
                 "--accuracy-column", "acc", "--cost", "latency_ms=lat", "--evaluations", "12",
                 "--no-progress", "--out", run]) == 0
    capsys.readouterr()
    assert main(["pick", run]) == 0
    out = capsys.readouterr().out
    assert "picked" in out and "export" not in out
    cli_error(["pick", run, "--max-params", "100"], f"--max-params: {run} recorded no params; use --max-latency-ms")
    for bad in ("nan", "-1"):
        cli_error(["pick", run, "--max-latency-ms", bad], f"max_latency_ms = {float(bad)} must be a positive number")
    for extra in (["--untrained"], []):
        cli_error(["export", run, "1", "-o", str(tmp_path / "m.onnx"), *extra],
                  "is a table-backed run (no [task]): it has no model to export, --untrained or not",
                  "what it gives is the architecture '|", "its table row in evaluations.csv",
                  "search the nb201 space in a config with a [task]")
    assert main(["export", run, "500", "-o", str(tmp_path / "m.onnx")]) == 2
    assert f"no evaluation 500 in {run} (ids 1-12)" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()
    moved = tmp_path / "moved.csv"  # the table moved since: still the reason the user needs, not "not found"
    shutil.copy(table, moved)
    assert main(["search", "--space", "nb201", "--table", str(moved), "--arch-column", "arch_str",
                 "--accuracy-column", "acc", "--cost", "latency_ms=lat", "--evaluations", "4",
                 "--no-progress", "--out", run + "2"]) == 0
    moved.unlink()
    capsys.readouterr()
    cli_error(["export", run + "2", "1", "-o", str(tmp_path / "m.onnx")], "is a table-backed run (no [task])")


@pytest.mark.parametrize("flags, message", [
    (["--cost", "latency_ms=lat", "--strategies", "", "--peers", ""],
     "nothing to run: give --strategies and/or --peers"),
    (["--cost", "latency_ms=lat", "--cost", "energy_mj=energy"],
     "--cost is given 2 times (latency_ms=lat energy_mj=energy); bench scores one cost column"),
    (["--cost", "latency_ms=lat", "--min-accuracy", "nan"], "--min-accuracy nan must be a number"),
])
def test_bench_refuses_nothing_to_run_and_a_second_cost(table, tmp_path, flags, message, cli_error):
    cli_error(["bench", "--table", str(table), "--accuracy-column", "acc", "--evaluations", "10", "--seeds", "1",
               "--out", str(tmp_path / "b"), "--quiet", *flags], message)
    assert not (tmp_path / "b").exists()


def _bench_args(table, out, *extra):
    return ["bench", "--table", str(table), "--accuracy-column", "acc", "--cost", "latency_ms=lat",
            "--seeds", "1", "--out", str(out), "--quiet", *extra]


def test_bench_refuses_an_out_that_is_a_file_or_holds_a_benchmark_before_any_run(table, tmp_path, monkeypatch,
                                                                                  cli_error):
    import hwnas.bench

    ran = []
    monkeypatch.setattr(hwnas.bench, "run_ours", lambda *a, **k: ran.append(a) or [])
    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "file", tmp_path / "file" / "sub"):
        cli_error(_bench_args(table, out, "--evaluations", "10", "--peers", ""), "--out", "is a file")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "bench.csv").write_text("earlier work\n")
    cli_error(_bench_args(table, tmp_path / "old", "--evaluations", "10", "--peers", ""),
              "already holds a benchmark (bench.csv)", "choose another --out")
    assert (tmp_path / "old" / "bench.csv").read_text() == "earlier work\n" and not ran


def test_bench_runs_each_budget_once_in_increasing_order(table, tmp_path):
    out = tmp_path / "b"
    assert main(_bench_args(table, out, "--strategies", "random", "--peers", "pymoo-nsga2",
                            "--evaluations", "20,10,20")) == 0
    with open(out / "bench.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["strategy"], r["evaluations"]) for r in rows] == [("random", "10"), ("random", "20"),
                                                               ("pymoo-nsga2", "10"), ("pymoo-nsga2", "20")]
    with open(out / "summary.csv") as fh:
        assert next(csv.reader(fh)) == ["strategy", "10", "20"]


def test_bench_refuses_a_strategy_that_cannot_search_a_table_before_the_others_run(table, tmp_path, monkeypatch,
                                                                                   cli_error):
    import hwnas.bench

    ran = []
    monkeypatch.setattr(hwnas.bench, "run_ours", lambda *a, **k: ran.append(a) or [])
    cli_error(_bench_args(table, tmp_path / "b", "--strategies", "nsga2,darts", "--evaluations", "10"),
              "strategy 'darts' trains on the task's data", "leave it out: --strategies nsga2")
    assert not ran and not (tmp_path / "b").exists()


def test_bench_problem_refuses_fractions_and_a_column_that_is_not_the_space(table, tmp_path):
    with pytest.raises(ConfigError, match=r"'idx' row 2 \('0'\) is not a nb201 architecture"):
        BenchProblem(table, "idx", "acc", "lat")  # peers would miss every lookup and score 0
    with open(table) as fh:
        rows = list(csv.DictReader(fh))
    fractions = tmp_path / "fractions.csv"
    with open(fractions, "w", newline="") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows({**r, "acc": str(float(r["acc"]) / 100)} for r in rows)
    with pytest.raises(ConfigError, match="'acc' holds fractions .* scale the column by 100"):
        BenchProblem(fractions, "arch_str", "acc", "lat")
    negative = tmp_path / "negative.csv"  # refused as a table search refuses it, peers alone or not
    with open(negative, "w", newline="") as fh:
        w = csv.DictWriter(fh, list(rows[0]))
        w.writeheader()
        w.writerows({**r, "lat": "-1.5" if i == 3 else r["lat"]} for i, r in enumerate(rows))
    with pytest.raises(ConfigError, match=r"column 'lat' \(latency_ms\) row 5 holds -1.5; a time must be > 0"):
        BenchProblem(negative, "arch_str", "acc", "lat")


def test_bench_interrupted_keeps_the_finished_runs_and_exits_130(table, tmp_path, monkeypatch, capsys):
    import hwnas.bench

    real, calls = hwnas.bench.run_ours, []

    def run_ours(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C during the third run
        return real(*args, **kwargs)

    monkeypatch.setattr(hwnas.bench, "run_ours", run_ours)
    out = tmp_path / "b"
    try:
        code = main(_bench_args(table, out, "--strategies", "random", "--peers", "", "--evaluations", "10,20",
                                "--seeds", "2"))
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped `hwnas bench` as a traceback, losing the finished runs")
    assert code == 130
    assert "interrupted; the 2 finished runs are in" in capsys.readouterr().err
    with open(out / "bench.csv") as fh:
        assert [(r["seed"], r["evaluations"]) for r in csv.DictReader(fh)] == [("0", "10"), ("0", "20")]
    assert (out / "summary.csv").is_file() and (out / "bench.png").is_file()


def test_bench_searches_one_accuracy_column_and_scores_another(table, tmp_path, capsys, monkeypatch):
    # NB201's convention: search validation accuracy, report test accuracy
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh))
    two = tmp_path / "two.csv"
    with open(two, "w", newline="") as fh:
        writer = csv.DictWriter(fh, [*rows[0], "acc_test"])
        writer.writeheader()
        writer.writerows({**r, "acc_test": f"{100.0 - float(r['acc']):.4f}"} for r in rows)
    problem = BenchProblem(two, "arch_str", "acc", "lat", score_column="acc_test")
    arch = next(a for a in problem.data.archs if problem.table_value(a) and a in problem._points)
    acc = float(next(r["acc"] for r in rows if r["arch_str"] == arch))
    assert problem.table_value(arch)[0] == pytest.approx(100.0 - acc)  # what a search sees
    assert problem._points[arch][0] == pytest.approx(acc)  # what is scored: 100 - (100 - acc)
    import hwnas.bench

    titles = []
    monkeypatch.setattr(hwnas.bench, "plot_bench", lambda path, records, title: titles.append(title))
    assert main(["bench", "--table", str(two), "--accuracy-column", "acc", "--score-column", "acc_test",
                 "--cost", "latency_ms=lat", "--evaluations", "10", "--seeds", "1", "--peers", "",
                 "--strategies", "random", "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert "(acc_test x lat, searched on acc)" in capsys.readouterr().out
    # and the figure says so too: it is scored on acc_test, but the searches never saw that column
    assert titles == ["two.csv: acc_test x lat, median of 1 seed\nsearched on acc"]


def test_bench_keeps_each_finished_run_as_it_comes_whatever_stops_it(table, tmp_path, monkeypatch):
    # a crash (or SIGKILL) leaves no chance to write at the end: bench.csv grows run by run
    import hwnas.bench

    real, calls = hwnas.bench.run_ours, []

    def run_ours(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("the machine went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(hwnas.bench, "run_ours", run_ours)
    out = tmp_path / "b"
    with pytest.raises(RuntimeError):
        main(_bench_args(table, out, "--strategies", "random", "--peers", "", "--evaluations", "10,20"))
    with open(out / "bench.csv") as fh:
        assert [(r["strategy"], r["evaluations"]) for r in csv.DictReader(fh)] == [("random", "10")]


def test_bench_refuses_a_peer_whose_library_is_missing_before_any_run(table, tmp_path, monkeypatch, cli_error):
    import sys

    import hwnas.bench

    ran = []
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if not installed: importing it fails
    monkeypatch.setattr(hwnas.bench, "run_ours", lambda *a, **k: ran.append(a) or [])
    cli_error(_bench_args(table, tmp_path / "b", "--strategies", "random", "--peers", "pymoo-nsga2,optuna-nsga2"),
              "peer 'optuna-nsga2': optuna is not installed", "pip install", "or leave it out: --peers pymoo-nsga2")
    assert not ran and not (tmp_path / "b").exists()


def test_bench_says_once_that_a_small_table_leaves_most_proposals_failed(table, tmp_path, capsys):
    small = tmp_path / "small.csv"
    small.write_text("\n".join(table.read_text().splitlines()[:301]) + "\n")
    assert main(["bench", "--table", str(small), "--cost", "latency_ms=lat", "--accuracy-column", "acc",
                 "--strategies", "random", "--peers", "", "--evaluations", "5,10", "--seeds", "2",
                 "--out", str(tmp_path / "b"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.count("hwnas: note:") == 1 and "rows for 300 of nb201's 15625 architectures" in err, err
    assert "most of the 10 evaluations will fail" in err


def test_bench_with_no_scorable_row_says_to_lower_min_accuracy(table, tmp_path, cli_error):
    cli_error(_bench_args(table, tmp_path / "b", "--strategies", "random", "--peers", "", "--min-accuracy", "99"),
              "no row has both 'acc' > 99 and 'lat'", "lower --min-accuracy")


@pytest.mark.parametrize("flags, message", [
    (["--strategies", "random,darts"], "strategy 'darts' trains on the task's data"),
    (["--strategies", "random", "--peers", "optuna-nsga2"], "peer 'optuna-nsga2': optuna is not installed"),
])
def test_bench_refuses_before_it_prints_anything(table, tmp_path, monkeypatch, capsys, flags, message):
    import sys

    monkeypatch.setitem(sys.modules, "optuna", None)  # as if not installed: importing it fails
    assert main(_bench_args(table, tmp_path / "b", "--evaluations", "10", *flags)) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.splitlines() == [captured.err.strip()]
    assert message in captured.err


def test_search_and_bench_find_the_same_architecture_column_without_the_flag(table, tmp_path, cli_error):
    renamed = tmp_path / "arch.csv"  # the same table with its column named 'arch'
    renamed.write_text(table.read_text().replace("idx,arch_str,", "idx,arch,", 1))
    neither = tmp_path / "neither.csv"
    neither.write_text(table.read_text().replace("idx,arch_str,", "idx,cell,", 1))
    for i, path in enumerate((table, renamed)):
        assert main(["search", "--space", "nb201", "--table", str(path), "--accuracy-column", "acc",
                     "--cost", "latency_ms=lat", "--evaluations", "4", "--strategy", "random", "--no-progress",
                     "--out", str(tmp_path / f"s{i}")]) == 0
        assert main(_bench_args(path, tmp_path / f"b{i}", "--strategies", "random", "--peers", "",
                                "--evaluations", "4")) == 0
    for argv in (["search", "--space", "nb201", "--table", str(neither), "--accuracy-column", "acc",
                  "--cost", "latency_ms=lat", "--out", str(tmp_path / "s")],
                 _bench_args(neither, tmp_path / "b")):
        cli_error(argv, "has neither an 'arch' nor an 'arch_str' column", "columns: idx, cell, acc, lat, energy",
                  "--arch-column")


def test_an_interrupted_bench_plot_says_how_many_seeds_its_medians_have(table, tmp_path, monkeypatch):
    import hwnas.bench

    real, calls, titles = hwnas.bench.run_ours, [], []

    def run_ours(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C during seed 1 of 3: the medians are of seed 0 alone
        return real(*args, **kwargs)

    monkeypatch.setattr(hwnas.bench, "run_ours", run_ours)
    monkeypatch.setattr(hwnas.bench, "plot_bench", lambda path, records, title: titles.append(title))
    assert main(_bench_args(table, tmp_path / "b", "--strategies", "random", "--peers", "", "--evaluations", "10,20",
                            "--seeds", "3")) == 130
    assert titles and titles[-1].endswith("median of 1 of 3 seeds (interrupted)"), titles
    calls.clear()
    monkeypatch.setattr(hwnas.bench, "run_ours", real)
    assert main(_bench_args(table, tmp_path / "c", "--strategies", "random", "--peers", "", "--evaluations", "10",
                            "--seeds", "2")) == 0
    assert titles[-1].endswith("median of 2 seeds"), titles


def test_bench_plot_labels_its_budgets_on_the_evaluations_axis(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from hwnas.bench import BenchRecord, plot_bench

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    records = [BenchRecord(s, seed, n, 0.5 + n / 1000, 0.1) for s in ("nsga2", "random") for seed in (0, 1)
               for n in (20, 50, 200)]
    plot_bench(tmp_path / "b.png", records, "t")
    ax = figures[0].axes[0]
    # the budgets, as numbers (a bare log axis labels 20 as 2×10¹ and 50, 200 not at all)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["20", "50", "200"]
    assert list(ax.get_xticks()) == [20, 50, 200] and not len(ax.get_xticks(minor=True))
    assert (tmp_path / "b.png").is_file()
