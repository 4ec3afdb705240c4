"""Runs an experiment script that stops at a point a test chooses, so that a signal lands there and nowhere else.

    python tests/paused.py READY AFTER RANK script.py args...

The script runs as `python script.py args...` would, except that once this process has saved its AFTER-th
batch (a line of examples.jsonl, or experiment 4's pairs/batch_*.npz), it writes its pid to the file READY
and sleeps until a signal ends it. Under torchrun, RANK picks the one rank that pauses ("any": every
process pauses). A test
waits for READY, then sends SIGINT or SIGKILL: the signal meets a run with exactly AFTER batches on disk,
however fast or loaded the machine is.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluation.pair_scores import PairStore  # noqa: E402
from evaluation.runs import RunLog  # noqa: E402


def pause_after(cls, method: str, after: int, ready: Path) -> None:
    """Wrap cls.method so that its `after`-th call in this process returns only when a signal ends the sleep."""
    original, calls = getattr(cls, method), []

    def paused(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == after:
            partial = ready.with_suffix(".partial")
            partial.write_text(str(os.getpid()))
            partial.replace(ready)  # the test never reads a half-written pid
            while True:  # a SIGINT raises KeyboardInterrupt here, in the run's own loop
                time.sleep(3600)
        return result
    setattr(cls, method, paused)


def main() -> None:
    ready, after, rank, script, *argv = sys.argv[1:]
    # A process started in the background by a non-interactive shell (a CI runner, `cmd &`) inherits SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler: take the one a terminal's run has.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if rank in ("any", os.environ.get("RANK", "0")):
        for cls, method in ((RunLog, "append"), (PairStore, "save")):
            pause_after(cls, method, int(after), Path(ready))
    sys.argv = [script, *argv]
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
