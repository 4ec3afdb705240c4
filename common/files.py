"""Files written whole or not at all: a reader never sees half a file, even after `kill -9` mid-write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable


def replace_atomically(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call write(tmp) on a temporary file beside `path`, then rename it over `path` in one step.

    The temporary name keeps the suffix, so writers that append one (numpy's savez) write where asked.
    """
    path = Path(path)
    tmp = path.with_name(f"{path.stem}.tmp{path.suffix}")
    write(tmp)
    tmp.replace(path)
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
