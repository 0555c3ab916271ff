"""The table estimator: accuracy from a CSV, missing entries as failures, clear config errors."""

import pytest

from fakes import write_nb201_table
from hwnas.estimate import ESTIMATORS
from hwnas.exceptions import ConfigError
from hwnas.table import MissingEntry

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("t") / "nb201.csv"
    write_nb201_table(path, drop_every=5)
    return path


def test_error_is_100_minus_accuracy(table):
    est = ESTIMATORS.get("table").from_options(None, {"path": str(table), "arch_column": "arch_str",
                                                      "accuracy_column": "acc"})
    assert est.needs_model is False
    m = est.estimate(BEST, None)
    assert m["error_pct"] == pytest.approx(100 - m["accuracy_pct"]) and 60 < m["accuracy_pct"] < 100


def test_absent_architecture_raises_missing_entry(table):
    est = ESTIMATORS.get("table")(None, path=str(table), arch_column="arch_str", accuracy_column="acc")
    dropped = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"  # row 0, dropped
    with pytest.raises(MissingEntry, match="no row for"):
        est.estimate(dropped, None)


def test_config_errors_name_the_column_and_the_choices(table, tmp_path):
    with pytest.raises(ConfigError, match="no metric column 'val_acc'; available columns: idx, arch_str, acc, lat, energy; name one of them with "
                                          "--accuracy-column"):
        ESTIMATORS.get("table")(None, path=str(table), arch_column="arch_str", accuracy_column="val_acc")
    with pytest.raises(ConfigError, match="no architecture column 'arch'"):
        ESTIMATORS.get("table")(None, path=str(table), accuracy_column="acc")
    with pytest.raises(ConfigError, match="not found"):
        ESTIMATORS.get("table")(None, path=str(tmp_path / "nope.csv"), arch_column="a", accuracy_column="acc")
    bad = tmp_path / "bad.csv"
    bad.write_text("arch,acc\na,93\nb,high\n")
    with pytest.raises(ConfigError, match="row 3 holds 'high', not a number"):
        ESTIMATORS.get("table")(None, path=str(bad), accuracy_column="acc")
    with pytest.raises(ConfigError, match=r"'table' has no option\(s\) 'colum'"):
        ESTIMATORS.get("table").from_options(None, {"path": str(table), "accuracy_column": "acc", "colum": 1})


def test_option_types_are_named_not_a_python_type_error(table):
    with pytest.raises(ConfigError, match=r"table: path = 5 is invalid; it must be a string \(a CSV file\)"):
        ESTIMATORS.get("table").from_options(None, {"path": 5, "accuracy_column": "acc"})
    with pytest.raises(ConfigError, match=r"table: arch_column = \['arch_str'\] is invalid; it must be a string"):
        ESTIMATORS.get("table").from_options(None, {"path": str(table), "arch_column": ["arch_str"],
                                                    "accuracy_column": "acc"})


def test_an_accuracy_column_not_in_percent_is_refused(tmp_path):
    fractions = tmp_path / "fractions.csv"
    fractions.write_text("arch,acc\na,0.93\nb,0.9\nc,\n")
    with pytest.raises(ConfigError, match=r"column 'acc' holds fractions .* scale the column by 100"):
        ESTIMATORS.get("table")(None, path=str(fractions), accuracy_column="acc")
    over = tmp_path / "over.csv"
    over.write_text("arch,acc\na,93\nb,930\n")
    with pytest.raises(ConfigError, match=r"column 'acc' row 3 holds 930, not a top-1 accuracy in percent"):
        ESTIMATORS.get("table")(None, path=str(over), accuracy_column="acc")
    blank_line = tmp_path / "blank_line.csv"  # the message names the file's line, as the table's other errors do
    blank_line.write_text("arch,acc\na,93\n\nb,930\n")
    with pytest.raises(ConfigError, match=r"column 'acc' row 4 holds 930"):
        ESTIMATORS.get("table")(None, path=str(blank_line), accuracy_column="acc")
    ok = tmp_path / "ok.csv"
    ok.write_text("arch,acc\na,93\nb,0.5\n")
    assert ESTIMATORS.get("table")(None, path=str(ok), accuracy_column="acc").estimate("b", None)["error_pct"] == 99.5


def test_a_table_of_a_small_part_of_the_space_says_most_proposals_will_fail(table, tmp_path):
    from hwnas.space import make_space

    space = make_space("nb201", None, None)
    full = ESTIMATORS.get("table")(None, path=str(table), arch_column="arch_str", accuracy_column="acc")
    full.check_space(space)
    assert full.advice(20) is None  # 4 rows in 5
    lines = table.read_text().splitlines()
    small = tmp_path / "small.csv"
    small.write_text("\n".join(lines[:301]) + "\n")
    est = ESTIMATORS.get("table")(None, path=str(small), arch_column="arch_str", accuracy_column="acc")
    est.check_space(space)
    assert est.advice(20) == (
        "table small.csv has rows for 300 of nb201's 15625 architectures (1.9 %); the search proposes from the "
        "whole space and records one with no row as failed, so most of the 20 evaluations will fail: add rows "
        "(measure more of the space) or budget more evaluations")
    assert "so the 1 evaluation will most likely fail: add rows" in est.advice(1)  # not "most of the 1 evaluations"
