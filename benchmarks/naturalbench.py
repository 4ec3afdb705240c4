"""NaturalBench-Retrieval (Li et al., NeurIPS 2024; Baiqi-Li/NaturalBench `naturalbench_retrieval.py`): 2 x 2
grids of natural image pairs and caption pairs, scored with Winoground's Text / Image / Group.

`metadata.json` is a list of {"index", "image_0", "image_1", "caption_0", "caption_1"}, caption k
belonging to image k, with the images in `images/` beside it (or --image-root).
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
FILE = "metadata.json"
DOWNLOAD = ("metadata.json and images/ of NaturalBench-Retrieval as linked from "
            "https://github.com/Baiqi-Li/NaturalBench (naturalbench_retrieval.py); pass their folder as --data")
FORMAT = '[{"index", "image_0", "image_1", "caption_0", "caption_1"}]'


def load(source: str | None, image_root: str | None = None, limit: int | None = None) -> datasets.Dataset:
    if not source:
        raise InputError(f"NaturalBench-Retrieval's files are needed: download {DOWNLOAD}")
    path = Path(source).expanduser()
    path = path / FILE if path.is_dir() else path
    entries = read_json(path, f"NaturalBench-Retrieval's {FILE} is {FORMAT}; download {DOWNLOAD}")
    return two_by_two(path, entries, ("caption_0", "caption_1", "image_0", "image_1"), image_root, limit, FORMAT,
                      id_key="index")


def metrics(scores: np.ndarray, higher_is_better: bool, fields=None) -> dict[str, float]:
    return percentages(correct(scores, higher_is_better))


REFERENCES: dict = {}
