"""Every official format against mutations drawn from its own description (benchmarks/formats.py): each field set
to a wrong type, null, NaN, infinity, empty, repeated or missing, the file itself empty or cut short, and the
image an entry names missing, empty or cut short. Each must end, before any model loads (the loader and the
image check), in one line that names the file, the entry and the field, or the image file; a value the field's
kind accepts is not a fault and is not drawn."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import datasets
import pytest
from fixtures import GRID_FIXTURES, grid_source

from benchmarks import GRIDS
from benchmarks.formats import CAPTION, FILE, INTEGER, NUMBER, POSITIVE, TEXT, Format, Kind, list_of, matching
from common.errors import InputError

JSON_VALUES = [None, float("nan"), float("inf"), "", " \u200b", [], {"x": 1}, True, 0, -1, 1.5, "abc", ["a"]]
CSV_VALUES = ["", " ", "abc", "1.5", "-1"]


def read_entries(path: Path, layout: str):
    if layout == "lines":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if layout == "rows":
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    return json.loads(path.read_text())


def write_entries(path: Path, layout: str, entries) -> None:
    if layout == "lines":
        path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    elif layout == "rows":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(entries[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(entries)
        path.write_text(out.getvalue())
    else:
        path.write_text(json.dumps(entries))


def labels(entries, layout: str) -> list[tuple[object, str]]:
    """(the key of an entry in `entries`, its label in messages), in file order."""
    if layout == "object":
        return [(k, f"entry {k}") for k in entries]
    if layout == "lines":
        return [(n, f"line {n + 1}") for n in range(len(entries))]
    if layout == "rows":
        return [(n, f"row {n + 2}") for n in range(len(entries))]
    return [(n, f"entry {n}") for n in range(len(entries))]


def field_mutations(entry_format: Format, entries):
    """(description, mutated entries, label, field) for every fault the description allows."""
    (first, label), (second, second_label) = labels(entries, entry_format.layout)[:2]
    values = CSV_VALUES if entry_format.layout == "rows" else JSON_VALUES
    for field in entry_format.fields:
        for value in values:
            if field.kind.problem(value) is None:  # a value of its kind: not a fault
                continue
            mutated = json.loads(json.dumps(entries))
            mutated[first][field.name] = value
            yield f"{field.name}={value!r}", mutated, label, field.name
        if not field.optional and entry_format.layout != "rows":  # a CSV row has every column or none
            mutated = json.loads(json.dumps(entries))
            del mutated[first][field.name]
            yield f"{field.name} missing", mutated, label, field.name
        if field.id:
            mutated = json.loads(json.dumps(entries))
            mutated[second][field.name] = mutated[first][field.name]
            yield f"{field.name} repeated", mutated, second_label, field.name


def _load(name: str, paths: dict):
    grid = GRIDS[name]
    source, root = grid_source(paths, name)
    data = grid.load(source, root, None)
    grid.check(data)  # the image check, before any model loads
    return data


def _one_line(error: pytest.ExceptionInfo, *names: str) -> None:
    message = str(error.value)
    assert "\n" not in message, message
    for name in names:
        assert name in message, (name, message)


@pytest.fixture()
def copied(compositional, tmp_path):
    """A copy of every drawn benchmark, to mutate: {name: path} as `write_compositional_data` returns it."""
    root = Path(compositional["winoground"]).parent
    shutil.copytree(root, tmp_path / "c")
    return {k: tmp_path / "c" / Path(v).relative_to(root) for k, v in compositional.items()}


def test_every_grid_benchmark_describes_its_format():
    assert set(GRID_FIXTURES) == set(GRIDS)
    for name, grid in GRIDS.items():
        assert grid.annotations and isinstance(grid.annotations[1], Format), name


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_every_mutation_of_a_format_is_one_line_naming_the_file_entry_and_field(name, copied):
    file, entry_format = GRIDS[name].annotations
    source, _ = grid_source(copied, name)
    path = Path(source) / file if Path(source).is_dir() else Path(source)
    clean = path.read_bytes()
    entries = read_entries(path, entry_format.layout)
    drawn = 0
    for what, mutated, label, field in field_mutations(entry_format, entries):
        write_entries(path, entry_format.layout, mutated)
        with pytest.raises(InputError) as error:
            _load(name, copied)
        _one_line(error, str(path), f"{label}, field '{field}'" if "missing" not in what else
                  f"{label} lacks the field '{field}'")
        drawn += 1
    assert drawn >= 3 * len(entry_format.fields), drawn
    for what, content in (("empty", b""), ("cut short", clean[: len(clean) // 2])):
        path.write_bytes(content)
        with pytest.raises(InputError) as error:
            _load(name, copied)
        _one_line(error, str(path))
    path.write_bytes(clean)
    data = _load(name, copied)
    image = Path(data.cast_column("image_0", datasets.Image(decode=False))[0]["image_0"]["path"])
    original = image.read_bytes()
    for what, content in (("missing", None), ("empty", b""), ("cut short", original[: len(original) // 2])):
        image.unlink()
        if content is not None:
            image.write_bytes(content)
        with pytest.raises(InputError) as error:
            _load(name, copied)
        _one_line(error, image.name)
        image.write_bytes(original)


def test_the_kinds_refuse_what_the_loaders_used_to_coerce():
    # A tag that is a list, a count of 1.9, a box of true, a caption of zero-width spaces, an id "x100".
    assert TEXT.problem(["Object"]) and INTEGER.problem(1.9) and NUMBER.problem(True) and POSITIVE.problem(0)
    assert CAPTION.problem("\u200b\u200b") and INTEGER.problem("x100") and NUMBER.problem(float("nan"))
    assert FILE.problem(None) and list_of(CAPTION, 2).problem(["a"]) and list_of(TEXT, 2).problem(["a", 1])
    assert matching(FILE, r"_", "a name with _").problem("ab.jpeg") and not matching(FILE, r"_", "x").problem("a_b")
    for kind in (TEXT, INTEGER, NUMBER, POSITIVE, CAPTION, FILE):
        assert isinstance(kind, Kind) and kind.problem(kind.example) is None
