"""EqBen_Mini (Wang et al., 2023), as packaged by linzhiqiu/t2v_metrics: 2 x 2 grids scored with
Winoground's Text / Image / Group.

`eqben_vllm.zip` holds `all_select.json`, a list of {"image0", "image1", "caption0", "caption1"} where
caption k belongs to image k, and the images, whose paths are relative to that file's folder or its
images/ (or --image-root).
"""

from __future__ import annotations

import datasets

from benchmarks import vqascore
from benchmarks.grids import read_list, two_by_two, two_by_two_format
from benchmarks.visualgptscore import quoted
from benchmarks.winoground import metrics as metrics  # Winoground's Text / Image / Group

SHAPE = (2, 2)
PRIMARY = "group"
FILE = "all_select.json"
DOWNLOAD = ("eqben_vllm.zip as linked from https://github.com/linzhiqiu/t2v_metrics (dataset.py, EqBen_Mini); "
            "unzip it and pass the folder holding all_select.json as --data")
ENTRY = two_by_two_format("EqBen_Mini's all_select.json", ("caption0", "caption1", "image0", "image1"))
FORMAT = ENTRY.describe()


def load(source: str | None, image_root: str | None = None, limit: int | None = None) -> datasets.Dataset:
    path, entries = read_list(source, FILE, "EqBen_Mini", FORMAT, DOWNLOAD)
    return two_by_two(path, entries, ENTRY, image_root, limit)


# BLIP ITM on the full EqBen (VisualGPTScore, Lin et al., ICML 2024): text 26.1, image 20.3.
REFERENCES = {"BLIP ITM, full EqBen (VisualGPTScore)": {"text": 26.1, "image": 20.3}}
# VisualGPTScore's BLIP rows (benchmarks/visualgptscore.py), beside experiment 5.
VISUALGPTSCORE = dict(quoted(alpha, {"text": text}, on="full EqBen")
                      for alpha, text in [("alpha = 0", 9.6), ("alpha = 1", 19.8), ("tuned alpha", 19.8)])
# VQAScore's rows on EqBen-Mini (benchmarks/vqascore.py), beside experiment 5's vqa rows.
VQASCORE = dict([vqascore.quoted("InstructBLIP", {"text": 49.3, "image": 58.6, "group": 38.6}),
                 vqascore.quoted("LLaVA-1.5", {"text": 42.9, "image": 60.0, "group": 35.0}),
                 vqascore.quoted("CLIP-FlanT5-XXL", {"text": 59.3, "image": 63.6, "group": 47.9})])
