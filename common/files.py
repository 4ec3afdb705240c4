"""Files written whole or not at all, and locks, so that neither a kill nor a second process loses work.

Every write goes to a temporary file beside its target and is renamed over it in one step, so a reader
never sees half a file, even after `kill -9` mid-write. A write that fails (a full disk, a read-only
folder, a path under a file) becomes one `InputError` line naming the path; what was written before it
stays on disk.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from common.errors import InputError, first_line


def write_error(path: str | Path, e: OSError) -> InputError:
    """The one line for a write that failed: what happened to which path, and that finished work is kept."""
    if e.errno == errno.ENOSPC:
        return InputError(f"the disk is full writing {path}: free space and run the same command again; "
                          f"finished work is kept")
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return InputError(f"cannot write {path}: it or its folder is read-only; pass a writable path")
    if e.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        return InputError(f"cannot write {path}: part of that path is a file, or the path is a folder; "
                          f"pass another path")
    return InputError(f"cannot write {path} ({first_line(e)}); finished work is kept")


def make_folder(path: str | Path) -> Path:
    """Create a folder (and its parents) for output, with a one-line error where that is impossible."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path} is a file, not a folder: pass a folder for the output")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(path, e) from None
    return path


def replace_atomically(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call write(tmp) on a temporary file beside `path`, then rename it over `path` in one step.

    The temporary name keeps the suffix, so writers that append one (numpy's savez) write where asked.
    """
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.tmp{path.suffix}")
    try:
        write(tmp)
        tmp.replace(path)
    except OSError as e:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # nothing was created where nothing can be
        raise write_error(path, e) from None
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return replace_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, data: Any, indent: int | None = 2, **dumps_options) -> Path:
    """Write JSON atomically, with a final newline."""
    return write_text(path, json.dumps(data, indent=indent, **dumps_options) + "\n")


def write_jsonl(path: str | Path, records) -> Path:
    """Write one JSON object per line, atomically."""
    return write_text(path, "".join(json.dumps(r) + "\n" for r in records))


def readable_npz(file: str | Path) -> bool:
    """Whether every array of an .npz file reads back (a truncated or corrupted file does not)."""
    import numpy as np

    try:
        with np.load(file) as stored:
            for name in stored.files:
                stored[name]
        return True
    except Exception:  # noqa: BLE001 - zipfile, numpy and OS errors alike mean the file is damaged
        return False


def append_durably(path: str | Path, text: str) -> None:
    """Append text in one write and flush it to disk before returning."""
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise write_error(path, e) from None


class Lock:
    """An exclusive lock on a lock file, held while this object lives (or until `release`).

    The operating system drops it when the holding process ends, even after `kill -9`. With wait=False a
    lock held by another process raises InputError(busy) at once instead of waiting for it.
    """

    def __init__(self, path: str | Path, wait: bool = True, busy: str = ""):
        self.fd = None
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise write_error(path, e) from None
        try:  # a POSIX record lock: processes forked from the holder (data loader workers) do not inherit it
            fcntl.lockf(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except (BlockingIOError, PermissionError):
            os.close(fd)
            raise InputError(busy or f"{path} is locked by another process") from None
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    __del__ = release


@contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """Hold the lock file `path` for the block, waiting for another process that holds it."""
    lock = Lock(path)
    try:
        yield
    finally:
        lock.release()
