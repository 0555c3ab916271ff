"""Budgets no architecture can meet, refused before the search starts (:mod:`hwnas.search.budget_check`)."""

import re

import pytest

from hwnas.exceptions import BudgetError
from hwnas.search.runner import run_search


def test_budget_no_architecture_can_meet(tmp_path, make_config):
    with pytest.raises(BudgetError, match="max_latency_ms = 1e-06 cannot be met: the cheapest mlp"):
        run_search(make_config(budgets={"max_latency_ms": 1e-6}), tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


def test_a_table_budget_is_checked_against_the_cheapest_cell_a_search_can_propose(tmp_path):
    import dataclasses

    from fakes import write_nb201_table
    from hwnas.table import table_search_config

    table = tmp_path / "t.csv"
    write_nb201_table(table, blank_every=0)
    config = table_search_config(space="nb201", table=table, arch_column="arch_str", accuracy_column="acc",
                                 costs={"latency_ms": "lat"}, evaluations=8)
    # the smallest cell (every edge none, 1 ms) is degenerate and never proposed; the cheapest
    # connected one (a single skip path) costs more than 1.2 ms
    with pytest.raises(BudgetError, match=r"max_latency_ms = 1.1 cannot be met: the cheapest nb201 architecture "
                                          r"\(\|.*skip_connect.*\) has latency_ms = 1.2") as info:
        run_search(dataclasses.replace(config, budgets={"max_latency_ms": 1.1}), tmp_path / "a", progress=False)
    # the value it suggests is rounded up, never down: pasted, it runs
    suggested = float(re.search(r"set --max-latency-ms to (\S+) or more$", str(info.value)).group(1))
    assert run_search(dataclasses.replace(config, budgets={"max_latency_ms": suggested}), tmp_path / "c",
                      progress=False).evaluations == 8
    summary = run_search(dataclasses.replace(config, budgets={"max_latency_ms": 1.5}), tmp_path / "b", progress=False)
    assert summary.evaluations == 8  # a budget the cheapest cell meets runs


def test_table_budgets_each_met_alone_but_by_no_row_together_are_refused(tmp_path):
    import csv
    import dataclasses

    from fakes import write_nb201_table
    from hwnas.table import table_search_config

    table = tmp_path / "t.csv"
    write_nb201_table(table, blank_every=0)
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:  # energy falls as latency rises: the fastest cells are the hungriest
        row["energy"] = f"{20.0 - float(row['lat']):.4f}"
    with open(table, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    config = table_search_config(space="nb201", table=table, arch_column="arch_str", accuracy_column="acc",
                                 costs={"latency_ms": "lat", "energy_mj": "energy"}, evaluations=8)
    # each budget alone is met (latency 1.2 ms on a skip path, energy 20 - 7 mJ on all convolutions)
    # but no cell is both fast and frugal: refused before any evaluation, naming the closest cell
    budgets = {"max_latency_ms": 1.5, "max_energy_mj": 14.0}
    with pytest.raises(BudgetError, match=r"max_latency_ms=1.5, max_energy_mj=14 cannot be met together: .* the "
                                          r"closest \(\|.*\) has latency_ms = .*, energy_mj = .*; set --max-") as info:
        run_search(dataclasses.replace(config, budgets=budgets), tmp_path / "a", progress=False)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "a").exists()
    # budgets some cell meets together run
    assert run_search(dataclasses.replace(config, budgets={"max_latency_ms": 5.0, "max_energy_mj": 17.0}),
                      tmp_path / "b", progress=False).evaluations == 8


def test_a_plugin_cost_model_raising_on_the_cheapest_architecture_is_one_line():
    # it was a traceback from check_budgets before the search started
    from types import SimpleNamespace

    from hwnas.config import config_from_dict
    from hwnas.cost.base import COST_MODELS
    from hwnas.search.budget_check import check_budgets
    from hwnas.space.base import make_space

    class _Raises:
        name, provides, needs_model = "audit-raises-small", ("params",), False

        def lowest(self, space, smallest, model):
            raise RuntimeError("cannot price one-layer nets")

    COST_MODELS.add("audit-raises-small", _Raises)  # a plugin's: unregistered after the test by conftest
    space = make_space("mlp", (4,), 2)
    config = config_from_dict({"space": {"name": "mlp"}, "budgets": {"max_params": 100}})
    with pytest.raises(BudgetError, match=r"^the budgets cannot be checked: cost model 'audit-raises-small' raised on "
                                          r"the cheapest architecture h32\S* in \S*_Raises\.lowest \(line \d+\): "
                                          r"RuntimeError: cannot price one-layer nets; its measure\(\) must price "
                                          r"every architecture of the space \(or drop the budgets\)$"):
        check_budgets(config, SimpleNamespace(space=space, cost_models=[_Raises()], target=None))
