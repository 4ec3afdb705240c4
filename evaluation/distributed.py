"""Data-parallel runs under torchrun: which rank this process is, its device, and how the ranks wait for each other.

    torchrun --nproc_per_node 8 experiment3.py ...      # one process per GPU; without torchrun nothing changes

Every rank reads the same data and plans the same batches (evaluation/runs.py); rank r scores the
unfinished batches r, r + W, r + 2W, ... and appends their records to its own file in --out
(`examples.part-<r>-of-<W>.jsonl`), so no two ranks write one file. Work cached across runs (T', the
captions' priors, experiment 4's first-stage embeddings) is split the same way in fixed chunks, so each
chunk is computed exactly as one process computes it. Rank 0 checks and writes config.json first, and
merges and reports once every rank has finished; the scores do not depend on the number of ranks. The
process group uses NCCL on GPUs and gloo on CPUs, each rank on cuda:LOCAL_RANK.
"""

from __future__ import annotations

import atexit
import datetime
import os
from dataclasses import dataclass
from typing import Callable, TypeVar

import torch

from common.cache import JsonCache
from common.errors import InputError

R = TypeVar("R")
C = TypeVar("C", bound=JsonCache)


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    launched: bool = False  # started by torchrun, even as its only rank: the ranks' files, merge and collectives

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.world > 1 or self.launched

    def device(self, device: torch.device) -> torch.device:
        """This rank's device: cuda:LOCAL_RANK for a CUDA run under torchrun, else the one asked for."""
        if self.parallel and device.type == "cuda":
            if self.local_rank >= torch.cuda.device_count():
                raise InputError(f"rank {self.rank} has LOCAL_RANK {self.local_rank} but this machine has "
                                 f"{torch.cuda.device_count()} CUDA GPU(s): pass --nproc_per_node at most that")
            return torch.device("cuda", self.local_rank)
        return device

    def share(self, items: list) -> list:
        """This rank's share of a list of work: items rank, rank + world, ..."""
        return items[self.rank::self.world]

    def barrier(self) -> None:
        if self.parallel:
            import torch.distributed as dist

            dist.barrier()

    def first(self, fn: Callable[[], R]) -> R | None:
        """fn() on rank 0 before the others go on; an InputError there is raised on every rank, with its line.

        Rank 0 checks and writes what the ranks share (config.json, the folder's lock), so a bad input ends
        every rank with the same message instead of leaving them waiting.
        """
        if not self.parallel:
            return fn()
        import torch.distributed as dist

        result, error = None, None
        if self.main:
            try:
                result = fn()
            except InputError as e:
                error = str(e)
        message = [error]
        dist.broadcast_object_list(message, src=0)
        if message[0] is not None:
            raise InputError(message[0])
        return result

    def fill_together(self, cache: C, fill: Callable[[C, Callable[[list], list]], None]) -> C:
        """The cache, with what every rank added: under torchrun each rank adds its share of the missing entries
        (`fill(cache, self.share)`) and saves them to the cache file, and every rank then reads the whole file.
        One process has nothing to share: its cache is returned as it is, to be filled as it is used."""
        if not self.parallel:
            return cache
        if cache.path is None:
            raise InputError(f"under torchrun the ranks share their {cache.ROOT} through {cache.FLAG}: pass a file "
                             f"path")
        self.barrier()  # every rank has read the cache before any rank adds to it
        fill(cache, self.share)
        cache.save()
        self.barrier()
        return type(cache)(cache.path)

    def close(self) -> None:
        if self.parallel:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def init_ranks(device: torch.device) -> Ranks:
    """The ranks of this launch: from torchrun's environment (joining the process group, also as a launch's only
    rank, so that one GPU runs the path of many), else one process."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return Ranks()
    import torch.distributed as dist

    ranks = Ranks(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", "0")),
                  launched=True)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(ranks.device(device))
        # Ranks wait for each other at the end of each phase; a slow rank must not time the others out (a rank
        # that dies ends the launch: torchrun stops the others).
        dist.init_process_group(backend, timeout=datetime.timedelta(hours=12))
        atexit.register(ranks.close)
    return ranks
