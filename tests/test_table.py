"""Metric tables (hwnas.table): how a CSV is read, and the check that its rows are a space's."""

import pytest

from fakes import write_nb201_table
from hwnas.cost import COST_MODELS
from hwnas.exceptions import ConfigError
from hwnas.space import make_space
from hwnas.table import MetricTable

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|"


def _write(path, text, encoding="utf-8"):
    path.write_text(text, encoding=encoding)
    return path


def test_a_byte_order_mark_and_blank_lines_are_not_part_of_the_table(tmp_path):
    path = _write(tmp_path / "t.csv", f"\ufeffarch,acc\n\n{ARCH},91.5\n\n\n")
    table = MetricTable(path, "arch")  # a spreadsheet's "CSV UTF-8" and a trailing blank line
    assert table.columns == ["arch", "acc"] and table.archs == [ARCH]
    assert table.value(ARCH, "acc") == 91.5


def test_rows_are_named_by_their_line_in_the_file(tmp_path):
    path = _write(tmp_path / "t.csv", f"arch,acc\n\n{ARCH},91.5\n{ARCH},90\n")
    with pytest.raises(ConfigError, match=r"appears twice in column 'arch' \(rows 3 and 4\)"):
        MetricTable(path, "arch")
    path = _write(tmp_path / "u.csv", f"arch,acc\n\n{ARCH},high\n")
    with pytest.raises(ConfigError, match=r"column 'acc' row 3 holds 'high', not a number"):
        MetricTable(path, "arch").column("acc")


def test_a_column_blank_in_every_row_is_refused_not_searched(tmp_path):
    # every lookup would miss: a search would record every candidate as failed
    path = _write(tmp_path / "t.csv", f"arch,acc,lat\n{ARCH},91.5,\n")
    with pytest.raises(ConfigError, match=r"column 'lat' is blank in all 1 rows; pick a column with numbers "
                                          r"\(columns: arch, acc, lat\)"):
        MetricTable(path, "arch").column("lat")


@pytest.mark.parametrize("text, message", [
    ("arch;acc\nx;1\n", "the header 'arch;acc' is one column: the file is not comma-separated"),
    ("arch,acc\n\n", "has a header but no rows"),
])
def test_a_table_that_is_no_comma_separated_table_of_rows_is_refused(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        MetricTable(_write(tmp_path / "t.csv", text), "arch")


def test_every_row_must_be_the_space_s_canonical_string(tmp_path):
    # a table whose later rows use other op names would miss every lookup of them
    path = tmp_path / "t.csv"
    write_nb201_table(path)
    lines = path.read_text().splitlines()
    lines[100:] = [line.replace("nor_conv_3x3", "conv_3x3") for line in lines[100:]]
    path.write_text("\n".join(lines) + "\n")
    cost = COST_MODELS.get("table")(None, (3, 32, 32), path=str(path), arch_column="arch_str",
                                    metrics={"latency_ms": "lat"})
    with pytest.raises(ConfigError, match=r"column 'arch_str' row \d+ \('.*conv_3x3.*'\) is not a nb201 "
                                          r"architecture .*, and so are \d+ of 15625 rows"):
        cost.check_space(make_space("nb201", (3, 32, 32), 10))


def test_a_resume_on_a_table_whose_rows_changed_is_refused(tmp_path):
    # a run's rows would mix two tables: the estimator's accuracy column and the cost's latency
    from hwnas.exceptions import StoreError
    from hwnas.search.runner import run_search
    from hwnas.table import table_search_config

    path = tmp_path / "t.csv"
    write_nb201_table(path)
    config = table_search_config(space="nb201", table=path, arch_column="arch_str", accuracy_column="acc",
                                 costs={"latency_ms": "lat"}, evaluations=6)
    run_search(config, tmp_path / "r", progress=False)
    assert run_search(config, tmp_path / "r", resume=True, progress=False).new_evaluations == 0
    original = path.read_text()
    path.write_text(original.replace(",10.0000,1.0000,", ",10.0000,5.0000,", 1))  # one latency
    with pytest.raises(StoreError, match=r"resume=True: the table cost model's source changed since this run started "
                                         r"\(\S*t.csv: the columns it reads hold other values\); its numbers "
                                         r"would mix two tables"):
        run_search(config, tmp_path / "r", resume=True, progress=False)
    path.write_text(original.replace(",10.0000,1.0000,", ",11.0000,1.0000,", 1))  # one accuracy
    with pytest.raises(StoreError, match=r"the table estimator's source changed"):
        run_search(config, tmp_path / "r", resume=True, progress=False)
    path.write_text(original.replace("idx,", "index,", 1))  # a column the run does not read
    assert run_search(config, tmp_path / "r", resume=True, progress=False).new_evaluations == 0


def test_parse_costs_refuses_the_accuracy_side_and_bad_items():
    from hwnas.table import parse_costs

    assert parse_costs(["latency_ms=lat", " energy_mj = e "]) == {"latency_ms": "lat", "energy_mj": "e"}
    for items, message in ((["lat"], "must be NAME=COLUMN"), (["latency_ms=a", "latency_ms=b"], "given twice"),
                           (["error=lat"], "error is the accuracy side, read from --accuracy-column"),
                           (["accuracy_pct=acc"], "accuracy_pct is the accuracy side")):
        with pytest.raises(ConfigError, match=message):
            parse_costs(items)


def test_arch_column_of_takes_the_flag_else_arch_else_arch_str(tmp_path):
    from hwnas.table import arch_column_of

    path = tmp_path / "t.csv"
    path.write_text("arch_str,arch,acc\nx,y,1\n")
    assert arch_column_of(path, None) == "arch" and arch_column_of(path, "arch_str") == "arch_str"
    path.write_text("idx,arch_str,acc\n0,x,1\n")
    assert arch_column_of(path, None) == "arch_str"
    path.write_text("idx,cell,acc\n0,x,1\n")
    with pytest.raises(ConfigError, match=r"neither an 'arch' nor an 'arch_str' column \(columns: idx, cell, acc\); "
                                          r"name its architecture column with --arch-column"):
        arch_column_of(path, None)
    with pytest.raises(ConfigError, match="not found"):  # the table's own checks still speak first
        MetricTable(tmp_path / "none.csv", arch_column_of(tmp_path / "none.csv", None))


def test_parse_costs_names_an_unknown_metric_as_the_cost_flag_given(tmp_path, capsys):
    from hwnas.exceptions import RegistryError
    from hwnas.table import parse_costs

    # the name becomes an objective: a misspelt one is refused as the --cost the user typed,
    # not as a '[search] objectives' entry a table search's user never wrote
    with pytest.raises(RegistryError, match=r"^--cost 'latency=edgegpu_latency': unknown objective 'latency'; "
                                            r"did you mean 'latency_ms'\?"):
        parse_costs(["latency=edgegpu_latency"])
    from fakes import write_nb201_table
    from hwnas.cli import main

    table = tmp_path / "t.csv"
    write_nb201_table(table)
    assert main(["search", "--space", "nb201", "--table", str(table), "--accuracy-column", "acc",
                 "--cost", "Latency_ms=lat", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hwnas: error: --cost 'Latency_ms=lat': unknown objective 'Latency_ms'; did you mean "
                          "'latency_ms'") and "[search]" not in err
    assert not (tmp_path / "r").exists()


def test_a_folder_given_as_the_table_is_named_a_folder(tmp_path):
    from hwnas.table import MetricTable, load_table

    for read in (load_table, MetricTable):
        with pytest.raises(ConfigError, match=r"is a folder; pass the CSV file in it$"):
            read(tmp_path, "arch")
