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
import io
from pathlib import Path

import datasets
import numpy as np

from benchmarks.formats import CAPTION, FILE, TEXT, Field, Format, check_whole_lines, matching, problem_line
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
# Questions.csv, two rows per pair: the images are <Type>/<Question ID>.jpg, and the statement of the odd id
# belongs to the first image.
ROW = Format("MMVP-VLM's Questions.csv", (Field("Question ID", matching(TEXT, r"^[0-9]+$", "an integer"), id=True),
                                          Field("Type", FILE), Field("Statement", CAPTION)), layout="rows")
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
        text = csv_file.read_text(encoding="utf-8-sig")  # a byte-order mark is not part of the header
        check_whole_lines(csv_file, text)
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except FileNotFoundError:
        raise InputError(f"{csv_file} not found: download {DOWNLOAD}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"cannot read {csv_file} as UTF-8 CSV ({type(e).__name__})") from None
    header = [f.name for f in ROW.fields]
    if not lines or lines[0] != header:
        raise InputError(f"{csv_file} does not begin with the header {','.join(header)}: {DOWNLOAD}")
    bad = [n for n, line in enumerate(lines[1:], 2) if len(line) != len(header)]
    if len(lines) % 2 == 0 or bad:
        raise InputError(f"{csv_file} needs rows of ({', '.join(header)}), two per pair; it has {len(lines) - 1} "
                         f"rows" + (f", row {bad[0]} with {len(lines[bad[0] - 1])} cells" if bad else ""))
    entries = ROW.entries(csv_file, [(f"row {n}", dict(zip(header, line))) for n, line in enumerate(lines[1:], 2)],
                          None if limit is None else 2 * limit)
    problems = []
    for p in range(len(entries) // 2):
        (where, first), (_, second) = entries[2 * p], entries[2 * p + 1]
        if int(first["Question ID"]) % 2 == int(second["Question ID"]) % 2:
            problems.append(f"{where}, field 'Question ID' pairs {first['Question ID']} with "
                            f"{second['Question ID']}: a pair needs one odd id (its statement belongs to that "
                            f"image) and one even")
        if first["Type"] != second["Type"]:
            problems.append(f"{where}, field 'Type' differs from the next row's: a pair's images share a folder")
    if problems:
        raise InputError(problem_line(csv_file, problems, "fix them"))
    if len(entries) // 2 > PAIRS_PER_CATEGORY * len(CATEGORIES):
        raise InputError(f"{csv_file} has more than {PAIRS_PER_CATEGORY * len(CATEGORIES)} pairs")
    rows = []
    for p in range(len(entries) // 2):
        (where, first), (_, second) = entries[2 * p], entries[2 * p + 1]
        q1, q2 = int(first["Question ID"]), int(second["Question ID"])
        images = [image(f"{first['Type']}/{q}.jpg", f"{csv_file} {label}, field 'Question ID'")
                  for q, label in ((q1, where), (q2, entries[2 * p + 1][0]))]
        statements = [first["Statement"], second["Statement"]]
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
