"""SugarCrepe (Hsieh et al., NeurIPS 2023 D&B; RAIVNLab/sugar-crepe): 1 x 2 grids, a COCO image with its
caption and a hard negative, read from the official `data/<category>.json` files.

Each file is {"<id>": {"filename": "000000085329.jpg", "caption": ..., "negative_caption": ...}}; the
images are COCO val2017 file names, a separate download (--image-root). Examples are numbered in the
order of CATEGORIES below, then of each file. The official metric (`main_eval.py`) is, per category, the
percentage of examples whose caption scores above its negative; the group means that later work reports
are unweighted means of category accuracies: Replace (obj, att, rel), Swap (obj, att), Add (obj, att).
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np

from benchmarks.formats import CAPTION, FILE, Field, Format
from benchmarks.grids import grid_dataset, local_image, option_correct, percent, read_json
from benchmarks.visualgptscore import quoted
from common.errors import InputError

NAME = "sugarcrepe"
SHAPE = (1, 2)  # images, captions
CATEGORIES = ("add_att", "add_obj", "replace_att", "replace_obj", "replace_rel", "swap_att", "swap_obj")
GROUPS = {"replace": ("replace_obj", "replace_att", "replace_rel"), "swap": ("swap_obj", "swap_att"),
          "add": ("add_obj", "add_att")}
FIELDS = ("category",)
PRIMARY = "accuracy"
DOWNLOAD = ("the official data/<category>.json files of https://github.com/RAIVNLab/sugar-crepe (pass that data/ "
            "folder as --data) and COCO val2017 images from https://cocodataset.org (pass their folder as "
            "--image-root)")
ENTRY = Format("SugarCrepe's <category>.json", (Field("filename", FILE, image=True), Field("caption", CAPTION),
                                                 Field("negative_caption", CAPTION)), layout="object")
FORMAT = ENTRY.describe()


def load(source: str | None, image_root: str | None = None, limit: int | None = None) -> datasets.Dataset:
    """Every category's examples, in CATEGORIES order; `limit` keeps the first examples of that order."""
    if not source:
        raise InputError(f"SugarCrepe has no hub copy this loader reads: download {DOWNLOAD}")
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise InputError(f"{source} is not a folder: pass the folder holding SugarCrepe's {CATEGORIES[0]}.json ... "
                         f"{CATEGORIES[-1]}.json")
    root = Path(image_root).expanduser() if image_root else folder
    rows = []
    for category in CATEGORIES:
        path = folder / f"{category}.json"
        if limit is not None and len(rows) >= limit:
            break
        data = read_json(path, f"SugarCrepe's data folder holds one file per category, each {FORMAT}")
        for label, entry in ENTRY.entries(path, data, None if limit is None else limit - len(rows)):
            image = local_image(root, entry["filename"], f"{path} {label}, field 'filename'")
            rows.append({"id": len(rows), "captions": [entry["caption"], entry["negative_caption"]],
                         "images": [image], "category": category})
    if not rows:
        raise InputError(f"{folder} holds no SugarCrepe examples: {DOWNLOAD}")
    return grid_dataset(rows, *SHAPE, fields=FIELDS)


def metrics(scores: np.ndarray, higher_is_better: bool, fields: dict[str, np.ndarray]) -> dict[str, float]:
    """Accuracy over all examples, per category, and the Replace / Swap / Add means of category accuracies."""
    correct = option_correct(scores, higher_is_better)
    category = np.asarray(fields["category"])
    per_category = {c: percent(correct[category == c]) for c in CATEGORIES if (category == c).any()}
    out = {"accuracy": percent(correct), **{f"accuracy_{c}": v for c, v in per_category.items()}}
    for group, members in GROUPS.items():
        if all(m in per_category for m in members):
            out[f"mean_{group}"] = round(float(np.mean([per_category[m] for m in members])), 2)
    if all(f"mean_{group}" in out for group in GROUPS):  # the SugarCrepe mean: of Replace, Swap and Add
        out["mean"] = round(float(np.mean([out[f"mean_{group}"] for group in GROUPS])), 2)
    return out


# CLIP ViT-B/32 and ViT-L/14 (openai) per category, SugarCrepe README (assets/sugarcrepe_eval.png).
REFERENCES = {
    "CLIP ViT-B/32 (SugarCrepe README)": {"accuracy_replace_obj": 90.92, "accuracy_replace_att": 80.08,
                                          "accuracy_replace_rel": 69.20, "accuracy_swap_obj": 61.38,
                                          "accuracy_swap_att": 63.96, "accuracy_add_obj": 77.21,
                                          "accuracy_add_att": 68.79},
    "CLIP ViT-L/14 (SugarCrepe README)": {"accuracy_replace_obj": 94.07, "accuracy_replace_att": 79.19,
                                          "accuracy_replace_rel": 65.15, "accuracy_swap_obj": 60.16,
                                          "accuracy_swap_att": 62.31, "accuracy_add_obj": 78.32,
                                          "accuracy_add_att": 71.53},
    "BLIP P(T given I), alpha = 0 (VisualGPTScore)": {"mean_replace": 93.3, "mean_swap": 91.0, "mean_add": 91.0},
}
# VisualGPTScore's BLIP rows (benchmarks/visualgptscore.py), beside experiment 5.
VISUALGPTSCORE = dict([quoted("alpha = 0", {"mean_replace": 93.3, "mean_swap": 91.0, "mean_add": 91.0}),
                       quoted("tuned alpha", {"mean_replace": 95.1, "mean_swap": 92.4, "mean_add": 97.4})])
