"""NaturalBench-Retrieval (Li et al., NeurIPS 2024; Baiqi-Li/NaturalBench `naturalbench_retrieval.py`): 2 x 2
grids of natural image pairs and caption pairs, scored with Winoground's Text / Image / Group.

`metadata.json` is a list of {"index", "image_0", "image_1", "caption_0", "caption_1"}, caption k
belonging to image k, with the images in `images/` beside it (or --image-root).
"""

from __future__ import annotations

import datasets

from benchmarks.grids import read_list, two_by_two, two_by_two_format
from benchmarks.winoground import metrics as metrics  # Winoground's Text / Image / Group

SHAPE = (2, 2)
PRIMARY = "group"
FILE = "metadata.json"
DOWNLOAD = ("metadata.json and images/ of NaturalBench-Retrieval as linked from "
            "https://github.com/Baiqi-Li/NaturalBench (naturalbench_retrieval.py); pass their folder as --data")
ENTRY = two_by_two_format("NaturalBench-Retrieval's metadata.json", ("caption_0", "caption_1", "image_0", "image_1"),
                          id_key="index")
FORMAT = ENTRY.describe()


def load(source: str | None, image_root: str | None = None, limit: int | None = None) -> datasets.Dataset:
    path, entries = read_list(source, FILE, "NaturalBench-Retrieval", FORMAT, DOWNLOAD)
    return two_by_two(path, entries, ENTRY, image_root, limit)


REFERENCES: dict = {}
