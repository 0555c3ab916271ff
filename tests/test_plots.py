"""pareto.png: what the plot of a run shows, checked on the figure before it is closed."""

import warnings

import matplotlib
import pytest

from hwnas.evaluation import Evaluation
from hwnas.plots import plot_front
from hwnas.search.objectives import resolve_objectives


@pytest.fixture
def figure(monkeypatch):
    """The figure plot_front drew, captured when it closes it."""
    import matplotlib.pyplot as plt

    captured = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: (captured.append(fig), close(fig)))
    return captured


def _ev(i, status="ok", **metrics):
    return Evaluation(f"a{i}", [i], status, metrics, None if status == "ok" else "RuntimeError: boom", id=i)


def test_three_objectives_draw_the_front_as_points_and_name_the_hidden_one(tmp_path, figure):
    evs = [_ev(1, error_pct=5.0, latency_ms=0.1, params=300.0), _ev(2, error_pct=4.0, latency_ms=0.2, params=100.0),
           _ev(3, error_pct=6.0, latency_ms=0.15, params=50.0)]
    plot_front(tmp_path / "p.png", evs, [0, 1, 2], resolve_objectives(["error", "latency_ms", "params"]), {})
    assert (tmp_path / "p.png").is_file()
    ax = figure[0].axes[0]
    front = [line for line in ax.lines if line.get_label().startswith("Pareto front")]
    assert front[0].get_linestyle() == "None"  # no curve through a 3-objective front's projection
    assert "over all 3 objectives" in front[0].get_label()
    assert ax.get_title() == "not plotted: parameters"


def test_a_budget_on_the_vertical_axis_is_drawn(tmp_path, figure):
    evs = [_ev(1, latency_ms=0.1, error_pct=5.0), _ev(2, latency_ms=0.3, error_pct=2.0)]
    plot_front(tmp_path / "p.png", evs, [0], resolve_objectives(["latency_ms", "error"]), {"max_latency_ms": 0.2})
    ax = figure[0].axes[0]
    assert [line.get_label() for line in ax.lines if line.get_label().startswith("max_")] == ["max_latency_ms = 0.2"]


def test_a_run_where_every_evaluation_failed_says_so(tmp_path, figure):
    evs = [_ev(1, "failed"), _ev(2, "failed", error_pct=3.0)]
    plot_front(tmp_path / "p.png", evs, [], resolve_objectives(["error", "latency_ms"]), {})
    assert (tmp_path / "p.png").is_file()
    texts = [t.get_text() for t in figure[0].axes[0].texts]
    assert texts == ["no successful evaluation (2 failed; reasons in evaluations.csv)"]


def test_two_objectives_keep_the_front_line(tmp_path, figure):
    evs = [_ev(1, error_pct=5.0, latency_ms=0.1), _ev(2, error_pct=4.0, latency_ms=0.2)]
    plot_front(tmp_path / "p.png", evs, [0, 1], resolve_objectives(["error", "latency_ms"]), {})
    front = [line for line in figure[0].axes[0].lines if line.get_label().startswith("Pareto front")]
    assert front[0].get_linestyle() == "-" and front[0].get_label() == "Pareto front (2)"
    assert matplotlib.get_backend().lower() == "agg"


def test_candidates_over_budget_and_untrained_are_ticks_at_their_cost(tmp_path, figure):
    over = Evaluation("a3", [3], "over_budget", {"latency_ms": 0.5}, "over budget, not trained: ...", id=3)
    evs = [_ev(1, latency_ms=0.1, error_pct=5.0), _ev(2, latency_ms=0.3, error_pct=2.0), over]
    plot_front(tmp_path / "p.png", evs, [0, 1], resolve_objectives(["error", "latency_ms"]), {"max_latency_ms": 0.4})
    ticks = [c for c in figure[0].axes[0].collections if c.get_label().startswith("over budget, not trained")]
    assert ticks[0].get_label() == "over budget, not trained (1)"
    assert ticks[0].get_offsets()[0][0] == 0.5
    assert figure[0].axes[0].get_xlim()[1] > 0.5  # the tick is inside the plot, not beyond its edge
    plot_front(tmp_path / "q.png", [over, _ev(4, "failed")], [], resolve_objectives(["error", "latency_ms"]), {})
    texts = [t.get_text() for t in figure[1].axes[0].texts]
    assert texts == ["no successful evaluation (1 failed, 1 over budget and not trained; reasons in evaluations.csv)"]


@pytest.mark.parametrize("objectives, budget, column", [
    (["error", "params"], "max_params", "params"),  # log axis: a line there overflowed matplotlib
    (["latency_ms", "error"], "max_latency_ms", "latency_ms"),  # linear axis: squashed the data
])
def test_a_budget_far_beyond_the_data_is_named_not_drawn(tmp_path, figure, objectives, budget, column):
    evs = [_ev(1, error_pct=5.0, **{column: 100.0}), _ev(2, error_pct=4.0, **{column: 300.0})]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_front(tmp_path / "p.png", evs, [0, 1], resolve_objectives(objectives), {budget: 1e300})
    ax = figure[0].axes[0]
    budget_lines = [line for line in ax.lines if line.get_label().startswith("max_")]
    assert [line.get_label() for line in budget_lines] == [f"{budget} = 1e+300 (beyond the plot)"]
    assert len(budget_lines[0].get_xdata()) == 0
    assert max(ax.get_xlim() + ax.get_ylim()) < 1e4  # the data, not the budget, set the range


def test_a_budget_just_past_the_data_still_widens_the_plot_to_its_line(tmp_path, figure):
    evs = [_ev(1, error_pct=5.0, params=100.0), _ev(2, error_pct=4.0, params=300.0)]
    plot_front(tmp_path / "p.png", evs, [0, 1], resolve_objectives(["error", "params"]), {"max_params": 2000.0})
    ax = figure[0].axes[0]
    assert [line.get_label() for line in ax.lines if line.get_label().startswith("max_")] == ["max_params = 2000"]
    assert ax.get_xlim()[1] > 2000.0


def test_a_budget_on_a_metric_not_plotted_is_named(tmp_path, figure):
    # grey "over budget" points with no budget line in sight said nothing of which budget they break
    evs = [_ev(1, error_pct=5.0, latency_ms=0.1, params=300.0), _ev(2, error_pct=4.0, latency_ms=0.2, params=100.0)]
    plot_front(tmp_path / "p.png", evs, [1], resolve_objectives(["error", "latency_ms"]),
               {"max_params": 200.0, "max_latency_ms": 0.25})
    ax = figure[0].axes[0]
    assert [line.get_label() for line in ax.lines if line.get_label().startswith("max_")] == [
        "max_params = 200 (metric not plotted)", "max_latency_ms = 0.25"]
    assert "max_params = 200 (metric not plotted)" in [t.get_text() for t in ax.get_legend().get_texts()]
