"""What the compositionality benchmarks share: each example is a grid of m images by n captions.

A loader returns a `datasets.Dataset` with one row per example, in the benchmark's canonical order:
`id` (int), `caption_0` ... `caption_{n-1}` (the correct caption first on 1 x n grids; caption_k belongs
to image_k on 2 x 2 grids), `image_0` ... `image_{m-1}` (undecoded: a path or the file's bytes), `box_0`
... (a crop box [left, top, right, bottom] in pixels, or None) and the benchmark's grouping fields. A
score array over the grids has shape (N, n_captions, m_images), indexed [example, caption, image].

`option_correct` is the 1 x n accuracy of every such benchmark: an example is right when its correct
caption scores strictly above every other option, in the row's direction; ties are wrong, as in
Winoground. (Official code that takes an argmax breaks an exact tie by position instead.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import datasets
import numpy as np
import PIL.Image

from benchmarks.data import check_caption, undecoded
from benchmarks.formats import CAPTION, FILE, INTEGER, Field, Format, RepeatedKey, unique_keys
from benchmarks.images import ImageTooLarge, check_image, too_large
from common.errors import InputError


def option_correct(scores: np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Per example: does caption 0 score strictly better than every other caption on image 0? scores (N, n, 1)."""
    s = np.asarray(scores, dtype=np.float64)[:, :, 0]
    return (s[:, :1] > s[:, 1:]).all(axis=1) if higher_is_better else (s[:, :1] < s[:, 1:]).all(axis=1)


def percent(flags: np.ndarray) -> float:
    return round(100.0 * float(np.mean(flags)), 2) if len(flags) else float("nan")


def grid_dataset(rows: Sequence[Mapping], n_images: int, n_captions: int, fields: Sequence[str] = (),
                 boxes: bool = False) -> datasets.Dataset:
    """The rows as a Dataset of the layout above; rows hold captions and images as lists."""
    columns: dict[str, list] = {"id": [r["id"] for r in rows]}
    for c in range(n_captions):
        columns[f"caption_{c}"] = [r["captions"][c] for r in rows]
    for i in range(n_images):
        columns[f"image_{i}"] = [r["images"][i] for r in rows]
        if boxes:
            columns[f"box_{i}"] = [r["boxes"][i] for r in rows]
    for field in fields:
        columns[field] = [r[field] for r in rows]
    features = {"id": datasets.Value("int64"), **{f"caption_{c}": datasets.Value("string") for c in range(n_captions)},
                **{f"image_{i}": datasets.Image(decode=False) for i in range(n_images)}}
    if boxes:
        features |= {f"box_{i}": datasets.Sequence(datasets.Value("float64")) for i in range(n_images)}
    for field in fields:
        features[field] = datasets.Value("string")
    return datasets.Dataset.from_dict(columns, features=datasets.Features(features))


def read_json(path: Path, what: str):
    """A JSON annotation file, with one line for a missing, unreadable or non-UTF-8 one, and for a key that one
    object repeats (`json` would keep the last one silently: an example lost, or one scored twice)."""
    if not path.is_file():
        raise InputError(f"{path} not found: {what}")
    try:
        return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=unique_keys)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read {path} as UTF-8 JSON ({type(e).__name__}): {what}") from None
    except RepeatedKey as e:
        raise InputError(f"{path} repeats the key {e.key!r} in one object: give each entry its own key") from None


def read_list(source: str | None, file: str, name: str, fmt: str, download: str) -> tuple[Path, list]:
    """A benchmark's annotation list: `source` is the file or the folder holding `file`; none is one line that
    says what to download."""
    if not source:
        raise InputError(f"{name} needs its release files: download {download}")
    path = Path(source).expanduser()
    path = path / file if path.is_dir() else path
    entries = read_json(path, f"{name}'s {file} is {fmt}; download {download}")
    if not isinstance(entries, list):
        raise InputError(f"{path} is not a JSON list: {name}'s {file} is {fmt}")
    return path, entries


def captions_of(values: Iterable, where: str) -> list[str]:
    return [check_caption(v, f"{where}, caption {n}") for n, v in enumerate(values)]


def local_image(root: Path, relative: str, where: str) -> dict:
    """An image file under root, as an undecoded Image value; a missing one is named with where it is listed."""
    file = root / relative
    if not file.is_file():
        raise InputError(f"image {file} (listed in {where}) is missing: pass the folder that holds the images "
                         f"with --image-root")
    return {"bytes": None, "path": str(file.resolve())}


def check_grid_images(data: datasets.Dataset, n_images: int) -> None:
    """Every image file checked without decoding it, and every crop box on its image, naming the first bad one."""
    sizes: dict[str, tuple[int, int]] = {}
    for row in undecoded(data, [f"image_{i}" for i in range(n_images)]):
        for i in range(n_images):
            stored = row[f"image_{i}"]
            name = stored["path"] or f"image_{i} of example {row['id']}"
            if name not in sizes:
                try:
                    content = stored["bytes"] if stored["bytes"] is not None else Path(stored["path"]).read_bytes()
                except OSError:
                    raise InputError(f"image {name} is missing or unreadable: restore it") from None
                check_image(content, name)
                sizes[name] = _size(content, name)
            box = row.get(f"box_{i}")
            if box is not None:
                width, height = sizes[name]
                left, top, right, bottom = box
                # A box that reaches past an edge is cropped as the official code crops it (Pillow pads it);
                # one that is empty or lies wholly outside the image would give a blank crop.
                if right <= left or bottom <= top or left >= width or top >= height or right <= 0 or bottom <= 0:
                    raise InputError(f"example {row['id']}: its box {box} lies outside image {name} "
                                     f"({width} x {height}): fix the box in the annotation file")


def _size(content: bytes, name: str) -> tuple[int, int]:
    import io

    try:
        with PIL.Image.open(io.BytesIO(content)) as image:
            return image.size
    except PIL.Image.DecompressionBombError as e:
        raise ImageTooLarge(too_large(name, e)) from None


def find_image(folder: Path, image_root: Path | None, value: str, where: str) -> dict:
    """An image named in an annotation file: under --image-root, else beside the file, else in its images/."""
    roots = [image_root] if image_root else [folder, folder / "images"]
    for root in roots:
        if (root / value).is_file():
            return local_image(root, value, where)
    raise InputError(f"image {value} (listed in {where}) is not under {' or '.join(map(str, roots))}: pass the "
                     f"folder that holds the images with --image-root")


def two_by_two_format(name: str, keys: tuple[str, str, str, str], id_key: str | None = None) -> Format:
    """The format of a 2 x 2 benchmark's JSON list whose entries name (caption 0, caption 1, image 0, image 1) by
    `keys`, caption k belonging to image k, and with `id_key`, each entry's integer id."""
    ids = (Field(id_key, INTEGER, id=True),) if id_key else ()
    return Format(name, (*ids, Field(keys[0], CAPTION), Field(keys[1], CAPTION), Field(keys[2], FILE, image=True),
                         Field(keys[3], FILE, image=True)))


def two_by_two(path: Path, entries: list, entry_format: Format, image_root: str | None,
               limit: int | None) -> datasets.Dataset:
    """A 2 x 2 benchmark from a JSON list of `two_by_two_format`: ids from its id field, else the entries' order."""
    root = Path(image_root).expanduser() if image_root else None
    id_key = next((f.name for f in entry_format.fields if f.id), None)
    c0, c1, i0, i1 = (f.name for f in entry_format.fields if not f.id)
    rows = [{"id": entry[id_key] if id_key else n, "captions": [entry[c0], entry[c1]],
             "images": [find_image(path.parent, root, entry[k], f"{path} {label}, field '{k}'") for k in (i0, i1)]}
            for n, (label, entry) in enumerate(entry_format.entries(path, entries, limit))]
    if not rows:
        raise InputError(f"{path} holds no examples")
    return grid_dataset(rows, 2, 2)
