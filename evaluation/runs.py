"""Long evaluations that survive being killed, and batches that survive running out of GPU memory.

`RunLog` keeps an output folder's `examples.jsonl` (one record per finished example) and `config.json`
(the arguments that produced it, and the fingerprints of the models it scored). Records are appended a batch
at a time, each with the fingerprint of its example's inputs (its fields and images), so a run started again
with the same folder, arguments and models keeps every example whose inputs are unchanged and scores the
edited, replaced and new ones; other arguments or models are refused rather than mixed into the same file. While a run holds its
folder (`lock_folder`), a second run with the same --out is refused. Under torchrun each rank appends to
its own `examples.part-<rank>-of-<world>.jsonl` (evaluation/distributed.py); every file is read on start,
whatever the number of ranks that wrote it, and `finish` merges them into examples.jsonl.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Mapping, Sequence, TypeVar

import torch

from common.errors import InputError
from common.files import Lock, append_durably, make_folder, write_error, write_json, write_jsonl
from evaluation.distributed import Ranks

T = TypeVar("T")
R = TypeVar("R")


def lock_folder(folder: Path) -> Lock:
    """Hold an output folder for this run: a second run with the same --out is refused while this one lives."""
    return Lock(make_folder(folder) / ".lock", wait=False,
                busy=f"another run is writing {folder}: wait for it to finish, or pass another --out")


def check_config(out_dir: Path, config: Mapping) -> dict:
    """Create out_dir with config.json, or check that the run already there had the same config."""
    make_folder(out_dir)
    config = json.loads(json.dumps(dict(config)))  # normalized as it will be read back
    config_file = out_dir / "config.json"
    if config_file.exists():
        try:
            previous = json.loads(config_file.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            raise InputError(f"{config_file} is not readable: delete {out_dir} to start over, or pass another "
                             f"--out") from None
        if isinstance(previous, dict) and previous.get("schema") != config.get("schema"):
            raise InputError(f"{out_dir} holds a run of an earlier release of this code, which named rows otherwise: "
                             f"summarize.py reads it as it is; to run again, pass another --out (or finish an "
                             f"unfinished run with that release)")
        if previous != config:
            raise InputError(f"{out_dir} holds a run of other inputs ({_changes(previous, config)}): pass another "
                             f"--out, or delete that folder to start over")
    else:
        write_json(config_file, config)
    return config


def _changes(previous: Mapping, config: Mapping) -> str:
    """What differs between two configs, in the user's words: flags, or the content behind a path."""
    changed = sorted(k for k in set(previous) | set(config) if previous.get(k) != config.get(k))
    words = [f"{k} differ" for k in changed if k != "fingerprints"]
    if "fingerprints" in changed:
        old, new = previous.get("fingerprints") or {}, config.get("fingerprints") or {}
        for k in sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k)):
            flag = "--" + k.replace("_", "-")
            words.append(f"the content of {flag} changed since that run")
    return "; ".join(words)


class RunLog:
    def __init__(self, out_dir: str | Path, config: Mapping, ranks: Ranks = Ranks(),
                 inputs: Mapping[int, str] | None = None):
        """`inputs[id]`: the fingerprint of each example's inputs now; a saved record counts as done only while
        its own "inputs" equal it (None: every saved record counts)."""
        self.out_dir, self.ranks, self.inputs = Path(out_dir), ranks, inputs
        self.config = check_config(self.out_dir, config)
        self.examples_file = self.out_dir / "examples.jsonl"
        # Where this process appends: examples.jsonl, or under torchrun a file of this rank's own.
        self.append_file = (self.out_dir / f"examples.part-{ranks.rank}-of-{ranks.world}.jsonl" if ranks.parallel
                            else self.examples_file)
        self.records: dict[int, dict] = {}
        for file in self._files():
            self._read_existing(file)

    def _files(self) -> list[Path]:
        """examples.jsonl and the files of the ranks of every torchrun launch that wrote this folder."""
        return [f for f in [self.examples_file, *sorted(self.out_dir.glob("examples.part-*.jsonl"))] if f.exists()]

    def _read_existing(self, file: Path) -> None:
        raw = file.read_bytes()
        whole, lines = _whole_lines(raw)
        for lineno, line in enumerate(lines, 1):
            if line.strip():
                try:
                    record = json.loads(line)
                    self.records[record["id"]] = record
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise InputError(f"{file} line {lineno} is corrupt: delete that line and run the same command "
                                     f"again; that example is scored again, the others are kept") from None
        if whole != len(raw) and self.ranks.main:  # rank 0 mends the files before the others read them
            try:
                with open(file, "r+b") as f:
                    f.truncate(whole)
            except OSError as e:
                raise write_error(file, e) from None

    def is_done(self, ids: Sequence[int]) -> bool:
        return all(self._kept(i) for i in ids)

    def _kept(self, i: int) -> bool:
        return i in self.records and (self.inputs is None or self.records[i].get("inputs") == self.inputs[i])

    def resume_counts(self) -> dict[str, int]:
        """Of the examples now: how many saved records are kept, how many are stale (their inputs changed since
        they were scored) and how many were never scored."""
        ids = list(self.inputs or self.records)
        kept = sum(self._kept(i) for i in ids)
        stale = sum(i in self.records and not self._kept(i) for i in ids)
        return {"kept": kept, "stale": stale, "new": len(ids) - kept - stale}

    def pending_batches(self, data, batch_size: int, image_keys: Sequence | None = None) -> list[list[int]]:
        """Row indexes of the batches of `data` that hold unfinished examples (`plan_batches`)."""
        ids = list(data["id"])
        return [rows for rows in plan_batches(len(ids), batch_size, image_keys)
                if not self.is_done([ids[r] for r in rows])]

    def append(self, records: Sequence[dict]) -> None:
        """Append finished examples in one write and flush it to disk before returning."""
        append_durably(self.append_file, "".join(json.dumps(r) + "\n" for r in records))
        for r in records:
            self.records[r["id"]] = r

    def saved(self) -> int:
        """How many examples the files hold whole, of the inputs now: the files, not memory, after an interrupt."""
        inputs = {}
        for file in self._files():
            try:
                raw = file.read_bytes()
            except OSError:
                continue
            for line in _whole_lines(raw)[1]:
                if line.strip():
                    record = json.loads(line)
                    inputs[record["id"]] = record.get("inputs")
        return sum(self.inputs is None or (i in self.inputs and inputs[i] == self.inputs[i]) for i in inputs)

    @property
    def finished(self) -> bool:
        """Whether the run wrote results.json, which it does only once every example is done, and every example's
        inputs are still those it scored."""
        counts = self.resume_counts()
        return (self.out_dir / "results.json").exists() and counts["stale"] == counts["new"] == 0

    def finish(self, ids: Sequence[int], complete: Callable[[list[dict]], list[dict]] | None = None) -> list[dict]:
        """The records of `ids` in that order; rewrites examples.jsonl in that order without duplicates, after
        `complete` adds what needs every record (e.g. cross-validated rows), and removes the ranks' files.
        Under torchrun, rank 0 calls it once every rank has finished."""
        ids = list(ids)
        for file in self._files():  # what the other ranks appended
            if file != self.examples_file:
                self._read_existing(file)
        missing = [i for i in ids if not self._kept(i)]
        if missing:
            raise RuntimeError(f"examples {missing[:5]} were never scored")
        ordered = [self.records[i] for i in ids]
        if complete:
            ordered = complete(ordered)
        write_jsonl(self.examples_file, ordered)
        for file in self._files():  # all merged into examples.jsonl, which is on disk whole
            if file != self.examples_file:
                file.unlink()
        return ordered


def _whole_lines(raw: bytes) -> tuple[int, list[str]]:
    """The length of a file's whole lines (a run killed mid-write leaves a partial last line) and those lines."""
    whole = raw.rfind(b"\n") + 1
    return whole, raw[:whole].decode("utf-8", errors="replace").splitlines()


def plan_batches(n_rows: int, batch_size: int, image_keys: Sequence | None = None) -> list[list[int]]:
    """The batches of a run's rows, the same on every run, so that a resumed run computes each example exactly
    as an uninterrupted one would.

    Rows in data order, `batch_size` at a time; where rows share an image (`image_keys[r]`, e.g. SugarCrepe's
    COCO images), the rows of one image are kept in one batch, in order of each image's first row, so that
    each image is decoded and encoded once per run (a batch may then hold more rows than batch_size when one
    image has more).
    """
    if batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {batch_size}")
    if image_keys is None or len(set(image_keys)) == n_rows:
        return [list(range(first, min(first + batch_size, n_rows))) for first in range(0, n_rows, batch_size)]
    groups: dict = {}
    for r, key in enumerate(image_keys):
        groups.setdefault(key, []).append(r)
    batches: list[list[int]] = [[]]
    for rows in groups.values():
        if batches[-1] and len(batches[-1]) + len(rows) > batch_size:
            batches.append([])
        batches[-1].extend(rows)
    return batches


def split_on_oom(fn: Callable[[Sequence[T]], list[R]], items: Sequence[T]) -> list[R]:
    """Run fn on items; on CUDA out-of-memory, free the cache, halve the batch and retry each half.

    fn must map a list of items to a list of per-item results, so halves can be concatenated.
    """
    try:
        return fn(items)
    except torch.OutOfMemoryError:
        if len(items) <= 1:
            raise
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    half = len(items) // 2
    return split_on_oom(fn, items[:half]) + split_on_oom(fn, items[half:])
