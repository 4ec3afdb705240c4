"""Fingerprints of what a run scored, so that a run is bound to its data and models, and caches to models.

A checkpoint's fingerprint is the hub commit it resolves to (content-addressed on the hub), or for a
local folder a digest of every file's bytes (weights, config, tokenizer): replacing the weights in a
folder changes it, copying the folder elsewhere does not. Reading gigabytes of weights on every run
would cost seconds, so each file's digest is kept in the folder's hidden `.fingerprints.json` beside the
file's stamp (size, inode, modification and change times): a file whose stamp is unchanged is not read
again, and any write to a file, or a file put in its place, changes its stamp. A file's stamp alone
(path, size, modification time) is the cheaper fingerprint of a data file.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from common.errors import InputError
from common.files import write_json

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


def _stamp(path: Path) -> list[int]:
    """What changes whenever a file's bytes do: a write updates the change time, which no program can set back."""
    stat = path.stat()
    return [stat.st_size, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns]


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
        return "files:" + digest([[name, file_hash] for name, (_, file_hash) in folder_digests(folder).items()])
    return "hub:" + hub_commit(name_or_path)


STAMPS = ".fingerprints.json"  # hidden, so not part of the content it describes
_SETTLED_NS = 2_000_000_000  # a file changed this recently may change again within its stamp's clock tick


def folder_digests(folder: Path) -> dict[str, list]:
    """{relative path: [stamp, digest of the bytes]} of every file in the folder but hidden ones, in path order.

    Digests whose file has the stamp recorded in the folder's STAMPS file are taken from there; the others are
    computed and recorded. Files changed in the last two seconds are not recorded, since a second write within
    the same clock tick would leave the stamp as it was. A folder that cannot be written is digested every time.
    """
    # Hidden files and folders (.cache/ of a hub download into a folder, editor and OS files) are not content.
    files = sorted((p.relative_to(folder).as_posix(), p) for p in folder.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    try:
        known = json.loads((folder / STAMPS).read_text())
    except (OSError, ValueError):
        known = {}
    known = known if isinstance(known, dict) else {}
    now = time.time_ns()
    found, settled = {}, {}
    for name, path in files:
        stamp = _stamp(path)
        entry = known.get(name)
        found[name] = entry if isinstance(entry, list) and entry[:1] == [stamp] else [stamp, file_digest(path)]
        if now - stamp[3] > _SETTLED_NS:
            settled[name] = found[name]
    if settled != known:
        try:
            write_json(folder / STAMPS, settled)
        except InputError:
            pass  # a read-only folder: the digests are computed again next time
    return found


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
