"""What every run does before its first example, grid or re-ranking alike: check the flags, fix the CPU threads,
find this process's rank and device, and bind the output folder to the run's inputs.

    setup = RunSetup.from_flags(args, "experiment1")       # flags, threads, ranks, device, dtype, timer
    lock, held = setup.bind(out, fingerprints, open_log)    # the folder held, its config.json checked or written

A folder is bound by its config.json: the flags that determine the results and the fingerprints of every
checkpoint (common/fingerprints.py), and of the data where a run does not bind each example to its own inputs. Rank 0 holds the folder's lock and checks or writes the
config before the other ranks read it, so a bad input ends every rank with the same line.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, TypeVar

import torch

from common.fingerprints import checkpoint_fingerprint
from evaluation.cli import fix_threads, run_config, validate
from evaluation.distributed import Ranks, init_ranks
from evaluation.runs import lock_folder
from scoring.batching import DTYPES

H = TypeVar("H")


def model_flags(args: argparse.Namespace) -> dict[str, str]:
    """The checkpoints a script's flags name: {"clm_model": path, ...}."""
    return {k: v for k, v in vars(args).items() if k.endswith("_model") and v}


@dataclass
class RunSetup:
    args: argparse.Namespace
    experiment: str
    ranks: Ranks
    device: torch.device
    dtype: torch.dtype
    start: float = field(default_factory=time.time)

    @classmethod
    def from_flags(cls, args: argparse.Namespace, experiment: str) -> RunSetup:
        validate(args)
        fix_threads()  # the same bits on a loaded machine (evaluation/cli.py)
        start = time.time()
        ranks = init_ranks(torch.device(args.device))  # one process, or this rank of a torchrun launch
        return cls(args, experiment, ranks, ranks.device(torch.device(args.device)), DTYPES[args.dtype], start)

    def config(self, fingerprints: Mapping[str, str]) -> dict:
        """config.json of this run: its flags and the fingerprints of its data and checkpoints."""
        return {**run_config(self.args, self.experiment), "fingerprints": dict(fingerprints)}

    def bind(self, out: Path, data_fingerprint: str | None, models: Mapping[str, str],
             open_folder: Callable[[dict], H]) -> tuple[object | None, H]:
        """Hold `out` and open it for this run's config (`open_folder(config)` checks or writes config.json).
        `models` maps each checkpoint's flag name ("clm_model") to its path; `data_fingerprint` binds the folder
        to the whole data (None: the run binds each example to its inputs instead, evaluation/runs.py). Returns
        the lock (rank 0's) and what `open_folder` returned."""
        data = {"data": data_fingerprint} if data_fingerprint else {}
        config = self.config({**data, **{name: checkpoint_fingerprint(path) for name, path in models.items()}})
        held = self.ranks.first(lambda: (lock_folder(out), open_folder(config)))
        return held or (None, open_folder(config))

    def seconds(self) -> float:
        """Wall time since the run started."""
        return time.time() - self.start
