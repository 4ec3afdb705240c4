"""Checkpoint fingerprints follow a folder's content, not its hidden bookkeeping files or its location."""

from __future__ import annotations

import shutil

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
