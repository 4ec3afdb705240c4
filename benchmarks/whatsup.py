"""What'sUp (Kamath et al., EMNLP 2023; amitakamath/whatsup_vlms): 1 x 4 grids of an image and four
captions that differ only in a spatial preposition, the correct one first.

Subset A `controlled_images_dataset.json` (412) and subset B `controlled_clevr_dataset.json` (408) are
lists of {"image_path", "caption_options"}; the images come from `controlled_images.tar.gz` and
`controlled_clevr.tar.gz`. Metrics as the official `Controlled_Images.evaluate_scores` computes them: the
accuracy; and pair and set accuracy over the images grouped by file name, parsed exactly as there: a
file `<a>_<slot>_..._<b>.<ext>` is in group (a, b[:-5]) at slot <slot> (left, right, on, under in A;
left, right, in-front, behind in B). A pair is left and right both right, or on and under (A) / in-front
and behind (B); pair accuracy = right pairs / (N / 2), set accuracy = groups with all four right / (N /
4). Known upstream error (whatsup_vlms issue 4): the images of pillow_left_of_chair and
pillow_right_of_chair are swapped; the data is read as released.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np

from benchmarks.formats import CAPTION, FILE, Field, Format, list_of, matching
from benchmarks.grids import find_image, grid_dataset, option_correct, percent, read_list
from common.errors import InputError

SHAPE = (1, 4)
PRIMARY = "accuracy"
FILES = {"a": "controlled_images_dataset.json", "b": "controlled_clevr_dataset.json"}
SECOND_PAIR = {"a": ("on", "under"), "b": ("in-front", "behind")}
FIELDS = ("group", "slot")
DOWNLOAD = ("controlled_images_dataset.json / controlled_clevr_dataset.json and controlled_images.tar.gz / "
            "controlled_clevr.tar.gz as linked from https://github.com/amitakamath/whatsup_vlms; pass the folder "
            "that holds the JSON file and the unpacked images as --data")
# The metric groups images by their file names, "<object>_<slot>_<object>.<ext>" (`group_and_slot`).
ENTRY = Format("What'sUp's annotation file", (
    Field("image_path", matching(FILE, r"_[^/]*$", "a file name with an '_' (the official <object>_<slot>_...)"),
          image=True),
    Field("caption_options", list_of(CAPTION, 4))))  # the correct caption first, then three others
FORMAT = ENTRY.describe()


def group_and_slot(image_path: str) -> tuple[str, str]:
    """The official grouping of an image by its file name: (first word | last word minus 5 characters, slot)."""
    parts = image_path.split("/")[-1].split("_")
    return f"{parts[0]}|{parts[-1][:-5]}", parts[1]


def load(subset: str, source: str | None, image_root: str | None = None, limit: int | None = None
         ) -> datasets.Dataset:
    """Subset "a" or "b", in file order."""
    path, entries = read_list(source, FILES[subset], "What'sUp", FORMAT, DOWNLOAD)
    root = Path(image_root).expanduser() if image_root else None
    rows = []
    for n, (label, entry) in enumerate(ENTRY.entries(path, entries, limit)):
        group, slot = group_and_slot(entry["image_path"])
        rows.append({"id": n, "captions": entry["caption_options"], "group": group, "slot": slot,
                     "images": [_image(path.parent, root, entry["image_path"], f"{path} {label}, field 'image_path'")]})
    if not rows:
        raise InputError(f"{path} holds no examples")
    return grid_dataset(rows, *SHAPE, fields=FIELDS)


def _image(folder: Path, root: Path | None, image_path: str, where: str) -> dict:
    """The official paths start at the repository's root (data/controlled_images/...): try them from the JSON
    file's folder and its parent, else the file name in --image-root or beside the JSON file."""
    for base, value in ((folder, image_path), (folder.parent, image_path)):
        if (base / value).is_file():
            return {"bytes": None, "path": str((base / value).resolve())}
    return find_image(folder, root, Path(image_path).name, where)


def metrics(subset: str, scores: np.ndarray, higher_is_better: bool, fields: dict[str, np.ndarray]) -> dict[str, float]:
    correct = option_correct(scores, higher_is_better)
    slots: dict[str, dict[str, bool]] = {}
    for group, slot, right in zip(fields["group"], fields["slot"], correct):
        slots.setdefault(group, {})[slot] = bool(right)
    first, second = ("left", "right"), SECOND_PAIR[subset]
    pairs = sum(all(s.get(k, False) for k in first) for s in slots.values())
    pairs += sum(all(s.get(k, False) for k in second) for s in slots.values())
    sets = sum(sum(s.values()) == 4 for s in slots.values())
    n = len(correct)
    return {"accuracy": percent(correct), "pair_accuracy": round(pairs * 100 / (n / 2), 2),
            "set_accuracy": round(sets * 100 / (n / 4), 2)}


REFERENCES: dict = {}
