"""A cache a person can read and edit: entries in a JSON file, keyed by fields, shared safely between runs.

Runs that share a cache file (experiments 2, 3 and 4 share the swap cache) may run at the same time, so
`save` merges under a file lock: it re-reads what other runs saved, adds this run's entries, and writes
the file atomically. Entries may be edited by hand; what cannot be read, and any number that is not finite, is
named in one line when the cache is opened, which a run does before it loads any model.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import ClassVar

from common.errors import InputError
from common.files import locked, make_folder, write_json


class JsonCache:
    ROOT: ClassVar[str]  # the file is {ROOT: [entries]}
    KEY: ClassVar[dict[str, type | tuple]]  # key field -> its type(s); an entry's key is their values in order
    VALUES: ClassVar[dict[str, type | tuple]]  # value field -> its type(s)
    FLAG: ClassVar[str] = "--cache"  # the flag that names the file, for messages

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self.entries: dict[tuple, dict] = self._read() if self.path else {}
        self._unsaved = False  # whether `put` added entries that `save` has not written

    def get(self, key: tuple) -> dict | None:
        return self.entries.get(key)

    def put(self, key: tuple, values: dict, **readable) -> None:
        """Store values under key; `readable` fields (e.g. the model's path) are kept for a person reading it."""
        self.entries[key] = {**dict(zip(self.KEY, key)), **readable, **values}
        self._unsaved = True

    def save(self) -> None:
        """Merge this run's entries with what other runs saved meanwhile, under a lock, and write the file; with
        nothing added since the last save, there is nothing to write."""
        if not self.path or not self._unsaved:
            return
        make_folder(self.path.parent)
        with locked(self.path.with_name(self.path.name + ".lock")):
            merged = {**self._read(), **self.entries}
            ordered = [merged[k] for k in sorted(merged, key=lambda k: tuple(map(str, k)))]
            write_json(self.path, {self.ROOT: ordered}, indent=1, ensure_ascii=False)
        self.entries, self._unsaved = merged, False

    def _read(self) -> dict[tuple, dict]:
        if not self.path.exists():
            return {}
        fix = f"fix or delete that entry, or pass another {self.FLAG}"
        if not self.path.is_file():
            raise InputError(f"{self.path} is not a file: pass a JSON file path as {self.FLAG}")
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))[self.ROOT]
            if not isinstance(entries, list):
                raise TypeError
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
            raise InputError(f"{self.path} is not a cache this code wrote (a JSON object with a list "
                             f"'{self.ROOT}'): delete it or pass another {self.FLAG}") from None
        out = {}
        for n, e in enumerate(entries):
            if not isinstance(e, dict):
                raise InputError(f"{self.path}: entry {n} is not a JSON object: {fix}")
            for field, kind in {**self.KEY, **self.VALUES}.items():
                if field not in e:
                    raise InputError(f"{self.path}: entry {n} lacks the field '{field}': {fix}")
                if not isinstance(e[field], kind) or isinstance(e[field], bool) and kind is int:
                    raise InputError(f"{self.path}: entry {n} has '{field}' = {e[field]!r} of the wrong type: {fix}")
                if isinstance(e[field], float) and not math.isfinite(e[field]):
                    raise InputError(f"{self.path}: entry {n} has '{field}' = {e[field]}, not a finite number (the "
                                     f"cache is at fault, not the run): {fix}")
            out[tuple(e[f] for f in self.KEY)] = e
        return out
