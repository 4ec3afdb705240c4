"""Each official annotation format, described once as data, and checked as a whole before anything else runs.

A `Format` lists an entry's fields, each with its `Kind` (what a value must be), which field is an id (no two
entries share it), which fields name image files, and which may be absent. `Format.check` reads every entry of
a file, gathers every problem, and raises one `InputError` line that names the file, each bad entry and its
field, so that one run shows what to fix instead of one problem per run. The loaders read only entries
that passed, so no loader converts a value by hand (`int("x100")`, `float(None)`), and nothing is coerced
silently: a tag that is a list, a count of 1.9 or a box of `true` is an error, not a group named "['Object']",
a 1 or a 1.0. The descriptions also drive the tests' mutations of every format (tests/benchmarks/
test_formats.py).

Why not pydantic or jsonschema: both would need a layer that turns their reports into this one line per file,
pydantic coerces by default (the string "1" and the float 1.0 pass as an int unless every field is declared
strict), and neither knows a caption that only looks non-empty (zero-width spaces); the kinds below are a few
lines each, and the tests draw their mutations from them.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from common.errors import InputError

MAX_SHOWN = 3  # problems quoted in the one line; the rest are counted


class RepeatedKey(ValueError):
    """A JSON object that repeats a key: `json` would keep the last value silently (an entry lost)."""

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """json's object_pairs_hook that refuses a repeated key (RepeatedKey)."""
    out = dict(pairs)
    if len(out) < len(pairs):
        raise RepeatedKey(next(key for key, n in Counter(key for key, _ in pairs).items() if n > 1))
    return out


@dataclass(frozen=True)
class Kind:
    """What a field's value must be: `problem(value)` says what is wrong with a value, or None."""
    name: str  # in messages: "a caption", "a finite number"
    problem: Callable[[object], str | None]
    example: object  # a valid value, for the tests' mutations


def _shown(value) -> str:
    return "null" if value is None else f"{type(value).__name__} {str(value)[:40]!r}"


def visible(text: str) -> bool:
    """Whether a string has a character a reader sees: not only spaces, zero-width or control characters."""
    return any(unicodedata.category(ch)[0] not in "ZC" for ch in text)


def _caption(value):
    if not isinstance(value, str):
        return f"is {_shown(value)}, not a caption"
    return None if visible(value) else f"is {value[:20]!r}, which has no visible character: not a caption"


def _text(value):
    return None if isinstance(value, str) else f"is {_shown(value)}, not a string"


def _integer(value):
    return None if isinstance(value, int) and not isinstance(value, bool) else f"is {_shown(value)}, not an integer"


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"is {_shown(value)}, not a number"
    return None if math.isfinite(value) else f"is {value}, not a finite number"


def _positive(value):
    return _number(value) or (None if value > 0 else f"is {value}, not above 0")


def _file(value):
    if not isinstance(value, str) or not value.strip():
        return f"is {_shown(value)}, not a file name"
    return None


CAPTION = Kind("a caption", _caption, "a dog")
TEXT = Kind("a string", _text, "x")
INTEGER = Kind("an integer", _integer, 1)
NUMBER = Kind("a finite number", _number, 1.0)
POSITIVE = Kind("a number above 0", _positive, 1.0)
FILE = Kind("a file name", _file, "x.jpg")


def list_of(kind: Kind, length: int) -> Kind:
    """A list of exactly `length` values of `kind`."""
    def problem(value):
        if not isinstance(value, list) or len(value) != length:
            return f"is {_shown(value)}, not a list of {length}"
        found = [(n, p) for n, v in enumerate(value) if (p := kind.problem(v))]
        return f"item {found[0][0]} {found[0][1]}" if found else None
    return Kind(f"a list of {length}", problem, [kind.example] * length)


def matching(kind: Kind, pattern: str, what: str) -> Kind:
    """A value of `kind` whose text matches `pattern` (e.g. an official file naming that the metric reads)."""
    compiled = re.compile(pattern)

    def problem(value):
        return kind.problem(value) or (None if compiled.search(value) else f"is {value!r}, not {what}")
    return Kind(what, problem, kind.example)


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    id: bool = False  # no two entries of a file share its value
    image: bool = False  # names an image file, checked after the annotations
    optional: bool = False  # may be absent (never null unless its kind allows it)


@dataclass(frozen=True)
class Format:
    """One official annotation format: a JSON list of entries, a JSON object of entries keyed by id, the lines
    of a JSON-lines file or the rows of a CSV file (the last two given as a list of (label, entry))."""
    name: str  # for messages: "SugarCrepe's <category>.json"
    fields: tuple[Field, ...]
    layout: str = "list"  # "list" | "object" (keys are ids) | "lines" | "rows"

    def describe(self) -> str:
        names = ", ".join(f'"{f.name}"' + ("?" if f.optional else "") for f in self.fields)
        return {"list": f"[{{{names}}}]", "object": f'{{"<id>": {{{names}}}}}', "lines": f"lines of {{{names}}}",
                "rows": f"rows of ({names})"}[self.layout]

    @property
    def images(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.image)

    def entries(self, path, data, limit: int | None = None) -> list[tuple[str, dict]]:
        """The file's entries as (label, entry), e.g. ("entry 3", {...}), each checked: one line naming every
        problem, else the entries (the first `limit` of them: an entry past the limit is neither read nor
        checked)."""
        if self.layout == "object":
            if not isinstance(data, dict):
                raise InputError(f"{path} is not a JSON object of entries: {self.name} is {self.describe()}")
            labelled = [(f"entry {k}", v) for k, v in data.items()]
        elif self.layout == "list":
            if not isinstance(data, list):
                raise InputError(f"{path} is not a JSON list of entries: {self.name} is {self.describe()}")
            labelled = [(f"entry {n}", v) for n, v in enumerate(data)]
        else:
            labelled = list(data)
        labelled = labelled[:limit]
        problems = [p for label, entry in labelled for p in self.problems(label, entry)]
        for field in self.fields:
            if field.id:
                problems += _repeated(field.name, [(label, e.get(field.name)) for label, e in labelled
                                                   if isinstance(e, dict)])
        if problems:
            raise InputError(problem_line(path, problems, f"fix them: {self.name} is {self.describe()}"))
        return labelled

    def problems(self, label: str, entry) -> list[str]:
        if not isinstance(entry, dict):
            return [f"{label} is {_shown(entry)}, not an object"]
        out = []
        for field in self.fields:
            if field.name not in entry:
                if not field.optional:
                    out.append(f"{label} lacks the field '{field.name}'")
                continue
            problem = field.kind.problem(entry[field.name])
            if problem:
                out.append(f"{label}, field '{field.name}' {problem}")
        return out


def _repeated(name: str, values: Iterable[tuple[str, object]]) -> list[str]:
    first: dict = {}
    out = []
    for label, value in values:
        key = (type(value).__name__, repr(value))
        if key in first:
            out.append(f"{label}, field '{name}' repeats the value {value!r} of {first[key]}")
        else:
            first[key] = label
    return out


def check_whole_lines(path, text: str) -> None:
    """A file of lines (CSV, JSON lines) that ends mid-line was most likely cut short (a download that stopped),
    and its last line may still parse as a shorter value: refuse it, saying what to do if it is whole."""
    if text and not text.endswith("\n"):
        raise InputError(f"{path} ends without a newline, so it may have been cut short: download it again, or, if "
                         f"it is whole, end its last line with a newline")


def problem_line(path, problems: Sequence[str], fix: str) -> str:
    """One line: the file, up to MAX_SHOWN problems and the count of the rest, and what to do."""
    shown = "; ".join(problems[:MAX_SHOWN])
    more = f"; and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
    return f"{path}: {shown}{more} ({len(problems)} problem(s)): {fix}"
