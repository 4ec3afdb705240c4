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


def test_a_folder_of_an_earlier_schema_is_refused_not_mixed(tmp_path):
    RunLog(tmp_path, {"seed": 0})  # config.json without "schema": written before schema 3 renamed rows
    with pytest.raises(InputError, match="earlier release of this code, which named rows otherwise"):
        RunLog(tmp_path, {"schema": 3, "seed": 0})


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


def test_the_files_of_any_number_of_ranks_are_read_and_merged_in_example_order(tmp_path):
    from evaluation.distributed import Ranks

    config = {"seed": 0}
    RunLog(tmp_path, config)  # config.json
    # A launch of 3 ranks, then one of 2 that was killed: rank 1 of it left half a line.
    (tmp_path / "examples.part-0-of-3.jsonl").write_text('{"id": 4, "s": 4}\n{"id": 1, "s": 1}\n')
    (tmp_path / "examples.part-2-of-3.jsonl").write_text('{"id": 3, "s": 3}\n')
    (tmp_path / "examples.part-1-of-2.jsonl").write_text('{"id": 0, "s": 0}\n{"id": 2, "s"')
    other = RunLog(tmp_path, config, Ranks(rank=1, world=2))  # another rank reads, and mends nothing
    assert set(other.records) == {0, 1, 3, 4} and other.append_file.name == "examples.part-1-of-2.jsonl"
    assert (tmp_path / "examples.part-1-of-2.jsonl").read_text().endswith('"s"')
    log = RunLog(tmp_path, config)  # one process resumes: it reads every file and mends the partial line
    assert set(log.records) == {0, 1, 3, 4} and log.saved() == 4
    assert (tmp_path / "examples.part-1-of-2.jsonl").read_text() == '{"id": 0, "s": 0}\n'
    log.append([{"id": 2, "s": 2}])
    assert [r["id"] for r in log.finish([0, 1, 2, 3, 4])] == [0, 1, 2, 3, 4]
    assert [json.loads(line)["s"] for line in (tmp_path / "examples.jsonl").read_text().splitlines()] == [0, 1, 2, 3, 4]
    assert not list(tmp_path.glob("examples.part-*"))


def test_a_record_counts_as_done_only_while_its_inputs_are_those_of_now(tmp_path):
    RunLog(tmp_path, {}, inputs={0: "a", 1: "b"}).append([{"id": 0, "inputs": "a"}, {"id": 1, "inputs": "b"}])
    again = RunLog(tmp_path, {}, inputs={0: "a", 1: "b, edited", 2: "c"})
    assert again.is_done([0]) and not again.is_done([1]) and not again.is_done([2])
    assert again.resume_counts() == {"kept": 1, "stale": 1, "new": 1} and again.saved() == 1
    with pytest.raises(RuntimeError, match=r"examples \[1, 2\] were never scored"):
        again.finish([0, 1, 2])
    again.append([{"id": 1, "inputs": "b, edited"}, {"id": 2, "inputs": "c"}])
    assert [r["inputs"] for r in again.finish([0, 1, 2])] == ["a", "b, edited", "c"]
