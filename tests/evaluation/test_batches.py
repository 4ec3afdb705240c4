"""The run's data path: images decoded once, in workers, with results independent of the worker count."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import datasets
import PIL.ImageFile
import pytest
import torch
from fixtures import draw_image, write_winoground_folder
from PIL import Image
from scripts import read_records, run, run_command_in_process

import scoring
from benchmarks.winoground import COLUMNS, load_winoground
from common.errors import InputError
from evaluation.batches import Batch, grid_batches


@pytest.fixture(scope="module")
def scorers(blip_paths, clip_path):
    return [scoring.load_scorer(str(blip_paths["itm"]), "itm"), scoring.load_scorer(str(clip_path), "contrastive")]


def _batches(data, scorers, workers, ranges=(range(0, 3), range(3, 6), range(6, 7))):
    preprocessors = {type(s).__name__: s.preprocess for s in scorers}
    return list(grid_batches(data, list(ranges), preprocessors, workers))


def test_worker_count_changes_nothing(winoground_dir, scorers):
    data = load_winoground(str(winoground_dir), limit=7)
    runs = [_batches(data, scorers, workers) for workers in (0, 1, 2)]
    for batches in runs[1:]:
        assert [b.examples for b in batches] == [b.examples for b in runs[0]]
        for mine, reference in zip(batches, runs[0]):
            for key in reference.pixels:
                assert torch.equal(mine.pixels[key], reference.pixels[key])


def test_pixels_are_the_scorers_own_preprocessing_in_example_order(winoground_dir, scorers):
    data = load_winoground(str(winoground_dir), limit=7)
    batches = _batches(data, scorers, workers=1)
    assert [ex["id"] for b in batches for ex in b.examples] == list(range(7))
    assert "image_0" not in batches[0].examples[0] and batches[0].captions[1] == data[0]["caption_1"]
    for scorer in scorers:
        images = [data[k][f"image_{i}"] for k in range(3, 6) for i in (0, 1)]
        assert torch.equal(batches[1].pixels[type(scorer).__name__], scorer.preprocess(images))


def test_batch_halves_keep_examples_and_pixels_together(winoground_dir, scorers):
    batch = _batches(load_winoground(str(winoground_dir), limit=3), scorers, 0, [range(0, 3)])[0]
    second = batch[1:]
    assert isinstance(second, Batch) and [ex["id"] for ex in second.examples] == [1, 2]
    for key, pixels in batch.pixels.items():
        assert torch.equal(second.pixels[key], pixels[2:6])


def test_each_image_is_decoded_once_per_run(winoground_dir, scorers, monkeypatch):
    decoded = []
    original = PIL.ImageFile.ImageFile.load

    def load(image):
        if getattr(image, "_decoded_once_check", False) is False:  # count each image object's first decode
            image._decoded_once_check = True
            decoded.append(image)
        return original(image)

    monkeypatch.setattr(PIL.ImageFile.ImageFile, "load", load)
    data = load_winoground(str(winoground_dir), limit=7)
    assert decoded == []  # the load-time check reads the files' structure without decoding them
    _batches(data, scorers, workers=0)  # two scorers with different preprocessing, same decoded images
    assert len(decoded) == 2 * 7


def _png_chunks(data: bytes):
    pos = 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        yield kind, data[pos + 8:pos + 8 + length], pos
        pos += 12 + length


def _with_idat(data: bytes, new_idat: bytes, fix_crc: bool) -> bytes:
    """The PNG with its first IDAT chunk's payload replaced; with fix_crc its checksum is recomputed."""
    kind, payload, pos = next(c for c in _png_chunks(data) if c[0] == b"IDAT")
    crc = zlib.crc32(kind + new_idat) if fix_crc else zlib.crc32(kind + payload)
    chunk = struct.pack(">I4s", len(new_idat), kind) + new_idat + struct.pack(">I", crc)
    return data[:pos] + chunk + data[pos + 12 + len(payload):]


def test_check_catches_corrupt_bytes_without_decoding(tmp_path):
    folder = write_winoground_folder(tmp_path / "w", n=2)
    png = folder / "images" / "ex_1_0.png"
    data = png.read_bytes()
    payload = next(p for kind, p, _ in _png_chunks(data) if kind == b"IDAT")
    flipped = payload[:10] + bytes([payload[10] ^ 0xFF]) + payload[11:]
    png.write_bytes(_with_idat(data, flipped, fix_crc=False))  # one byte changed, checksum left as it was
    with pytest.raises(InputError, match="ex_1_0.png cannot be read"):
        load_winoground(str(folder))


def test_check_catches_truncated_jpeg(tmp_path):
    buffer = io.BytesIO()
    draw_image(0, 0).convert("RGB").save(buffer, format="JPEG")
    table = {c: [] for c in COLUMNS}
    for c, v in zip(COLUMNS, [0, None, None, "a", "b", "Object", "", 1, "Object"]):
        table[c].append({"bytes": buffer.getvalue()[:-200], "path": None} if c.startswith("image_") else v)
    features = datasets.Features({c: datasets.Image() if c.startswith("image_") else
                                  datasets.Value("int64" if c in ("id", "num_main_preds") else "string")
                                  for c in COLUMNS})
    path = tmp_path / "test.parquet"
    datasets.Dataset.from_dict(table, features=features).to_parquet(path)

    class OneFile:
        def list_files(self, repo_id, revision):
            return ["data/test-0.parquet"]

        def download(self, repo_id, filename, revision):
            return str(path)

    with pytest.raises(InputError, match="image_0 of example 0 cannot be read"):
        load_winoground("facebook/winoground", hub=OneFile())


def test_file_that_cannot_be_decoded_keeps_finished_work(cli, tmp_path):
    folder = write_winoground_folder(tmp_path / "w", n=10)
    png = folder / "images" / "ex_5_0.png"
    png.write_bytes(_with_idat(png.read_bytes(), b"not zlib data at all", fix_crc=True))  # passes the check
    with Image.open(png) as image:
        image.verify()
    out = tmp_path / "out"
    done = run(cli("experiment1", out, "--data", str(folder), "--batch-size", "2", "--workers", "1"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: image {png.resolve()} cannot be decoded: replace the file and run again; the examples scored so "
        f"far are kept")
    assert [r["id"] for r in read_records(out)] == [0, 1, 2, 3]  # the two batches before it


def _differing_scores(a: Path, b: Path) -> list[tuple]:
    """Every (id, row, cell, score in a, score in b) that differs between two examples.jsonl, for the failure line."""
    out = []
    for ra, rb in zip(*(read_records(folder) for folder in (a, b))):
        out += [(ra["id"], key, cell, value, rb[key][cell]) for key, cells in ra.items() if isinstance(cells, dict)
                for cell, value in cells.items() if rb[key][cell] != value]
    return out


def test_experiment_results_are_identical_for_any_worker_count(cli, tmp_path):
    outs = {workers: tmp_path / f"w{workers}" for workers in (0, 2)}
    for workers, out in outs.items():
        done = run(cli("experiment1", out, "--workers", str(workers)))
        assert done.returncode == 0, done.stderr
    same = (outs[0] / "examples.jsonl").read_bytes() == (outs[2] / "examples.jsonl").read_bytes()
    assert same, _differing_scores(outs[0], outs[2])
    rows = [json.loads((out / "results.json").read_text())["rows"] for out in outs.values()]
    assert rows[0] == rows[1]
    assert json.loads((outs[0] / "config.json").read_text()).get("workers") is None  # not a result-changing argument


def test_a_run_fixes_its_thread_count_for_every_library(cli, tmp_path, capsys, monkeypatch):
    """torch.set_num_threads also turns MKL's dynamic thread count off; without the call MKL may use fewer threads
    than torch's count whenever it judges best, and a product's bits change with its number of threads."""
    calls = []
    original = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append(n) or original(n))
    run_command_in_process(cli("experiment1", tmp_path / "out", "--limit", "2"), capsys)
    assert calls[:1] == [torch.get_num_threads()]
    versions = json.loads((tmp_path / "out" / "results.json").read_text())["versions"]
    assert versions["torch_threads"] == torch.get_num_threads()


def test_negative_workers_is_one_line(winoground_dir, scorers):
    with pytest.raises(InputError, match="--workers must be 0"):
        _batches(load_winoground(str(winoground_dir), limit=2), scorers, -1)
