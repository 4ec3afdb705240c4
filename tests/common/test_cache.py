"""JsonCache: concurrent writers merge instead of overwriting, and a damaged file is named in one line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from common.cache import JsonCache
from common.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


class Squares(JsonCache):
    ROOT, FLAG = "squares", "--squares"
    KEY = {"n": int}
    VALUES = {"square": int}


class Roots(Squares):
    VALUES = {"square": int, "root": float}


WRITER = """
import sys
sys.path.insert(0, {root!r})
from common.cache import JsonCache

class Squares(JsonCache):
    ROOT, FLAG = "squares", "--squares"
    KEY = {{"n": int}}
    VALUES = {{"square": int}}

cache = Squares({path!r})  # read before the other writer saves (the test waits for both): its entries are not here
print("read", flush=True)
sys.stdin.readline()
for n in range({first}, {first} + 20):
    cache.put((n,), {{"square": n * n}})
    cache.save()
"""


def test_concurrent_writers_lose_no_entries(tmp_path):
    path = tmp_path / "squares.json"
    writers = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(WRITER.format(root=str(ROOT), path=str(path),
                                                                                     first=first))],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for first in (0, 100)]
    assert [w.stdout.readline() for w in writers] == ["read\n", "read\n"]  # both read the empty cache
    for w in writers:
        w.stdin.write("go\n")
        w.stdin.flush()
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    entries = json.loads(path.read_text())["squares"]
    assert sorted(e["n"] for e in entries) == list(range(20)) + list(range(100, 120))
    assert all(e["square"] == e["n"] ** 2 for e in entries)


@pytest.mark.parametrize("content,message", [
    ('{"squares": [{"square": 4}]}', "entry 0 lacks the field 'n'"),
    ('{"squares": [{"n": 2, "square": "4"}]}', "entry 0 has 'square' = '4' of the wrong type"),
    ('{"squares": [{"n": true, "square": 4}]}', "entry 0 has 'n' = True of the wrong type"),
    ('{"squares": {"n": 2}}', "not a cache this code wrote"),
    ("[1, 2", "not a cache this code wrote"),
    ('{"squares": [{"n": 2, "square": 4, "root": NaN}]}', "entry 0 has 'root' = nan, not a finite number"),
    ('{"squares": [{"n": 2, "square": 4, "root": -Infinity}]}', "entry 0 has 'root' = -inf, not a finite number"),
])
def test_damaged_entries_are_named(tmp_path, content, message):
    (tmp_path / "squares.json").write_text(content)
    with pytest.raises(InputError, match=message) as e:
        Roots(tmp_path / "squares.json") if "root" in content else Squares(tmp_path / "squares.json")
    assert "--squares" in str(e.value) and "\n" not in str(e.value)


def test_a_folder_in_place_of_the_file(tmp_path):
    (tmp_path / "squares.json").mkdir()
    with pytest.raises(InputError, match="is not a file: pass a JSON file path as --squares"):
        Squares(tmp_path / "squares.json")


def test_hand_edits_are_kept(tmp_path):
    cache = Squares(tmp_path / "squares.json")
    cache.put((3,), {"square": 9})
    cache.save()
    data = json.loads((tmp_path / "squares.json").read_text())
    data["squares"][0]["square"] = 10  # a person's correction
    (tmp_path / "squares.json").write_text(json.dumps(data))
    assert Squares(tmp_path / "squares.json").get((3,))["square"] == 10


def test_a_save_that_adds_nothing_writes_nothing(tmp_path):
    cache = Squares(tmp_path / "squares.json")
    cache.put((3,), {"square": 9})
    cache.save()
    data = json.loads((tmp_path / "squares.json").read_text())
    data["squares"][0]["square"] = 10  # edited by hand while the run still holds its copy
    (tmp_path / "squares.json").write_text(json.dumps(data))
    cache.save()  # nothing new since the last save: the file and the edit stay
    assert Squares(tmp_path / "squares.json").get((3,))["square"] == 10
    cache.put((4,), {"square": 16})
    cache.save()
    assert Squares(tmp_path / "squares.json").get((4,))["square"] == 16
