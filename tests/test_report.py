"""Console reports: what `hwnas search` prints after a run."""

from pathlib import Path

from hwnas.config import config_from_dict
from hwnas.evaluation import Evaluation
from hwnas.report import print_search_summary
from hwnas.search.runner import SearchSummary


def _config(budgets=None):
    return config_from_dict({"space": {"name": "nb201"}, "estimator": {"name": "table"},
                             "search": {"objectives": ["error", "latency_ms"], "evaluations": 4},
                             "budgets": budgets or {}})


def _summary(front, failed, feasible=0, evaluations=4):
    return SearchSummary(Path("/runs/r"), evaluations, evaluations, failed, feasible, front, 0.1, 4)


def _ev(i, latency_ms):
    return Evaluation(f"a{i}", [i], "ok", {"error_pct": 10.0 - i, "accuracy_pct": 90.0 + i,
                                           "latency_ms": latency_ms}, id=i)


def test_every_evaluation_failed_points_at_the_reasons_not_at_pick(capsys):
    print_search_summary(_summary([], failed=4), _config())
    out = capsys.readouterr().out
    assert "hwnas pick" not in out  # it would only answer "no successful evaluation to pick from"
    assert "next:        every evaluation failed; read why in the reason column of /runs/r/evaluations.csv" in out
    assert "front: empty (no successful evaluation)\n" in out  # no budgets: none to name
    print_search_summary(_summary([], failed=4), _config({"max_latency_ms": 0.01}))
    assert "front: empty (no successful evaluation within the budgets)\n" in capsys.readouterr().out
    skipped = _summary([], failed=4)
    skipped.prefiltered = 3  # stored as failed: a pre-filter chose not to train them
    print_search_summary(skipped, _config())
    assert "next:        every evaluation failed or was skipped by the pre-filter; read why" in capsys.readouterr().out


def test_nothing_within_the_budgets_says_to_search_longer_or_raise_them(capsys):
    print_search_summary(_summary([], failed=1), _config({"max_latency_ms": 0.01}))
    out = capsys.readouterr().out
    assert "hwnas pick" not in out and "no evaluation meets the budgets" in out
    # 4 of nb201's 15,625 evaluated: the search may just not have found those within the budgets
    assert "with more --evaluations (the space may hold some that do), or with higher budgets" in out


def test_a_whole_space_evaluated_outside_the_budgets_says_to_raise_them(capsys):
    summary = _summary([], failed=1)
    summary.space_size = 4
    print_search_summary(summary, _config({"max_latency_ms": 0.01}))
    out = capsys.readouterr().out
    assert "next:        no architecture of the space meets the budgets; search again (a new --out) with higher " \
           "ones\n" in out and "--evaluations" not in out


def test_a_front_suggests_pick_with_the_run_budgets(capsys):
    print_search_summary(_summary([_ev(1, 0.2), _ev(2, 0.4)], failed=0, feasible=4), _config({"max_latency_ms": 0.5}))
    out = capsys.readouterr().out
    assert "front: 2 architectures; best accuracy 92.00 %; latency 0.2000-0.4000 ms (2.0x)" in out
    assert "next:        hwnas pick /runs/r --max-latency-ms 0.5" in out


def test_the_suggested_pick_repeats_the_budgets_exactly(capsys):
    print_search_summary(_summary([_ev(1, 0.2)], failed=0, feasible=1),
                         _config({"max_latency_ms": 0.123456789, "max_macs": 1234567}))
    # "{:g}" printed --max-macs 1.23457e+06: a different budget when pasted
    assert "next:        hwnas pick /runs/r --max-latency-ms 0.123456789 --max-macs 1234567\n" in capsys.readouterr().out


def test_a_front_of_one(capsys):
    print_search_summary(_summary([_ev(1, 0.2)], failed=0, feasible=1), _config())
    assert "front: 1 architecture; best accuracy 91.00 %; latency 0.2000 ms\n" in capsys.readouterr().out


def test_a_strategy_that_proposed_nothing_is_not_called_all_failures(capsys):
    print_search_summary(_summary([], failed=0, evaluations=0), _config())
    out = capsys.readouterr().out
    assert "every evaluation failed" not in out and "the strategy proposed nothing" in out


def test_printed_commands_quote_a_run_path_with_spaces(capsys):
    summary = SearchSummary(Path("/runs/my run"), 4, 4, 0, 4, [_ev(1, 0.2)], 0.1, 4)
    print_search_summary(summary, _config())
    assert "next:        hwnas pick '/runs/my run'\n" in capsys.readouterr().out


def test_a_regression_front_reports_r_squared_not_accuracy(capsys):
    summary = _summary([_ev(1, 0.2)], failed=0, feasible=1)
    summary.regression = True  # accuracy_pct is 100·R²: 91 % reads R² 0.910
    print_search_summary(summary, _config())
    assert "front: 1 architecture; best R² 0.910; latency 0.2000 ms\n" in capsys.readouterr().out


def test_a_strategy_that_stopped_early_is_not_said_to_have_exhausted_the_space(capsys):
    summary = _summary([_ev(1, 0.2)], failed=0, feasible=2, evaluations=2)
    summary.space_size = 15625
    print_search_summary(summary, _config())
    out = capsys.readouterr().out
    assert "the strategy found no new architecture after 2 distinct ones (4 budgeted)" in out and "space ran out" not in out
    print_search_summary(_summary([_ev(1, 0.2)], failed=0, feasible=1, evaluations=1), _config())
    assert "after 1 distinct one (4 budgeted)" in capsys.readouterr().out  # a strategy proposing one genome forever
    summary.space_size = 2
    print_search_summary(summary, _config())
    assert "space ran out: all 2 architectures of the space are evaluated (4 budgeted)" in capsys.readouterr().out


def test_a_zero_latency_on_the_front_prints_no_ratio(capsys):
    print_search_summary(_summary([_ev(1, 0.0), _ev(2, 0.4)], failed=0, feasible=4), _config())
    assert "front: 2 architectures; best accuracy 92.00 %; latency 0.0000-0.4000 ms\n" in capsys.readouterr().out


def test_a_picked_re_measured_row_prints_both_latencies(capsys):
    from hwnas.outputs import Run
    from hwnas.report import print_pick

    ev = Evaluation("a1", [1], "ok", {"error_pct": 9.0, "latency_ms": 0.0944, "latency_ms_predicted": 0.0944,
                                      "latency_ms_measured": 0.0969}, id=1)
    print_pick(ev, Run(Path("/runs/r"), _config(), [ev]), {"max_latency_ms": 0.1})
    assert "latency_ms 0.0944 predicted, 0.0969 measured (budgets judged on the measured)" in capsys.readouterr().out
    # a budget on params only: nothing was judged on the measured latency, and it said so
    print_pick(ev, Run(Path("/runs/r"), _config(), [ev]), {"max_params": 1e5})
    assert "latency_ms 0.0944 predicted, 0.0969 measured\n" in capsys.readouterr().out


def test_a_picked_row_shows_a_plugin_objective_and_budgeted_metric(capsys):
    from hwnas.outputs import Run
    from hwnas.report import print_pick
    from hwnas.search.objectives import BUDGETS, OBJECTIVES, Budget, Objective

    OBJECTIVES.add("flops_g", Objective("flops_g", "flops_g", "GFLOPs", True, "cost", "GFLOPs"))
    BUDGETS.add("max_energy_uj", Budget("max_energy_uj", "energy_uj", "uJ"))
    ev = Evaluation("a1", [1], "ok", {"error_pct": 9.0, "flops_g": 1.25, "energy_uj": 3.5, "other": 7.0}, id=1)
    print_pick(ev, Run(Path("/runs/r"), _config(), [ev]), {})
    out = capsys.readouterr().out
    assert "flops_g=1.25" in out and "energy_uj=3.5" in out and "other=" not in out


def test_the_evaluations_line_counts_those_evaluated_over_a_budget(capsys):
    # a zero-cost run (or --train-over-budget) scores a candidate over the budget: it is neither
    # failed, nor untrained, nor within budgets, and the line's parts must still add up to 6
    summary = SearchSummary(Path("/runs/r"), 6, 6, 0, 5, [_ev(1, 0.2)], 2.7, 6)
    print_search_summary(summary, _config({"max_latency_ms": 0.15}))
    assert "evaluations: 6 (6 new this session, 0 failed, 1 evaluated but over budget, 5 within budgets)" \
           in capsys.readouterr().out
    summary = SearchSummary(Path("/runs/r"), 6, 6, 1, 2, [_ev(1, 0.2)], 2.7, 6, over_budget=2)
    print_search_summary(summary, _config({"max_latency_ms": 0.15}))
    assert ("evaluations: 6 (6 new this session, 1 failed, 2 over budget and not trained, "
            "1 evaluated but over budget, 2 within budgets)") in capsys.readouterr().out


def test_a_picked_candidate_successive_halving_stopped_early_says_so(capsys):
    # hwnas pick printed a 1-epoch error beside 9-epoch ones with nothing to tell them apart
    from hwnas.outputs import Run
    from hwnas.report import print_pick

    config = config_from_dict({"space": {"name": "mbv3"}, "estimator": {"name": "successive-halving", "rungs": [1, 3]},
                               "search": {"objectives": ["error", "latency_ms"], "evaluations": 4}})
    stopped = Evaluation("a1", [1], "ok", {"error_pct": 9.0, "latency_ms": 0.05, "epochs": 1.0, "rung": 0.0}, id=1)
    print_pick(stopped, Run(Path("/runs/r"), config, [stopped]), {})
    assert "epochs: 1 of the last rung's 3: successive halving stopped it early" in capsys.readouterr().out
    finished = Evaluation("a2", [2], "ok", {"error_pct": 5.0, "latency_ms": 0.05, "epochs": 3.0, "rung": 1.0}, id=2)
    print_pick(finished, Run(Path("/runs/r"), config, [finished]), {})
    assert "stopped it early" not in capsys.readouterr().out
    default = config_from_dict({"space": {"name": "mbv3"}, "estimator": {"name": "successive-halving"},
                                "search": {"objectives": ["error", "latency_ms"], "evaluations": 4}})
    print_pick(finished, Run(Path("/runs/r"), default, [finished]), {})  # default rungs 1, 3, 9
    assert "epochs: 3 of the last rung's 9" in capsys.readouterr().out


def test_the_suggested_export_and_pick_name_the_runs_plugins(tmp_path, capsys):
    # a plugin run's pick and export fail without its --plugin flags: the printed commands carry them
    from hwnas.compress.pipeline import CompressResult
    from hwnas.evaluation import weights_name
    from hwnas.outputs import WEIGHTS_DIR, Run
    from hwnas.report import print_compress_summary, print_pick

    ev = _ev(1, 0.2)
    (tmp_path / WEIGHTS_DIR).mkdir()
    (tmp_path / WEIGHTS_DIR / weights_name(ev.arch)).write_bytes(b"")
    print_pick(ev, Run(tmp_path, _config(), [ev], plugins=["mypkg.parts"]), {})
    assert f"export: hwnas --plugin mypkg.parts export {tmp_path} a1 -o model.onnx" in capsys.readouterr().out
    print_compress_summary(CompressResult([], [], tmp_path, [], plugins=["mypkg.parts"]))
    assert f"next:        hwnas --plugin mypkg.parts pick {tmp_path} --include-compressed" in capsys.readouterr().out
