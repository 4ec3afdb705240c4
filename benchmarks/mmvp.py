"""MMVP-VLM (Tong et al., CVPR 2024; tsb0601/MMVP `scripts/evaluate_vlm.py`): 2 x 2 grids of two images and two
statements, scored as MMVP scores them: a pair is right when each statement prefers its own image, which is
Winoground's Image score; Text and Group are reported beside it.

`Questions.csv` has a header, then rows (id, type, statement); consecutive rows form a pair, and both
images are `MLLM_VLM Images/<type of the pair's first row>/<id>.jpg`. The statement with the odd id belongs
to the image of the pair's first row, the even one to the second, as the script's ground truth has it
(the official file lists every pair odd id first, so the odd statement meets the image with its own id).
Each statement is scored as "a photo of " + statement. Pairs fall into the 9
categories of CATEGORIES by position, 15 pairs each, as the official script assigns them; the official
score is the pair accuracy per category, and their mean.
"""

from __future__ import annotations

import csv
from pathlib import Path

import datasets
import numpy as np

from benchmarks.data import check_caption
from benchmarks.grids import grid_dataset, local_image
from benchmarks.hub import Hub, HuggingFaceHub
from benchmarks.winoground import correct, percentages
from common.errors import InputError

SHAPE = (2, 2)
PRIMARY = "image"
DEFAULT_SOURCE = "MMVP/MMVP_VLM"
PREFIX = "a photo of "
PAIRS_PER_CATEGORY = 15
CATEGORIES = ("Orientation and Direction", "Presence of Specific Features", "State and Condition",
              "Quantity and Count", "Positional and Relational Context", "Color and Appearance",
              "Structural Characteristics", "Texts", "Viewpoint and Perspective")
FIELDS = ("category",)
DOWNLOAD = ("Questions.csv and 'MLLM_VLM Images/' of the hub dataset MMVP/MMVP_VLM "
            "(https://huggingface.co/datasets/MMVP/MMVP_VLM), or a folder holding both")


def load(source: str | None = DEFAULT_SOURCE, image_root: str | None = None, limit: int | None = None, *,
         hub: Hub | None = None) -> datasets.Dataset:
    """From a local folder holding Questions.csv and MLLM_VLM Images/, or from the hub copy (the same files)."""
    folder = Path(source or DEFAULT_SOURCE).expanduser()
    if folder.exists() or str(source).startswith((".", "/", "~")):
        csv_file = folder / "Questions.csv" if folder.is_dir() else folder
        root = Path(image_root).expanduser() if image_root else csv_file.parent / "MLLM_VLM Images"

        def image(relative: str, where: str) -> dict:
            return local_image(root, relative, where)
    else:  # a hub dataset: its files are downloaded (and cached) as they are read
        hub, repo = hub or HuggingFaceHub(), str(source)
        files = set(hub.list_files(repo, None))
        if "Questions.csv" not in files:
            raise InputError(f"{repo} has no Questions.csv: pass MMVP/MMVP_VLM or a local copy ({DOWNLOAD})")
        csv_file = Path(hub.download(repo, "Questions.csv", None))

        def image(relative: str, where: str) -> dict:
            name = f"MLLM_VLM Images/{relative}"
            if name not in files:
                raise InputError(f"image {name} (listed in {where}) is missing from {repo}")
            return {"bytes": None, "path": str(Path(hub.download(repo, name, None)).resolve())}
    return _read(csv_file, image, limit)


def _read(csv_file: Path, image, limit: int | None) -> datasets.Dataset:
    try:
        with open(csv_file, newline="", encoding="utf-8") as f:
            lines = list(csv.reader(f))[1:]
    except FileNotFoundError:
        raise InputError(f"{csv_file} not found: download {DOWNLOAD}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"cannot read {csv_file} as UTF-8 CSV ({type(e).__name__})") from None
    if len(lines) % 2 or any(len(line) != 3 for line in lines):
        raise InputError(f"{csv_file} needs rows of (id, type, statement), two per pair; it has {len(lines)} rows")
    rows = []
    for p in range(len(lines) // 2):
        if limit is not None and p >= limit:
            break
        (id1, type1, s1), (id2, _, s2) = lines[2 * p], lines[2 * p + 1]
        where = f"{csv_file} rows {2 * p + 2}-{2 * p + 3}"
        try:
            q1, q2 = int(id1), int(id2)
        except ValueError:
            raise InputError(f"{where}: ids {id1!r}, {id2!r} are not integers") from None
        if q1 % 2 == q2 % 2:
            raise InputError(f"{where}: a pair needs one odd id (its statement belongs to that image) and one even")
        if p // PAIRS_PER_CATEGORY >= len(CATEGORIES):
            raise InputError(f"{csv_file} has more than {PAIRS_PER_CATEGORY * len(CATEGORIES)} pairs")
        images = [image(f"{type1}/{q}.jpg", where) for q in (q1, q2)]
        statements = [check_caption(s, where) for s in (s1, s2)]
        if q1 % 2 == 0:  # the odd statement belongs to the first image: caption k goes with image k
            statements.reverse()
        rows.append({"id": p, "captions": [PREFIX + s for s in statements], "images": images,
                     "category": CATEGORIES[p // PAIRS_PER_CATEGORY]})
    if not rows:
        raise InputError(f"{csv_file} holds no pairs")
    return grid_dataset(rows, *SHAPE, fields=FIELDS)


def metrics(scores: np.ndarray, higher_is_better: bool, fields: dict[str, np.ndarray]) -> dict[str, float]:
    """Text / Image / Group, and the pair accuracy (Image) per category and its mean over categories."""
    flags = correct(scores, higher_is_better)
    category = np.asarray(fields["category"])
    per = {c: round(100.0 * float(flags["image"][category == c].mean()), 2) for c in CATEGORIES
           if (category == c).any()}
    return {**percentages(flags), **{f"image_{c}": v for c, v in per.items()},
            "image_mean_of_categories": round(float(np.mean(list(per.values()))), 2)}


# Mean pair accuracy, MMVP README.
REFERENCES = {"CLIP ViT-L/14, 224 px (MMVP README)": {"image_mean_of_categories": 19.3},
              "CLIP ViT-L/14, 336 px (MMVP README)": {"image_mean_of_categories": 20.0},
              "SigLIP SO400M/14 (MMVP README)": {"image_mean_of_categories": 37.8}}
