"""ColorSwap (Burapacheep et al., 2024; Top34051/colorswap): 2 x 2 grids of two images and two captions
that swap a colour between objects, scored with Winoground's Text / Image / Group.

The official `test.json` is a list of {"id", "caption_1", "caption_2", "image_1", "image_2", ...}, and
caption_k belongs to image_k; the images come from `images.zip`, unzipped beside it (or --image-root).
The hub copy `stanfordnlp/colorswap` is gated; this loader reads the files.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np

from benchmarks.grids import read_json, two_by_two
from benchmarks.winoground import correct, percentages
from common.errors import InputError

SHAPE = (2, 2)
PRIMARY = "group"
FILE = "test.json"
DOWNLOAD = ("test.json and images.zip from https://github.com/Top34051/colorswap (or the gated hub dataset "
            "stanfordnlp/colorswap); unzip the images beside test.json and pass that folder as --data")
FORMAT = '[{"id", "caption_1", "caption_2", "image_1", "image_2", ...}]'


def load(source: str | None, image_root: str | None = None, limit: int | None = None) -> datasets.Dataset:
    if not source:
        raise InputError(f"ColorSwap's files are needed: download {DOWNLOAD}")
    path = Path(source).expanduser()
    path = path / FILE if path.is_dir() else path
    entries = read_json(path, f"ColorSwap's {FILE} is {FORMAT}; download {DOWNLOAD}")
    return two_by_two(path, entries, ("caption_1", "caption_2", "image_1", "image_2"), image_root, limit, FORMAT,
                      id_key="id")


def metrics(scores: np.ndarray, higher_is_better: bool, fields=None) -> dict[str, float]:
    return percentages(correct(scores, higher_is_better))


REFERENCES: dict = {}
