"""Helpers for tests that run the repository's scripts as subprocesses and read what they write."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

from fixtures import ROOT


def env() -> dict:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def run(command, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=kwargs.pop("cwd", ROOT), env=env(), capture_output=True, text=True,
                          timeout=600, **kwargs)


def start_paused(command, ready: Path, after: int, rank: int | None = None, **kwargs) -> subprocess.Popen:
    """Start a script's command line ([python, script, args...], or torchrun's) under tests/paused.py: it pauses
    once it has saved `after` batches (under torchrun only rank `rank` pauses), until a signal ends it."""
    script = next(k for k, part in enumerate(command) if str(part).endswith(".py"))
    pause = [str(ROOT / "tests" / "paused.py"), str(ready), str(after), "any" if rank is None else str(rank)]
    return subprocess.Popen([*command[:script], *pause, *map(str, command[script:])], cwd=ROOT, env=env(),
                            text=True, **kwargs)


def paused_pid(ready: Path, proc: subprocess.Popen, timeout: float = 600) -> int:
    """Wait until the run started by `start_paused` has paused; its pid. Fails if it ends first, or hangs."""
    waited = 0.0
    while not ready.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before it paused")
        assert waited < timeout, f"the run neither paused nor ended in {timeout} s"
        time.sleep(0.01)
        waited += 0.01
    return int(ready.read_text())


def read_records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]


def winoground(records, key, higher_is_better):
    """Text / Image / Group written out from the benchmark's definition, independently of evaluation.metrics."""
    better = (lambda x, y: x > y) if higher_is_better else (lambda x, y: x < y)
    text = image = group = 0
    for r in records:
        s = r[key]
        t = better(s["c0_i0"], s["c1_i0"]) and better(s["c1_i1"], s["c0_i1"])
        i = better(s["c0_i0"], s["c0_i1"]) and better(s["c1_i1"], s["c1_i0"])
        text, image, group = text + t, image + i, group + (t and i)
    n = len(records)
    return {"text": round(100 * text / n, 2), "image": round(100 * image / n, 2), "group": round(100 * group / n, 2)}


def table_row(stdout: str, label: str) -> list[str]:
    """The cells of the Markdown table row whose first cell is `label`."""
    line = next(line for line in stdout.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def run_in_process(script, argv, capsys, expect: int = 0) -> tuple[int, list[int]]:
    """Run a script's main in this process (no interpreter start, no import cost); returns its exit status and
    the batch sizes BLIP's vision towers saw. Pass --workers 0: worker processes must not fork from here."""
    from transformers.models.blip import modeling_blip

    encoded = []
    forward = modeling_blip.BlipVisionEmbeddings.forward

    def counting(self, pixel_values, *args, **kwargs):
        encoded.append(pixel_values.shape[0])
        return forward(self, pixel_values, *args, **kwargs)
    import pytest

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(modeling_blip.BlipVisionEmbeddings, "forward", counting)
        patch.setattr(sys, "argv", [script, *map(str, argv)])
        try:
            runpy.run_path(str(ROOT / script), run_name="__main__")
            code = 0
        except SystemExit as e:
            code = e.code or 0
    assert code == expect, capsys.readouterr().err[-2000:]
    return code, encoded


def run_command_in_process(command, capsys, expect: int = 0) -> int:
    """A script's command line ([python, script, args...]) run by `run_in_process`, with --workers 0 added
    where the command sets none."""
    argv = list(command[2:]) + ([] if "--workers" in command else ["--workers", "0"])
    return run_in_process(command[1], argv, capsys, expect)[0]
