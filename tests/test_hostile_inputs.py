"""Hostile inputs and faults, as a user meets them: each ends in a correct result or one line, never in a
silently wrong result, a traceback or lost work."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys

import pytest
import torch
from fixtures import ROOT, draw_image
from scripts import env, paused_pid, read_records, run, run_command_in_process, run_in_process, start_paused

from common.files import Lock


def _one_line_error(done, *phrases):
    assert done.returncode == 2, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Traceback" not in done.stderr, done.stderr[-2000:]
    for phrase in phrases:
        assert phrase in last, last


def test_a_rerun_after_an_edit_keeps_every_unchanged_example(cli, winoground_dir, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(winoground_dir, data)
    out = tmp_path / "out"
    argv = lambda out: cli("experiment1", out, "--data", str(data), "--limit", "3", "--batch-size", "1")  # noqa: E731
    run_command_in_process(argv(out), capsys)
    before = read_records(out)
    lines = (data / "examples.jsonl").read_text().splitlines()
    lines[1] = json.dumps({**json.loads(lines[1]), "caption_0": "the cat chases the dog again"})
    (data / "examples.jsonl").write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    run_command_in_process(argv(out), capsys)
    printed = capsys.readouterr().out
    assert "2 example(s) kept, 1 scored again as their inputs changed since, 0 new" in printed
    after = read_records(out)
    assert after[0] == before[0] and after[1]["caption_0"] == "the cat chases the dog again"
    assert after[1]["itm"] != before[1]["itm"] and after[1]["inputs"] != before[1]["inputs"]
    # an image replaced: that example alone is scored again; the folder then equals a clean run's on that data
    draw_image(9, 1).save(data / "images" / "ex_2_0.png")
    capsys.readouterr()
    run_command_in_process(argv(out), capsys)
    assert "2 example(s) kept, 1 scored again as their inputs changed since, 0 new" in capsys.readouterr().out
    run_command_in_process(argv(tmp_path / "clean"), capsys)
    assert (out / "examples.jsonl").read_bytes() == (tmp_path / "clean" / "examples.jsonl").read_bytes()
    assert read_records(out)[2]["itm"] != after[2]["itm"]


def test_a_finished_run_prints_its_tables_without_loading_models(cli, tmp_path, capsys):
    out = tmp_path / "out"
    capsys.readouterr()
    run_command_in_process(cli("experiment2", out, "--limit", "2"), capsys)
    first = capsys.readouterr()
    again = run(cli("experiment2", out, "--limit", "2"))
    assert again.returncode == 0 and "printed from its results.json; nothing was recomputed" in again.stdout
    assert "Loading weights" not in again.stderr and "Loading weights" in first.err
    table = lambda text: text[text.index("| Row |"):text.index("Results in")]  # noqa: E731
    assert table(again.stdout) == table(first.out)


def test_a_second_run_on_a_held_folder_is_refused(cli, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    lock = Lock(out / ".lock")  # held by this process, as a running experiment holds it
    try:
        _one_line_error(run(cli("experiment1", out, "--limit", "2")), f"another run is writing {out}")
    finally:
        lock.release()
    assert run(cli("experiment1", out, "--limit", "2")).returncode == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_leaves_nothing_behind(cli, tmp_path):
    out = tmp_path / "out"
    _one_line_error(run(cli("experiment1", out, "--device", "cuda")), "no CUDA GPU")
    assert not out.exists()


@pytest.mark.parametrize("flags,phrase", [(["--seed", "-1"], "--seed must be at least 0"),
                                          (["--seed", str(2**64 - 1)], "--seed must be at most 4294967295"),
                                          (["--device", "gpu"], "--device gpu is not a torch device")])
def test_bad_flags_fail_before_any_work(cli, tmp_path, flags, phrase):
    out = tmp_path / "out"
    done = run(cli("experiment3", out, *flags))
    _one_line_error(done, phrase)
    assert not out.exists() and "Loading weights" not in done.stderr


def test_out_that_is_a_file_is_one_line(cli, tmp_path):
    (tmp_path / "file").write_text("")
    _one_line_error(run(cli("experiment1", tmp_path / "file")), "is a file, not a folder")
    _one_line_error(run(cli("experiment1", tmp_path / "file" / "out")), "is a file")


def test_ctrl_c_says_what_is_saved_and_the_run_resumes(cli, tmp_path, capsys):
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    flags = ("--batch-size", "1", "--workers", "0")
    run_command_in_process(cli("experiment1", whole, *flags), capsys)
    ready = tmp_path / "ready"
    proc = start_paused(cli("experiment1", stopped, *flags), ready, after=2, stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE)
    paused_pid(ready, proc)  # two examples saved, and the run waits in its scoring loop
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == (
        f"interrupted: 2 of 10 examples are saved in {stopped}; run the same command again to continue from there")
    assert len(read_records(stopped)) == 2
    run_command_in_process(cli("experiment1", stopped, *flags), capsys)
    assert read_records(stopped) == read_records(whole)


def test_summarize_refuses_examples_of_another_run(cli, tmp_path, winoground_dir, capsys):
    out = tmp_path / "out"
    run_command_in_process(cli("experiment1", out, "--limit", "4"), capsys)
    other = tmp_path / "other"
    shutil.copytree(winoground_dir, other)
    lines = (other / "examples.jsonl").read_text().splitlines()
    lines[0], lines[1] = lines[1], lines[0]  # the same examples in another order: ids 1, 0
    (other / "examples.jsonl").write_text("\n".join(json.dumps({**json.loads(line), "id": n})
                                                    for n, line in enumerate(lines)) + "\n")

    def summarize(*extra, expect=2) -> str:
        capsys.readouterr()
        run_in_process("summarize.py", [out, *extra], capsys, expect=expect)
        return capsys.readouterr().out

    # Data that is not what the run scored: no page (one line), the tables and figures still written.
    printed = summarize("--data", other, expect=0)
    assert "no examples.html: " in printed and "does not hold example 0 of examples.jsonl as the run scored it" in printed
    assert not (out / "examples.html").exists() and (out / "scores.png").exists()
    records = (out / "examples.jsonl").read_text().splitlines()
    (out / "examples.jsonl").write_text("\n".join(records[:2]) + "\n")
    assert "holds 2 examples but results.json counts 4" in summarize()
    (out / "examples.jsonl").write_text("\n".join(records) + "\n")
    results = json.loads((out / "results.json").read_text())
    del results["rows"]["itm"]["interval95"]
    (out / "results.json").write_text(json.dumps(results))
    assert "results.json lacks rows.itm.interval95" in summarize()


def test_two_runs_on_one_fresh_swap_cache_lose_no_entries(cli, tmp_path, blip_paths, mlm_path, winoground_dir):
    from fixtures import write_retrieval_data

    from benchmarks.retrieval import load_retrieval
    from benchmarks.winoground import load_winoground

    swaps = tmp_path / "swaps.json"
    annotations = write_retrieval_data(tmp_path / "retrieval")["blip"]
    exp3 = cli("experiment3", tmp_path / "e3")
    exp3[exp3.index("--swap-cache") + 1] = str(swaps)
    exp4 = [sys.executable, str(ROOT / "experiment4.py"), "--data", str(annotations), "--itm-model",
            str(blip_paths["itm"]), "--clm-model", str(blip_paths["clm"]), "--mlm-model", str(mlm_path),
            "--swap-cache", str(swaps), "--device", "cpu", "--k", "2", "--rows", "itc,itm_ratio,clm_ratio_improved",
            "--out", str(tmp_path / "e4")]
    procs = [subprocess.Popen(c, cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for c in (exp3, exp4)]
    for p in procs:
        _, stderr = p.communicate(timeout=600)
        assert p.returncode == 0, stderr[-2000:]
    saved = {(e["search"], e["caption"]) for e in json.loads(swaps.read_text())["swaps"]}
    data = load_winoground(str(winoground_dir))
    expected = {(s, ex[f"caption_{c}"]) for ex in data for c in (0, 1) for s in ("published", "improved")}
    expected |= {(s, c) for c in load_retrieval(str(annotations)).captions for s in ("published", "improved")}
    assert expected <= saved


def test_a_damaged_cache_is_named_before_any_model_loads(cli, tmp_path):
    swaps = tmp_path / "swaps.json"
    swaps.write_text('{"swaps": [{"model": "m", "dtype": "float32", "search": "improved", "seed": 0, '
                     '"max_pairs": 1000, "caption": "a", "swap": 3, "reason": null}]}')
    argv = cli("experiment2", tmp_path / "out", "--limit", "2")
    argv[argv.index("--swap-cache") + 1] = str(swaps)
    done = run(argv)
    _one_line_error(done, f"{swaps}: entry 0 has 'swap' = 3 of the wrong type", "--swap-cache")
    assert "Loading weights" not in done.stderr
