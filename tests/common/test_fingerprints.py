"""Checkpoint fingerprints follow a folder's content, not its hidden bookkeeping files or its location, and read
each file once while it is unchanged."""

from __future__ import annotations

import hashlib
import os
import shutil

from common import fingerprints
from common.fingerprints import checkpoint_fingerprint


def test_a_folder_fingerprint_follows_content_only(tmp_path):
    folder = tmp_path / "model"
    (folder / ".cache" / "huggingface").mkdir(parents=True)
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / ".cache" / "huggingface" / "model.lock").write_text("1")
    first = checkpoint_fingerprint(str(folder))
    (folder / ".cache" / "huggingface" / "model.lock").write_text("2")  # bookkeeping, not content
    (folder / ".DS_Store").write_text("x")
    assert checkpoint_fingerprint(str(folder)) == first
    shutil.copytree(folder, tmp_path / "copy")
    assert checkpoint_fingerprint(str(tmp_path / "copy")) == first  # a copy elsewhere is the same checkpoint
    (folder / "model.safetensors").write_bytes(b"other weights")
    assert checkpoint_fingerprint(str(folder)) != first


def _settled(monkeypatch):
    """Files old enough to have their digests recorded: the clock moved 10 s on."""
    import time

    now = time.time_ns() + 10_000_000_000
    monkeypatch.setattr(fingerprints.time, "time_ns", lambda: now)


def test_recorded_digests_spare_reading_and_any_write_is_noticed(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    folder.mkdir()
    weights = folder / "model.safetensors"
    weights.write_bytes(b"weights!")
    (folder / "config.json").write_text('{"a": 1}')
    _settled(monkeypatch)
    expected = "files:" + fingerprints.digest([["config.json", _blake(b'{"a": 1}')],
                                                ["model.safetensors", _blake(b"weights!")]])
    assert checkpoint_fingerprint(str(folder)) == expected  # the digest of the bytes, computed
    read = []
    original = fingerprints.file_digest
    monkeypatch.setattr(fingerprints, "file_digest", lambda p: read.append(p.name) or original(p))
    assert checkpoint_fingerprint(str(folder)) == expected and read == []  # recorded: nothing read again
    stamp = weights.stat()
    weights.write_bytes(b"WEIGHTS!")  # same size, and the modification time set back as it was
    os.utime(weights, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    _settled(monkeypatch)
    assert checkpoint_fingerprint(str(folder)) != expected and read == ["model.safetensors"]


def test_a_file_changed_just_now_is_not_recorded(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    checkpoint_fingerprint(str(folder))
    assert not (folder / fingerprints.STAMPS).exists()  # it could change again within the same clock tick


def _blake(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()
