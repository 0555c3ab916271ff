"""The table cost model: any number of metric columns; blank cells raise MissingEntry."""

import pytest

from fakes import write_nb201_table
from hwnas.cost import COST_MODELS
from hwnas.exceptions import ConfigError, measured_before
from hwnas.table import MissingEntry, load_table


def test_metrics_from_columns_and_blank_cells(tmp_path):
    path = tmp_path / "t.csv"
    archs = write_nb201_table(path)
    cost = COST_MODELS.get("table")(None, (3, 32, 32), path=str(path), arch_column="arch_str",
                                    metrics={"latency_ms": "lat", "energy_mj": "energy"})
    assert cost.needs_model is False and cost.provides == ("latency_ms", "energy_mj")
    m = cost.measure(archs[0], None)
    assert m["energy_mj"] == pytest.approx(2 * m["latency_ms"], rel=1e-3)
    with pytest.raises(MissingEntry, match="no lat for .* \\(blank cell\\)") as info:
        cost.measure(archs[3], None)  # row 3 has a blank latency
    # its energy cell is there: the failed evaluation keeps it
    assert measured_before(info.value) == {"energy_mj": pytest.approx(float(_cell(path, 3, "energy")))}
    assert cost.describe()["columns"] == {"latency_ms": "lat", "energy_mj": "energy"}
    assert load_table(path, "arch_str") is cost.table  # read once, shared


def _cell(path, row, column):
    import csv

    with open(path) as fh:
        return list(csv.DictReader(fh))[row][column]


def test_bad_options(tmp_path):
    path = tmp_path / "t.csv"
    write_nb201_table(path)
    with pytest.raises(ConfigError, match="no metric column 'edgegpu_latency'"):
        COST_MODELS.get("table")(None, (3, 32, 32), path=str(path), arch_column="arch_str",
                                 metrics={"latency_ms": "edgegpu_latency"})
    with pytest.raises(ConfigError, match="needs 'path'"):
        COST_MODELS.get("table")(None, (3, 32, 32), path=str(path))


@pytest.mark.parametrize("metric, cell, message", [
    ("latency_ms", "0", r"column 'lat' \(latency_ms\) row 3 holds 0; a time must be > 0"),
    ("latency_ms", "-1.47", r"column 'lat' \(latency_ms\) row 3 holds -1.47; a time must be > 0"),
    ("energy_mj", "-2", r"column 'lat' \(energy_mj\) row 3 holds -2; a cost must be >= 0"),
])
def test_a_negative_cost_or_a_zero_time_is_refused_naming_the_cell(tmp_path, metric, cell, message):
    path = tmp_path / "t.csv"
    path.write_text("arch_str,lat\n" + "\n".join(f"{a},{v}" for a, v in
                                                 [("|skip_connect~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|", "1.5"),
                                                  ("|skip_connect~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|", cell)]) + "\n")
    with pytest.raises(ConfigError, match=message):
        COST_MODELS.get("table")(None, (3, 32, 32), path=str(path), arch_column="arch_str", metrics={metric: "lat"})
    if cell == "0":  # a zero energy may be real (an idle device)
        COST_MODELS.get("table")(None, (3, 32, 32), path=str(path), arch_column="arch_str", metrics={"energy_mj": "lat"})


def test_lowest_is_each_metric_s_cheapest_proposable_row_read_from_the_rows_parsed_when_built(tmp_path, monkeypatch):
    from hwnas.space import make_space

    path = tmp_path / "t.csv"
    archs = write_nb201_table(path)
    space = make_space("nb201", (3, 32, 32), 10)
    cost = COST_MODELS.get("table")(None, (3, 32, 32), path=str(path), arch_column="arch_str",
                                    metrics={"latency_ms": "lat", "energy_mj": "energy"})
    cost.check_space(space)  # what building a search does: every row parsed once, here
    smallest = space.canonical(space.smallest())
    parses = []
    parse = space.parse
    monkeypatch.setattr(space, "parse", lambda text: (parses.append(text), parse(text))[1])
    lowest = cost.lowest(space, smallest, None)
    assert parses == []  # nothing parsed again

    def expected(column):  # brute force: the cheapest non-degenerate row with a value
        values = cost.table.column(column)
        rows = [i for i, arch in enumerate(archs) if space.degenerate(parse(arch)) is None and values[i] == values[i]]
        best = min(rows, key=lambda i: values[i])
        return float(values[best]), archs[best]

    assert lowest == {"latency_ms": expected("lat"), "energy_mj": expected("energy")}
    assert space.degenerate(parse(archs[0])) is not None  # the all-'none' cell: cheapest, never proposed
    assert lowest["latency_ms"][0] > cost.table.column("lat")[0]


def test_lowest_and_closest_together_skip_cells_a_search_without_dead_edges_never_proposes(tmp_path):
    # a trained NB201 search (dead_edges = "drop") priced by a table said a budget that only a
    # cell with a dead edge met could be met, and named that cell and its value as the fix
    from hwnas.space import make_space

    network = "|skip_connect~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"
    copy = "|skip_connect~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|none~2|"  # edge 2<-0 is dead
    path = tmp_path / "t.csv"
    path.write_text(f"arch_str,lat,energy\n{network},2.0,1.0\n{copy},1.5,3.0\n")
    cost = COST_MODELS.get("table")(None, (3, 32, 32), path=str(path), arch_column="arch_str",
                                    metrics={"latency_ms": "lat", "energy_mj": "energy"})
    dropped, kept = make_space("nb201", (3, 32, 32), 10), make_space("nb201", (3, 32, 32), 10, dead_edges="keep")
    for space in (dropped, kept):
        cost.check_space(space)
    assert cost.lowest(dropped, "", None)["latency_ms"] == (2.0, network)
    assert cost.lowest(kept, "", None)["latency_ms"] == (1.5, copy)
    bounds = {"latency_ms": 1.6, "energy_mj": 3.0}  # met together by the copy alone
    assert cost.closest_together(kept, bounds) is None
    assert cost.closest_together(dropped, bounds) == (network, {"latency_ms": 2.0, "energy_mj": 1.0})
