"""Winoground batches for a run: each image decoded once, decoded and preprocessed in worker processes.

Model work waits on the CPU data path unless decoding (PNG/JPEG to pixels) and preprocessing (resize,
normalize) happen elsewhere while the model computes. `winoground_batches` puts both in a torch
`DataLoader`'s worker processes, a batch of examples at a time and in order, so results are bitwise the
same for any number of workers (0 runs them in the calling process). Images are decoded here, once per
run: the loader only checked the files (evaluation/winoground.py). A file that passed that check but
still cannot be decoded ends the run with a one-line error naming it; batches scored before it are
already on disk, so nothing finished is lost.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Sequence

import datasets
import torch
from PIL import Image

from benchmarks.images import too_large
from common.errors import InputError
from common.images import to_rgb


def default_workers() -> int:
    """Worker processes for decoding: one core stays with the main process, at most 8 (more rarely help)."""
    return max(1, min(8, (os.cpu_count() or 1) - 1))


def preprocess_key(scorer) -> str:
    """Scorers with the same key preprocess images identically, so they share pixel values."""
    return json.dumps(scorer.preprocess_config(), sort_keys=True, default=str)


@dataclass
class Batch:
    """Examples (every field but the images) and, per preprocessing, their images' pixel values.

    pixels[key] has shape (images per example * len(examples), 3, H, W): for Winoground, image_0 and
    image_1 of each example in turn.
    """
    examples: list[dict]
    pixels: dict[str, torch.Tensor]

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, part: slice) -> "Batch":
        start, stop, _ = part.indices(len(self))
        per = next(iter(self.pixels.values())).shape[0] // max(len(self), 1) if self.pixels else 0
        return Batch(self.examples[start:stop], {k: v[per * start:per * stop] for k, v in self.pixels.items()})

    @property
    def captions(self) -> list[str]:
        """caption_0 and caption_1 of each example in turn."""
        return [ex[f"caption_{c}"] for ex in self.examples for c in (0, 1)]

    def pixels_for(self, scorer) -> torch.Tensor:
        return self.pixels[preprocess_key(scorer)]


class _ImageBatches(torch.utils.data.Dataset):
    def __init__(self, data: datasets.Dataset, ranges: Sequence[range], preprocessors: Mapping[str, Callable],
                 image_columns: Sequence[str]):
        # Undecoded image bytes or paths: decoding happens once, below, in the worker.
        for column in image_columns:
            data = data.cast_column(column, datasets.Image(decode=False))
        self.data, self.image_columns = data, tuple(image_columns)
        self.ranges, self.preprocessors = list(ranges), dict(preprocessors)

    def __len__(self) -> int:
        return len(self.ranges)

    def __getitem__(self, b: int) -> dict:
        rows = self.data.select(self.ranges[b])
        examples, images = [], []
        for row in rows:
            examples.append({k: v for k, v in row.items() if k not in self.image_columns})
            for key in self.image_columns:
                stored = row[key]
                try:
                    with Image.open(io.BytesIO(stored["bytes"]) if stored["bytes"] else stored["path"]) as image:
                        images.append(to_rgb(image))
                except Image.DecompressionBombError as e:
                    return {"error": too_large(stored["path"] or f"{key} of row {row.get('id', '?')}", e)}
                except Exception:  # noqa: BLE001 - PIL raises many types; the main process reports it
                    name = stored["path"] or f"{key} of row {row.get('id', '?')}"
                    return {"error": f"image {name} cannot be decoded: replace the file and run again; the "
                                     f"examples scored so far are kept"}
        return {"examples": examples, "pixels": {k: fn(images) for k, fn in self.preprocessors.items()}}


def winoground_batches(data: datasets.Dataset, ranges: Sequence[range], preprocessors: Mapping[str, Callable],
                       workers: int, pin_memory: bool = False) -> Iterator[Batch]:
    """Batches of Winoground's rows `ranges[0]`, `ranges[1]`, ... in order, preprocessed by each of `preprocessors`.

    With pin_memory (for CUDA), pixel values arrive in page-locked memory, so that copies to the GPU
    with `non_blocking=True` overlap with computation.
    """
    return image_batches(data, ranges, preprocessors, workers, pin_memory, ("image_0", "image_1"))


def image_batches(data: datasets.Dataset, ranges: Sequence[range], preprocessors: Mapping[str, Callable],
                  workers: int, pin_memory: bool = False, image_columns: Sequence[str] = ("image",)
                  ) -> Iterator[Batch]:
    """Rows of `data` in batches, each row's `image_columns` decoded once and preprocessed in order."""
    if workers < 0:
        raise InputError(f"--workers must be 0 (decode in the main process) or more, got {workers}")
    loader = torch.utils.data.DataLoader(_ImageBatches(data, ranges, preprocessors, image_columns), batch_size=None,
                                         num_workers=workers, pin_memory=pin_memory,
                                         prefetch_factor=2 if workers else None)
    for item in loader:
        if "error" in item:
            raise InputError(item["error"])
        yield Batch(item["examples"], item["pixels"])
