"""SugarCrepe++ (Dumpala et al., NeurIPS 2024 D&B; Sri-Harsha/scpp): 1 x 3 grids, a COCO image with two captions
that describe it in different words and one hard negative, read from the official `data/<category>.json` files.

Each file is a JSON list of {"id", "filename", "caption", "caption2", "negative_caption"}, ids 0 .. n-1 within
the file; the images are COCO val2017 file names in one flat `images/` folder beside `data/` (or --image-root).
Examples are numbered in the order of CATEGORIES, then of each file; caption_0 is "caption" (P1), caption_1
"caption2" (P2), caption_2 the negative (N). The upstream files keep some quirks (spaces at a caption's ends,
a double space, two swap_obj entries whose negative equals the caption); they are read as they are.

Official image-to-text metrics (`VLMs/test_*.py`), per category: ITT, the percentage of examples with
s(I, P1) > s(I, N) and s(I, P2) > s(I, N), strict (in the row's direction here); and the two halves alone,
P1 over N and P2 over N. `itt` pools every example. The text-only task (TOT: P1 closer to P2 than either is to
N, by text embeddings alone) compares texts with texts, which no row here scores; it is not computed.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np

from benchmarks.formats import CAPTION, FILE, INTEGER, Field, Format
from benchmarks.grids import find_image, grid_dataset, percent, read_list

SHAPE = (1, 3)  # images, captions
CATEGORIES = ("replace_att", "replace_obj", "replace_rel", "swap_att", "swap_obj")
FIELDS = ("category",)
PRIMARY = "itt"
DOWNLOAD = ("the data/<category>.json files of https://github.com/Sri-Harsha/scpp (pass that data/ folder as --data) "
            "and COCO val2017 images (in images/ beside data/, or pass their folder as --image-root)")
ENTRY = Format("SugarCrepe++'s <category>.json", (Field("id", INTEGER, id=True), Field("filename", FILE, image=True),
                                                   Field("caption", CAPTION), Field("caption2", CAPTION),
                                                   Field("negative_caption", CAPTION)))
FORMAT = ENTRY.describe()


def load(source: str | None, image_root: str | None = None, limit: int | None = None) -> datasets.Dataset:
    """Every category's examples, in CATEGORIES order; `limit` keeps the first examples of that order."""
    folder = Path(source).expanduser() if source else None
    root = Path(image_root).expanduser() if image_root else (folder.parent / "images" if folder else None)
    rows = []
    for category in CATEGORIES:
        if limit is not None and len(rows) >= limit:
            break
        path, entries = read_list(source, f"{category}.json", "SugarCrepe++", FORMAT, DOWNLOAD)
        for label, entry in ENTRY.entries(path, entries, None if limit is None else limit - len(rows)):
            image = find_image(path.parent, root, entry["filename"], f"{path} {label}, field 'filename'")
            rows.append({"id": len(rows), "captions": [entry["caption"], entry["caption2"], entry["negative_caption"]],
                         "images": [image], "category": category})
    return grid_dataset(rows, *SHAPE, fields=FIELDS)


def halves(scores: np.ndarray, higher_is_better: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per example: P1 strictly better than N, and P2 strictly better than N, on the image; scores (N, 3, 1)."""
    s = np.asarray(scores, dtype=np.float64)[:, :, 0]
    better = np.greater if higher_is_better else np.less
    return better(s[:, 0], s[:, 2]), better(s[:, 1], s[:, 2])


def correct(scores: np.ndarray, higher_is_better: bool) -> dict[str, np.ndarray]:
    """ITT per example: both positives strictly better than the negative."""
    p1, p2 = halves(scores, higher_is_better)
    return {"right": p1 & p2}


def metrics(scores: np.ndarray, higher_is_better: bool, fields: dict[str, np.ndarray]) -> dict[str, float]:
    """ITT over every example, and per category ITT, P1 over N and P2 over N."""
    p1, p2 = halves(scores, higher_is_better)
    category = np.asarray(fields["category"])
    out = {"itt": percent(p1 & p2)}
    for c in CATEGORIES:
        mask = category == c
        if mask.any():
            out |= {f"itt_{c}": percent((p1 & p2)[mask]), f"p1_{c}": percent(p1[mask]), f"p2_{c}": percent(p2[mask])}
    return out
