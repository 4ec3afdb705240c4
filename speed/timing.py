"""Wall-clock timing shared by the speed scripts: one call, and the fastest of alternating rounds."""

from __future__ import annotations

import time
from typing import Callable, Mapping

import torch


def timed(fn: Callable[[], object], device: torch.device) -> tuple[float, object]:
    """Wall seconds of fn() (waiting for the GPU on CUDA) and what it returned."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def fastest_rounds(paths: Mapping[str, Callable[[], object]], device: torch.device,
                   repeats: int) -> dict[str, tuple[float, object]]:
    """Each path's fastest wall seconds over `repeats` rounds, and what its last call returned.

    The rounds alternate the paths, so that each sees the same machine state: timed one after the other, a
    path would inherit the previous path's allocator state, and the first alone would pay for first uses.
    """
    best: dict[str, tuple[float, object]] = {}
    for _ in range(repeats):
        for name, path in paths.items():
            seconds, out = timed(path, device)
            best[name] = (min(seconds, best[name][0]) if name in best else seconds, out)
    return best
