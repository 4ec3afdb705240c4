"""Data-parallel runs under torchrun on the CPU (gloo): the same bytes as one process, for any number of ranks,
and a launch that loses a rank resumes under another number of ranks.

A CPU result depends on the number of threads a matrix product uses, and torchrun gives each rank one
(OMP_NUM_THREADS=1), so the single-process runs here use one thread too. Each cache (T', priors) is
separate per run, so the ranks search and compute them cold, as the single process does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fixtures import ROOT, write_retrieval_data
from scripts import env, paused_pid, run_in_process, start_paused

TORCHRUN = str(Path(sys.executable).with_name("torchrun"))
OUTPUTS = ("examples.jsonl", "results.json", "queries.jsonl", "swaps.json", "priors.json", "first_stage.npz")


@contextlib.contextmanager
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _torchrun(ranks: int, script: str, argv) -> subprocess.Popen:
    return subprocess.Popen(_torchrun_command(ranks, script, argv), cwd=ROOT, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _torchrun_command(ranks: int, script: str, argv) -> list[str]:
    return [TORCHRUN, "--nproc_per_node", str(ranks), str(ROOT / script), *map(str, argv)]


def _finished(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-3000:]


def _same_bytes(single: Path, parallel: Path) -> None:
    compared = [name for name in OUTPUTS if (single / name).exists()]
    assert "results.json" in compared
    for name in compared:
        assert (single / name).read_bytes() == (parallel / name).read_bytes(), name
    assert not list(parallel.glob("*.part-*")), "the ranks' files are merged and removed"


@pytest.fixture(scope="module")
def runs(blip_paths, mlm_path, blip2_t5_path, winoground_dir, tmp_path_factory):
    """Each experiment's arguments, given an output folder that also holds its caches."""
    retrieval = write_retrieval_data(tmp_path_factory.mktemp("retrieval_ranks"))["blip"]

    def argv(experiment: str, out: Path) -> list:
        data = ["--data", winoground_dir, "--device", "cpu", "--workers", 0, "--batch-size", 1, "--out", out]
        caches = ["--mlm-model", mlm_path, "--swap-cache", out / "swaps.json"]
        return {"experiment1": [*data, "--clm-model", blip_paths["clm"], "--itm-model", blip_paths["itm"]],
                "experiment3": [*data, "--clm-model", blip_paths["clm"], *caches],
                "experiment5": [*data, "--limit", 6, "--clm-model", blip_paths["clm"], "--itm-model", blip_paths["itm"],
                                "--vqa-model", blip2_t5_path, "--prior-cache", out / "priors.json", *caches],
                "experiment4": ["--data", retrieval, "--itm-model", blip_paths["itm"], "--clm-model", blip_paths["clm"],
                                "--k", 3, "--rows", "itc,itm_blip,clm_exact,clm_ratio_improved", "--device", "cpu",
                                "--workers", 0, "--batch-size", 3, "--out", out, *caches]}[experiment]
    return argv


@pytest.mark.parametrize("experiment", ["experiment1", "experiment3", "experiment4", "experiment5"])
def test_two_ranks_write_the_bytes_of_one_process(experiment, runs, tmp_path, capsys):
    with one_thread():
        run_in_process(f"{experiment}.py", runs(experiment, tmp_path / "single"), capsys)
    _finished(_torchrun(2, f"{experiment}.py", runs(experiment, tmp_path / "ranks")))
    _same_bytes(tmp_path / "single", tmp_path / "ranks")


def test_one_rank_under_torchrun_takes_the_ranks_path_and_writes_the_same_bytes(runs, tmp_path, capsys):
    # torchrun leaves one rank the default threads (OMP_NUM_THREADS=1 only for several ranks per machine).
    run_in_process("experiment1.py", runs("experiment1", tmp_path / "single"), capsys)
    out = tmp_path / "one"
    ready = tmp_path / "ready"
    launch = start_paused(_torchrun_command(1, "experiment1.py", runs("experiment1", out)), ready, after=1,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.kill(paused_pid(ready, launch), signal.SIGKILL)
    launch.communicate(timeout=300)
    assert [f.name for f in out.glob("examples*")] == ["examples.part-0-of-1.jsonl"]  # the ranks' file, not one's
    _finished(_torchrun(1, "experiment1.py", runs("experiment1", out)))
    _same_bytes(tmp_path / "single", out)


def test_a_killed_rank_loses_only_its_batch_and_another_launch_resumes(runs, tmp_path, capsys):
    with one_thread():
        run_in_process("experiment1.py", runs("experiment1", tmp_path / "single"), capsys)
    out, ready = tmp_path / "ranks", tmp_path / "ready"
    launch = start_paused(_torchrun_command(2, "experiment1.py", runs("experiment1", out)), ready, after=1, rank=1,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    os.kill(paused_pid(ready, launch), signal.SIGKILL)  # rank 1, right after its first batch is on disk
    output, _ = launch.communicate(timeout=300)
    assert launch.returncode != 0 and not (out / "results.json").exists(), output[-2000:]
    kept = {f.name: f.read_bytes().count(b"\n") for f in out.glob("examples.part-*")}
    assert kept["examples.part-1-of-2.jsonl"] == 1 and sum(kept.values()) < 10  # finished batches kept, not all
    _finished(_torchrun(3, "experiment1.py", runs("experiment1", out)))  # another number of ranks resumes
    _same_bytes(tmp_path / "single", out)
