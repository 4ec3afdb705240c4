"""Atomic writes with one-line errors, and locks that other processes respect."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from common.errors import InputError
from common.files import Lock, make_folder, write_json, write_text


def test_a_path_under_a_file_or_a_file_as_folder_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="part of that path is a file"):
        write_text(tmp_path / "file" / "results.json", "{}")
    with pytest.raises(InputError, match="is a file, not a folder"):
        make_folder(tmp_path / "file")


@pytest.mark.parametrize("code,message", [(errno.ENOSPC, "disk is full writing .*finished work is kept"),
                                          (errno.EROFS, "read-only"), (errno.EACCES, "read-only")])
def test_failed_writes_name_the_path_and_keep_the_old_file(tmp_path, monkeypatch, code, message):
    target = tmp_path / "results.json"
    write_json(target, {"old": 1})

    def fail(self, *args, **kwargs):
        raise OSError(code, "simulated")
    monkeypatch.setattr(Path, "write_text", fail)
    with pytest.raises(InputError, match=message) as e:
        write_json(target, {"new": 2})
    assert str(target) in str(e.value) and "\n" not in str(e.value)
    monkeypatch.undo()
    assert target.read_text() == '{\n  "old": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary file left behind


def test_a_lock_held_by_another_process_is_refused_then_free(tmp_path):
    path = tmp_path / ".lock"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        from common.files import Lock
        lock = Lock({str(path)!r})
        print("held", flush=True)
        sys.stdin.read()  # held until the test kills this process
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(InputError, match="busy here"):
            Lock(path, wait=False, busy="busy here")
    finally:
        holder.kill()
        holder.wait()
    Lock(path, wait=False).release()  # the OS dropped the lock when the killed holder's files closed
