"""Resumable run log and out-of-memory batch splitting."""

from __future__ import annotations

import json

import pytest
import torch

from common.errors import InputError
from evaluation.runs import RunLog, split_on_oom


def test_resume_keeps_finished_records_and_drops_a_partial_line(tmp_path):
    log = RunLog(tmp_path, {"seed": 0, "model": "m"})
    log.append([{"id": 0, "x": 1.0}, {"id": 1, "x": 2.0}])
    with open(tmp_path / "examples.jsonl", "a") as f:
        f.write('{"id": 2, "x"')  # killed mid-write
    again = RunLog(tmp_path, {"model": "m", "seed": 0})
    assert again.is_done([0, 1]) and not again.is_done([1, 2])
    again.append([{"id": 2, "x": 3.0}, {"id": 1, "x": 2.0}])
    records = again.finish([0, 1, 2])
    assert [r["x"] for r in records] == [1.0, 2.0, 3.0]
    lines = (tmp_path / "examples.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [0, 1, 2]


def test_other_arguments_are_refused(tmp_path):
    RunLog(tmp_path, {"seed": 0, "model": "m"})
    with pytest.raises(InputError, match="seed differ"):
        RunLog(tmp_path, {"seed": 1, "model": "m"})


def test_finish_with_missing_examples_fails(tmp_path):
    log = RunLog(tmp_path, {})
    log.append([{"id": 0}])
    with pytest.raises(RuntimeError):
        log.finish([0, 1])


def test_split_on_oom_halves_until_it_fits():
    calls = []

    def square(items):
        calls.append(len(items))
        if len(items) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return [x * x for x in items]

    assert split_on_oom(square, list(range(7))) == [x * x for x in range(7)]
    assert calls[0] == 7 and max(calls[1:]) <= 4

    def always(items):
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(torch.OutOfMemoryError):
        split_on_oom(always, [1, 2, 3])


def test_a_corrupt_middle_line_is_named_and_the_rest_kept(tmp_path):
    log = RunLog(tmp_path, {"seed": 0})
    log.append([{"id": 0, "x": 1.0}, {"id": 1, "x": 2.0}, {"id": 2, "x": 3.0}])
    lines = (tmp_path / "examples.jsonl").read_text().splitlines()
    lines[1] = lines[1][:7] + "#" + lines[1][8:]
    (tmp_path / "examples.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="examples.jsonl line 2 is corrupt: delete that line") as e:
        RunLog(tmp_path, {"seed": 0})
    assert "\n" not in str(e.value)
    (tmp_path / "examples.jsonl").write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    assert sorted(RunLog(tmp_path, {"seed": 0}).records) == [0, 2]


def test_changed_content_is_named_by_its_flag(tmp_path):
    RunLog(tmp_path, {"seed": 0, "fingerprints": {"data": "a", "clm_model": "b", "itm_model": "c"}})
    with pytest.raises(InputError, match=r"the content of --data changed since that run; the content of "
                                         r"--itm-model changed since that run\)"):
        RunLog(tmp_path, {"seed": 0, "fingerprints": {"data": "A", "clm_model": "b", "itm_model": "C"}})


def test_output_under_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="part of that path is a file|is a file, not a folder"):
        RunLog(tmp_path / "file" / "out", {})
    with pytest.raises(InputError, match="is a file, not a folder"):
        RunLog(tmp_path / "file", {})
