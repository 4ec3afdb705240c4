"""Fingerprints of what a run scored, so that a run is bound to its data and models, and caches to models.

A checkpoint's fingerprint is the hub commit it resolves to (content-addressed on the hub), or for a
local folder a digest of every file's bytes (weights, config, tokenizer): replacing the weights in a
folder changes it, copying the folder elsewhere does not. A file's fingerprint is cheaper: its path,
size and modification time, which catch an edited or replaced file without reading it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from common.errors import InputError

_CHUNK = 1 << 22


def digest(*parts: Any) -> str:
    """A short stable digest of JSON-able parts."""
    return hashlib.blake2b(json.dumps(parts, sort_keys=True, default=str).encode(), digest_size=16).hexdigest()


def file_digest(path: str | Path) -> str:
    """The digest of a file's bytes."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def file_stamp(path: str | Path) -> list:
    """Path, size and modification time: a cheap stand-in for a file's content that catches edits."""
    try:
        stat = os.stat(path)
    except OSError:
        raise InputError(f"image {path} is missing: restore it, or pass the data it belongs to") from None
    return [str(path), stat.st_size, stat.st_mtime_ns]


def checkpoint_fingerprint(name_or_path: str) -> str:
    """The identity of a checkpoint's content: a folder's files' digest, or the hub commit of a hub id."""
    folder = Path(name_or_path).expanduser()
    if folder.is_dir():
        # Hidden files and folders (.cache/ of a hub download into a folder, editor and OS files) are not content.
        files = sorted(p for p in folder.rglob("*") if p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(folder).parts))
        return "files:" + digest([[p.relative_to(folder).as_posix(), file_digest(p)] for p in files])
    return "hub:" + hub_commit(name_or_path)


def hub_commit(repo_id: str) -> str:
    """The commit of a hub model repo that `from_pretrained` loads: asked of the hub, else the local cache."""
    from huggingface_hub import snapshot_download

    try:  # config.json alone: the snapshot's folder name is the commit it resolved to
        folder = snapshot_download(repo_id, allow_patterns=["config.json"])
    except Exception:  # noqa: BLE001 - offline or not found: whatever loads the model reports that
        try:
            folder = snapshot_download(repo_id, allow_patterns=["config.json"], local_files_only=True)
        except Exception:  # noqa: BLE001
            return f"{repo_id}@unresolved"
    return f"{repo_id}@{Path(folder).name}"
