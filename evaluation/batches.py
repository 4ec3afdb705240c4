"""Batches of examples for a run: each distinct image decoded once, decoded and preprocessed in worker processes.

Model work waits on the CPU data path unless decoding (PNG/JPEG to pixels) and preprocessing (resize,
normalize) happen elsewhere while the model computes. `grid_batches` puts both in a torch
`DataLoader`'s worker processes, a batch of examples at a time and in order, so results are bitwise the
same for any number of workers (0 runs them in the calling process). Images are decoded here, once per
run: the loader only checked the files (benchmarks/). A file that passed that check but
still cannot be decoded ends the run with a one-line error naming it; batches scored before it are
already on disk, so nothing finished is lost.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping, Sequence

import datasets
import torch
from PIL import Image

from benchmarks.images import too_large
from common.errors import InputError
from common.images import open_image


def default_workers() -> int:
    """Worker processes for decoding: one core stays with the main process, at most 8 (more rarely help); under
    torchrun the ranks of a machine (LOCAL_WORLD_SIZE) share its cores."""
    ranks_here = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return max(1, min(8, (os.cpu_count() or 1) // ranks_here - 1))


def preprocess_key(scorer) -> str:
    """Scorers with the same key preprocess images identically, so they share pixel values."""
    return json.dumps(scorer.preprocess_config(), sort_keys=True, default=str)


@dataclass
class Batch:
    """Examples (every field but the images), their distinct images' pixel values, and which is which.

    pixels[key] has shape (distinct images, 3, H, W), one preprocessing per key; image_of[n, i] is the
    distinct image that example n's image_i is, so an image shared by several examples of the batch is
    decoded and encoded once. (For Winoground, whose images are all distinct: image_0 and image_1 of each
    example in turn.)
    """
    examples: list[dict]
    pixels: dict[str, torch.Tensor]
    image_of: torch.Tensor

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, part: slice) -> "Batch":
        rows = self.image_of[part]
        used, inverse = torch.unique(rows, return_inverse=True)
        return Batch(self.examples[part], {k: v[used] for k, v in self.pixels.items()}, inverse.view(rows.shape))

    @property
    def captions(self) -> list[str]:
        """The captions of each example in turn: caption_0, caption_1, ..."""
        n = sum(key.startswith("caption_") for key in self.examples[0]) if self.examples else 0
        return [ex[f"caption_{c}"] for ex in self.examples for c in range(n)]

    def pixels_for(self, scorer) -> torch.Tensor:
        return self.pixels[preprocess_key(scorer)]


class _ImageBatches(torch.utils.data.Dataset):
    def __init__(self, data: datasets.Dataset, batches: Sequence[Sequence[int]], preprocessors: Mapping[str, Callable],
                 image_columns: Sequence[str]):
        # Undecoded image bytes or paths: decoding happens once, below, in the worker.
        for column in image_columns:
            data = data.cast_column(column, datasets.Image(decode=False))
        self.data, self.image_columns = data, tuple(image_columns)
        self.batches, self.preprocessors = [list(b) for b in batches], dict(preprocessors)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, b: int) -> dict:
        rows = self.data.select(self.batches[b])
        examples, images, distinct, image_of = [], [], {}, []
        for row in rows:
            examples.append({k: v for k, v in row.items() if k not in self.image_columns})
            image_of.append([])
            for key in self.image_columns:
                stored = row[key]
                box = row.get(f"box_{key.removeprefix('image_')}") if key.startswith("image_") else None
                identity = (stored["path"] or hashlib.blake2b(stored["bytes"]).hexdigest(),
                            None if box is None else tuple(box))
                if identity not in distinct:
                    try:
                        images.append(open_image(stored, box))
                    except Image.DecompressionBombError as e:
                        return {"error": too_large(stored["path"] or f"{key} of row {row.get('id', '?')}", e)}
                    except Exception:  # noqa: BLE001 - PIL raises many types; the main process reports it
                        name = stored["path"] or f"{key} of row {row.get('id', '?')}"
                        return {"error": f"image {name} cannot be decoded: replace the file and run again; the "
                                         f"examples scored so far are kept"}
                    distinct[identity] = len(distinct)
                image_of[-1].append(distinct[identity])
        return {"examples": examples, "pixels": {k: fn(images) for k, fn in self.preprocessors.items()},
                "image_of": torch.tensor(image_of, dtype=torch.long)}


def grid_batches(data: datasets.Dataset, ranges: Sequence[Sequence[int]], preprocessors: Mapping[str, Callable],
                 workers: int, pin_memory: bool = False, n_images: int = 2) -> Iterator[Batch]:
    """Batches of a grid benchmark's rows `ranges[0]`, `ranges[1]`, ... in order (images image_0 ... of each row),
    preprocessed by each of `preprocessors`.

    With pin_memory (for CUDA), pixel values arrive in page-locked memory, so that copies to the GPU
    with `non_blocking=True` overlap with computation.
    """
    return image_batches(data, ranges, preprocessors, workers, pin_memory, [f"image_{i}" for i in range(n_images)])


def image_batches(data: datasets.Dataset, ranges: Sequence[Sequence[int]], preprocessors: Mapping[str, Callable],
                  workers: int, pin_memory: bool = False, image_columns: Sequence[str] = ("image",)
                  ) -> Iterator[Batch]:
    """Rows of `data` in batches (lists of row indexes), each distinct image of a batch decoded once (cropped to
    its box_<i> where the data has one) and preprocessed."""
    if workers < 0:
        raise InputError(f"--workers must be 0 (decode in the main process) or more, got {workers}")
    loader = torch.utils.data.DataLoader(_ImageBatches(data, ranges, preprocessors, image_columns), batch_size=None,
                                         num_workers=workers, pin_memory=pin_memory,
                                         prefetch_factor=2 if workers else None)
    for item in loader:
        if "error" in item:
            raise InputError(item["error"])
        yield Batch(item["examples"], item["pixels"], item["image_of"])
