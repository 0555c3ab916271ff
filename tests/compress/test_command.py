"""`hwnas compress` and `hwnas pick --include-compressed` in-process; one-line errors with exit 2."""

from __future__ import annotations

import pytest

from hwnas.cli import main
from hwnas.compress.results import COMPRESSED_CSV, ORIGINAL, compare_with_parents, read_compressed, write_compressed


def test_compress_prints_the_best_variant_and_where_everything_is(run_copy, best_arch, capsys):
    argv = ["compress", str(run_copy), "--arch", best_arch, "--prune", "0.5", "--quantize", "int8-qdq",
            "--finetune-epochs", "0", "--no-stack"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "variants: 2 (0 failed" in out and f"  {best_arch}: " in out
    assert "hypervolume: original front" in out and "compressed.csv" in out and "--include-compressed" in out
    # one parent sits at a corner of the scale its variants span: the figures are said to mean little
    assert "the original front is one architecture, so the two figures say only" in out
    rows = read_compressed(run_copy / COMPRESSED_CSV)
    assert [r["variant"] for r in rows] == [ORIGINAL, "prune0.5", "int8-qdq"]


def _hand_made_variants(run_copy, best_arch, session_ms):
    """compressed.csv with the parent timed at ``session_ms`` in the compress session: one
    variant at half its parent's latency, one slower but far more accurate."""
    from hwnas.outputs import load_run

    parent_ev = next(ev for ev in load_run(run_copy).evaluations if ev.arch == best_arch)
    parent = {"parent_id": parent_ev.id, "parent_arch": best_arch, "variant": ORIGINAL, "method": ORIGINAL,
              "status": "ok", "latency_ms": session_ms, "accuracy_pct": 50.0, "error_pct": 50.0, "macs": 10.0,
              "params": 5.0, "peak_memory_mb": 0.1, "model_size_mb": 0.1, "onnx": "", "measured_at": "today"}
    fast = {**parent, "variant": "prune0.5", "method": "prune", "latency_ms": session_ms / 2, "accuracy_pct": 49.0,
            "error_pct": 51.0, "onnx": "compressed/x-prune0.5.onnx", "settings": "prune(ratio=0.5)"}
    slow = {**parent, "variant": "int8-qdq", "method": "quantize", "latency_ms": session_ms * 2,
            "accuracy_pct": 99.9, "error_pct": 0.1, "onnx": "compressed/x-int8-qdq.onnx", "settings": "quantize()"}
    rows = [parent, fast, slow]
    compare_with_parents(rows)
    write_compressed(run_copy / COMPRESSED_CSV, rows)
    (run_copy / "compressed").mkdir(exist_ok=True)
    for row in (fast, slow):
        (run_copy / row["onnx"]).write_bytes(b"onnx")  # pick only reads the path
    return parent_ev


def test_pick_chooses_compressed_variants_but_never_a_slower_one(run_copy, best_arch, capsys):
    parent = _hand_made_variants(run_copy, best_arch, session_ms=1e-6)
    under = parent.metrics["latency_ms"] * 0.6  # only the variant at half its parent's latency fits
    assert main(["pick", str(run_copy), "--max-latency-ms", f"{under}", "--include-compressed"]) == 0
    out = capsys.readouterr().out
    assert f"compressed variant prune0.5 of evaluation {parent.id}" in out and "x-prune0.5.onnx" in out
    assert "int8-qdq" not in out
    assert main(["pick", str(run_copy), "--include-compressed"]) == 0  # knee: still never the slower one
    assert "int8-qdq" not in capsys.readouterr().out


def test_pick_without_the_flag_says_a_compressed_variant_meets_the_budget(run_copy, best_arch, cli_error):
    # after hwnas compress, a budget only the pruned variant meets said just "raise the budget"
    from hwnas.outputs import load_run

    _hand_made_variants(run_copy, best_arch, session_ms=1e-6)
    rows = read_compressed(run_copy / COMPRESSED_CSV)
    for row in rows:  # the pruned variant at 1/1000 of its parent: faster than every evaluation
        row["latency_ms"] = 1e-9 if row["variant"] == "prune0.5" else row["latency_ms"]
    compare_with_parents(rows)
    write_compressed(run_copy / COMPRESSED_CSV, rows)
    under = min(ev.metrics["latency_ms"] for ev in load_run(run_copy).evaluations if ev.ok) * 0.9
    cli_error(["pick", str(run_copy), "--max-latency-ms", f"{under}"], "raise the budget",
              "or pass --include-compressed: a compressed variant in compressed.csv meets it")
    line = cli_error(["pick", str(run_copy), "--max-latency-ms", f"{under * 1e-5}"], "raise the budget")
    assert "--include-compressed" not in line  # none meets this one
    # a variant whose ONNX file is gone is never picked, so it is no reason to pass the flag
    row = next(r for r in rows if r["variant"] == "prune0.5")
    (run_copy / row["onnx"]).unlink()
    line = cli_error(["pick", str(run_copy), "--max-latency-ms", f"{under}"], "raise the budget")
    assert "--include-compressed" not in line


def test_pick_names_the_slower_variants_that_alone_meet_a_budget(run_copy, best_arch, capsys, cli_error):
    # an INT8 variant is the only model under a size budget, but slower than its parent: never
    # picked, and the refusal says it is there rather than only "raise the budget"
    _hand_made_variants(run_copy, best_arch, session_ms=1e-6)
    rows = read_compressed(run_copy / COMPRESSED_CSV)
    for row in rows:
        row["params"] = 1.0 if row["variant"] == "int8-qdq" else 10.0
    write_compressed(run_copy / COMPRESSED_CSV, rows)
    line = cli_error(["pick", str(run_copy), "--max-params", "2", "--include-compressed"],
                     "no evaluated architecture meets max_params=2", "raise the budget",
                     "a variant in compressed.csv that meets it (1 variant: ", "int8-qdq)", "slower than its parent")
    assert "prune0.5" not in line


def test_pick_reads_compressed_csv_once_and_names_slower_variants_under_the_run_s_own_budgets(
        run_copy, best_arch, monkeypatch, cli_error):
    # one read serves both the variants picked from and the slower ones named; and a slower
    # variant is named only if it meets the budgets pick applies (the run's own, a flag tightening
    # them), not a looser flag's: int8-qdq (params 1) breaks the run's max_params=0.5
    from hwnas import outputs
    from hwnas.compress import results

    _hand_made_variants(run_copy, best_arch, session_ms=1e-6)
    rows = read_compressed(run_copy / COMPRESSED_CSV)
    for row in rows:
        row["params"] = 1.0 if row["variant"] == "int8-qdq" else 10.0
    write_compressed(run_copy / COMPRESSED_CSV, rows)
    reads = []
    monkeypatch.setattr(results, "read_compressed", lambda path: reads.append(path) or read_compressed(path))
    cli_error(["pick", str(run_copy), "--max-params", "2", "--include-compressed"], "that meets it (1 variant: ")
    assert reads == [run_copy / COMPRESSED_CSV]

    load_run = outputs.load_run

    def with_own_budget(path):
        run = load_run(path)
        run.config.budgets = {"max_params": 0.5}
        return run

    monkeypatch.setattr(outputs, "load_run", with_own_budget)
    line = cli_error(["pick", str(run_copy), "--max-params", "2", "--include-compressed"],
                     "no evaluated architecture meets the run's own budgets (max_params=0.5)")
    assert "int8-qdq" not in line


def test_pick_judges_variants_by_their_ratio_to_the_parent_not_by_another_session_s_ms(run_copy, best_arch,
                                                                                     capsys):
    # the compress session timed the parent far slower than the search's figure: the variant's
    # own ms would break the budget, its ratio to the parent (0.5) does not
    parent = _hand_made_variants(run_copy, best_arch, session_ms=100.0)
    ms = parent.metrics["latency_ms"]
    assert ms < 1.0  # the fake latency model of the tiny run
    assert main(["pick", str(run_copy), "--max-latency-ms", f"{ms * 0.6}", "--include-compressed"]) == 0
    out = capsys.readouterr().out
    assert "compressed variant prune0.5" in out and f"latency_ms={ms / 2:.4g}" in out, out
    assert "latency x0.50, accuracy -1.00 pts" in out
    # and a session that ran faster does not make a variant look under a budget it is not under
    _hand_made_variants(run_copy, best_arch, session_ms=ms * 1e-3)
    main(["pick", str(run_copy), "--max-latency-ms", f"{ms * 0.4}", "--include-compressed"])
    assert "compressed variant" not in capsys.readouterr().out


def test_bad_inputs_give_one_line_and_exit_2(run_copy, best_arch, capsys, cli_error):
    run = str(run_copy)
    cli_error(["compress", run, "--front", "--prune", "1.5"], "prune ratio (--prune) 1.5", "(0, 1)")
    cli_error(["compress", run, "--front", "--prune", "half"], "--prune 'half'", "--prune 0.25,0.5")
    cli_error(["compress", run, "--front", "--quantize", "int4"], "unknown quantization scheme 'int4'",
              "did you mean 'int8'")
    cli_error(["compress", run, "--prune", "0.5"], "--front", "--arch")
    cli_error(["compress", run, "--front"], "nothing to compress")
    cli_error(["compress", run, "--arch", "w9:k3e3", "--prune", "0.5"], "--arch 'w9:k3e3'", "stages")
    cli_error(["compress", run, "--front", "--prune", "0.5", "--importance", "l7"], "importance 'l7'")
    cli_error(["pick", run, "--include-compressed"], "compressed.csv does not exist",
              f"hwnas compress {run} --front")
    assert not (run_copy / COMPRESSED_CSV).exists()


@pytest.mark.parametrize("flag", ["--prune", "--quantize"])
def test_help_names_the_choices(flag, capsys):
    assert main(["compress", "--help"]) == 0
    assert flag in capsys.readouterr().out


def test_an_evaluation_id_the_run_lacks_and_a_negative_drop_are_refused(run_copy, capsys, cli_error):
    from hwnas.outputs import load_run

    ids = [ev.id for ev in load_run(run_copy).evaluations]
    run = str(run_copy)
    cli_error(["compress", run, "--arch", "99", "--prune", "0.5"],
              f"no evaluation 99 in {run} (ids {min(ids)}-{max(ids)})", "from front.csv")
    cli_error(["compress", run, "--front", "--prune", "0.5", "--max-accuracy-drop", "-5"],
              "--max-accuracy-drop -5 must be >= 0")
    assert not (run_copy / COMPRESSED_CSV).exists()


ALL_FAIL = """
[task]
dataset = "digits"
[space]
name = "mlp"
max_layers = 1
[estimator]
name = "fake-accuracy"
fail_substring = "h"
[cost]
target = "cpu-ort-1t"
models = ["counts", "fake-latency"]
[search]
objectives = ["error", "latency_ms"]
evaluations = 3
population = 3
"""


def test_a_run_whose_evaluations_all_failed_has_no_front_to_compress(tmp_path, capsys, cli_error):
    config = tmp_path / "fail.toml"
    config.write_text(ALL_FAIL)
    run = tmp_path / "run"
    assert main(["search", str(config), "--out", str(run), "--no-progress"]) == 1  # every evaluation failed
    capsys.readouterr()
    line = cli_error(["compress", str(run), "--front", "--prune", "0.5"],
                     f"no successful evaluation on the front of {run} (of 3 evaluations, 3 failed)",
                     "reason column", "new --out")
    assert "--arch" not in line and "--resume" not in line  # no model of this run would do
    assert not (run / COMPRESSED_CSV).exists()


def test_an_evaluation_id_that_failed_is_named_as_an_id_with_its_architecture(tmp_path, capsys, cli_error):
    from hwnas.outputs import load_run

    config = tmp_path / "fail.toml"
    config.write_text(ALL_FAIL)
    run = tmp_path / "run"
    assert main(["search", str(config), "--out", str(run), "--no-progress"]) == 1
    failed = load_run(run).evaluations[1]
    line = cli_error(["compress", str(run), "--arch", str(failed.id), "--prune", "0.5"],
                     f"evaluation id {failed.id} ({failed.arch!r}) was not evaluated successfully in {run}",
                     f"evaluation {failed.id} failed")
    assert f"architecture '{failed.id}'" not in line  # the id is no architecture string
    # an architecture string is still called one
    cli_error(["compress", str(run), "--arch", failed.arch, "--prune", "0.5"],
              f"architecture {failed.arch!r} was not evaluated successfully")


def test_a_run_without_task_data_or_target_is_refused_in_one_line(run_copy, tmp_path, monkeypatch, cli_error):
    from fakes import table_search_argv, write_nb201_table
    from hwnas import outputs

    table = tmp_path / "nb201.csv"
    write_nb201_table(table)
    run = tmp_path / "table-run"
    assert main(table_search_argv(table, run, 4)) == 0
    cli_error(["compress", str(run), "--front", "--prune", "0.5"],
              f"{run}: compressing needs the run's [task] data and [cost] target; this run's config has no [task] "
              f"(a table-backed run: its architectures are rows of a table, with no models); compress a run "
              f"searched with both, e.g. examples/digits.toml")
    load_run = outputs.load_run

    def without_target(path):
        run = load_run(path)
        run.config.cost.pop("target")
        return run

    # compress and pick --include-compressed ask the same rule (compress_lacks) of such a run
    monkeypatch.setattr(outputs, "load_run", without_target)
    cli_error(["compress", str(run_copy), "--front", "--prune", "0.5"],
              f"{run_copy}: compressing needs the run's [task] data and [cost] target; this run's config has no "
              f"[cost] target; compress a run searched with both, e.g. examples/digits.toml")
    cli_error(["pick", str(run_copy), "--include-compressed"], "cannot have any: its config has no [cost] target")
    assert not (run_copy / COMPRESSED_CSV).exists()


def test_a_target_that_cannot_run_here_is_refused_before_any_variant_is_built(run_copy, capsys, monkeypatch, cli_error):
    import onnxruntime

    # as on a machine without the run's provider (a run searched elsewhere, or from a remote table)
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["AzureExecutionProvider"])
    cli_error(["compress", str(run_copy), "--front", "--prune", "0.5"],
              "'CPUExecutionProvider' is not available",
              f"run `hwnas compress` on a machine where target cpu-ort-1t runs, with the run folder {run_copy}")
    assert not (run_copy / COMPRESSED_CSV).exists()


def test_ctrl_c_saves_the_parents_that_finished_and_never_a_row_naming_another_model(run_copy, best_arch,
                                                                                     monkeypatch, capsys):
    import hashlib

    from hwnas.compress import pipeline
    from hwnas.outputs import load_run

    other = next(ev.arch for ev in load_run(run_copy).evaluations if ev.ok and ev.arch != best_arch)
    base = ["compress", str(run_copy), "--prune", "0.5", "--finetune-epochs", "0"]
    assert main([*base, "--arch", other]) == 0  # an earlier call: other's prune0.5 and its file
    before = {r["variant"]: r for r in read_compressed(run_copy / COMPRESSED_CSV) if r["parent_arch"] == other}
    path = run_copy / str(before["prune0.5"]["onnx"])
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    real, calls = pipeline._apply_chain, []

    def interrupt_at_the_second_parent(chain, root, context, done):
        calls.append(chain)
        if len(calls) > 2:  # the first parent's original and prune0.5 are done
            raise KeyboardInterrupt
        return real(chain, root, context, done)

    monkeypatch.setattr(pipeline, "_apply_chain", interrupt_at_the_second_parent)
    capsys.readouterr()
    assert main([*base, "--arch", best_arch, "--arch", other, "--round-to", "1"]) == 130
    err = capsys.readouterr().err
    assert "1 of 2 parents finished, its variants saved in compressed.csv" in err
    # said at once, before the silent timing, so that a second Ctrl-C is not pressed unawares
    assert "interrupted: timing the 1 finished parent(s) beside their variants to save them; Ctrl-C again drops them" \
        in err.split("the 1 of 2 parents")[0]
    rows = read_compressed(run_copy / COMPRESSED_CSV)
    assert {(r["parent_arch"], r["variant"]) for r in rows} == {(a, v) for a in (best_arch, other)
                                                               for v in (ORIGINAL, "prune0.5")}
    assert (run_copy / str(next(r for r in rows if r["parent_arch"] == best_arch and r["onnx"])["onnx"])).is_file()
    # the interrupted parent's earlier variant: its row and its file as they were, together
    assert next(r for r in rows if r["parent_arch"] == other and r["variant"] == "prune0.5")["settings"] == \
        before["prune0.5"]["settings"]
    assert hashlib.md5(path.read_bytes()).hexdigest() == digest
    assert not list(run_copy.rglob("*.part"))

    calls.clear()
    monkeypatch.setattr(pipeline, "_apply_chain", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main([*base, "--arch", other]) == 130  # nothing finished: nothing written
    assert "compressed.csv and compressed/ are as they were" in capsys.readouterr().err
    assert read_compressed(run_copy / COMPRESSED_CSV) == rows
    # Ctrl-C while the finished parents are timed: untimed variants are not saved, and it says so
    monkeypatch.setattr(pipeline, "_apply_chain", real)
    monkeypatch.setattr(pipeline, "_time_all", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main([*base, "--arch", other]) == 130
    assert "interrupted before anything was saved" in capsys.readouterr().err
    assert read_compressed(run_copy / COMPRESSED_CSV) == rows


def test_a_signal_while_files_are_moved_into_place_waits_for_the_commit(run_copy, best_arch, monkeypatch, capsys):
    import os
    import signal

    real_replace, moved = os.replace, []

    def replace_then_signal(src, dst):  # Ctrl-C arrives between two moves
        real_replace(src, dst)
        moved.append(dst)
        if len(moved) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(os, "replace", replace_then_signal)
    assert main(["compress", str(run_copy), "--arch", best_arch, "--prune", "0.5", "--finetune-epochs", "0"]) == 130
    assert "1 of 1 parent finished, its variants saved in compressed.csv (all of them)" in capsys.readouterr().err
    rows = read_compressed(run_copy / COMPRESSED_CSV)
    assert [r["variant"] for r in rows] == [ORIGINAL, "prune0.5"] and len(moved) == 2
    assert (run_copy / str(rows[1]["onnx"])).is_file()


def test_a_variant_made_again_with_other_settings_says_it_replaced_the_earlier(run_copy, best_arch, capsys):
    base = ["compress", str(run_copy), "--arch", best_arch, "--prune", "0.5"]
    assert main([*base, "--finetune-epochs", "0"]) == 0
    assert "replaced:" not in capsys.readouterr().out
    assert main([*base, "--finetune-epochs", "0"]) == 0  # the same settings: nothing to say
    assert "replaced:" not in capsys.readouterr().out
    assert main([*base, "--finetune-epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert f"replaced: {best_arch} prune0.5 made earlier with prune(ratio=0.5,importance=l1,round_to=16," \
           f"finetune_epochs=0)" in out and "now prune(ratio=0.5,importance=l1,round_to=16,finetune_epochs=1)" in out


def test_a_variant_built_from_a_replaced_one_turns_stale_and_the_replaced_line_names_it(run_copy, best_arch,
                                                                                         capsys):
    base = ["compress", str(run_copy), "--arch", best_arch, "--prune", "0.5"]
    assert main([*base, "--quantize", "int8-qdq", "--finetune-epochs", "0"]) == 0
    capsys.readouterr()
    assert main([*base, "--finetune-epochs", "1"]) == 0  # prune0.5 made again; prune0.5+int8-qdq was built on the old
    out = capsys.readouterr().out
    rows = {r["variant"]: r for r in read_compressed(run_copy / COMPRESSED_CSV)}
    stacked = rows["prune0.5+int8-qdq"]
    assert stacked["status"] == "stale" and stacked["recommended"] is False and stacked["latency_ratio"] == ""
    assert "built from prune0.5 made with prune(ratio=0.5,importance=l1,round_to=16,finetune_epochs=0)" \
        in stacked["reason"]
    assert rows["int8-qdq"]["status"] == "ok"  # not built from prune0.5: re-timed as before
    assert "stale now, as built from the earlier prune0.5: prune0.5+int8-qdq" in out
    assert "1 stale (built from a replaced variant" in out and "ONNX file missing" not in out


def test_pick_leaves_out_a_variant_whose_onnx_file_is_gone_and_says_so(run_copy, best_arch, capsys):
    parent = _hand_made_variants(run_copy, best_arch, session_ms=1e-6)
    (run_copy / "compressed" / "x-prune0.5.onnx").unlink()
    main(["pick", str(run_copy), "--max-latency-ms", f"{parent.metrics['latency_ms'] * 0.6}", "--include-compressed"])
    captured = capsys.readouterr()
    assert "compressed variant" not in captured.out
    assert "1 compressed variant left out, their ONNX file is missing" in captured.err
    assert f"{best_arch} prune0.5" in captured.err


def test_a_picked_variant_of_a_run_without_latency_says_which_metrics_are_its_own(run_copy, best_arch, capsys):
    from hwnas.outputs import load_run
    from hwnas.report import print_pick_variant

    run = load_run(run_copy)
    row = {"variant": "prune0.5", "parent_id": 1, "parent_arch": best_arch, "settings": "prune()",
           "model_size_mb": 0.1, "latency_ratio": 0.5, "accuracy_change_pts": -1.0, "onnx": "compressed/x.onnx"}
    for ev in run.evaluations:
        ev.metrics.pop("latency_ms", None)  # as in a run searched on error and MACs only
    print_pick_variant(row, {"accuracy_pct": 50.0, "latency_ms": 0.05}, run, {})
    out = capsys.readouterr().out
    assert "the accuracy above is the parent's from this run with this change applied, the rest the variant's own" \
        in out


def test_compressing_the_front_of_an_unfinished_search_says_so(run_copy, capsys):
    import os

    from hwnas.search.run_folder import exclusive
    from hwnas.store import Store

    store = Store(run_copy / Store.FILE_NAME)
    store.set_meta("finished", False)  # as a search stopped (or still running) leaves it
    store.close()
    argv = ["compress", str(run_copy), "--front", "--prune", "0.5", "--finetune-epochs", "0"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert (f"note: the search in {run_copy} was stopped (Ctrl-C, kill or an error) after 4 of its 4 evaluations; "
            f"the front compressed here is that of those; continue it" in err), err
    with exclusive(run_copy):  # the search process, still writing the run
        assert main(argv) == 0
    err = capsys.readouterr().err
    assert (f"note: the search in {run_copy} is still running (pid {os.getpid()}); the front compressed here is "
            f"that of the 4 of its 4 evaluations stored so far; compress again when it has finished" in err), err
    assert "was stopped" not in err
