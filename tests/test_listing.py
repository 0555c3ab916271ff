"""`hwnas list`: every registry a config or flag can name is listed."""

from hwnas.cli import main


def _listed(capsys):
    assert main(["list"]) == 0
    return {line[:12].strip(): line[13:] for line in capsys.readouterr().out.splitlines()}


def test_list_names_executors_and_bench_peers(capsys):
    rows = _listed(capsys)
    assert rows["executors"] == "local, ray"  # --executor / [execution] executor
    assert rows["bench peers"] == "optuna-nsga2, pymoo-nsga2"  # hwnas bench --peers


def test_list_gives_objectives_their_column_and_unit(capsys):
    rows = _listed(capsys)
    assert "error (error_pct, %)" in rows["objectives"] and "latency_ms (ms, " in rows["objectives"]
    assert "zc_score (score, maximised)" in rows["objectives"]
    assert "max_latency_ms (ms)" in rows["budgets"]


def test_every_listed_label_is_one_of_the_help_line(capsys):
    from hwnas.commands.listing import ListCommand

    for label in _listed(capsys):
        assert label.split()[0] in ListCommand.help, label


def test_list_says_latency_is_per_batch_of_the_target(capsys):
    objectives = _listed(capsys)["objectives"]
    assert "latency_ms (ms, per batch of the target's batch_size)" in objectives  # batch 4: one run of 4 samples
    assert "macs (MACs, per sample)" in objectives
