"""ColorSwap (Burapacheep et al., 2024; Top34051/colorswap): 2 x 2 grids of two images and two captions
that swap a colour between objects, scored with Winoground's Text / Image / Group.

The official `test.json` is a list of {"id", "caption_1", "caption_2", "image_1", "image_2", ...}, and
caption_k belongs to image_k; the images come from `images.zip`, unzipped beside it (or --image-root).
Without --data the gated hub copy `stanfordnlp/colorswap` is read: parquet files whose rows hold the same
fields with the images' bytes (accept its terms and log in first).
"""

from __future__ import annotations

from pathlib import Path

import datasets

from benchmarks.data import check_unique
from benchmarks.grids import captions_of, grid_dataset, read_list, two_by_two, two_by_two_format
from benchmarks.hub import PARQUET_CONVERSION, Hub, HuggingFaceHub
from benchmarks.winoground import metrics as metrics  # Winoground's Text / Image / Group
from common.errors import InputError, first_line

SHAPE = (2, 2)
PRIMARY = "group"
FILE = "test.json"
DEFAULT_SOURCE = "stanfordnlp/colorswap"  # gated: accept its terms on the hub and `hf auth login`
DOWNLOAD = ("test.json and images.zip from https://github.com/Top34051/colorswap, unzipped beside test.json and "
            "passed as --data, or accept the terms of the gated hub dataset stanfordnlp/colorswap and log in")
ENTRY = two_by_two_format("ColorSwap's test.json", ("caption_1", "caption_2", "image_1", "image_2"), id_key="id")
FORMAT = ENTRY.describe()


def load(source: str | None = DEFAULT_SOURCE, image_root: str | None = None, limit: int | None = None, *,
         hub: Hub | None = None) -> datasets.Dataset:
    """From a local test.json with its images, or from the gated hub copy's parquet files."""
    source = source or DEFAULT_SOURCE
    path = Path(source).expanduser()
    if not (path.exists() or source.startswith((".", "/", "~")) or source.endswith(".json")):
        return _from_hub(source, limit, hub or HuggingFaceHub())
    path, entries = read_list(str(path), FILE, "ColorSwap", FORMAT, DOWNLOAD)
    return two_by_two(path, entries, ENTRY, image_root, limit)


def _from_hub(repo: str, limit: int | None, hub: Hub) -> datasets.Dataset:
    """The hub copy: parquet files whose rows hold id, caption_1, caption_2 and the two images' bytes."""
    files = sorted(f for f in hub.list_files(repo, None) if f.endswith(".parquet"))
    revision = None
    if not files:
        revision = PARQUET_CONVERSION
        files = sorted(f for f in hub.list_files(repo, revision) if f.endswith(".parquet"))
    files = [f for f in files if "test" in f] or files
    if not files:
        raise InputError(f"{repo} has no parquet files: download {DOWNLOAD}")
    try:
        table = datasets.Dataset.from_parquet([hub.download(repo, f, revision) for f in files])
    except Exception as e:  # noqa: BLE001 - a damaged download
        raise InputError(f"cannot read the parquet files of {repo} ({first_line(e)})") from None
    missing = [c for c in ("id", "caption_1", "caption_2", "image_1", "image_2") if c not in table.column_names]
    if missing:
        raise InputError(f"{repo} lacks the column(s) {', '.join(missing)} of ColorSwap: download {DOWNLOAD}")
    table = table.cast_column("image_1", datasets.Image(decode=False)).cast_column("image_2",
                                                                                   datasets.Image(decode=False))
    rows = []
    for n, row in enumerate(table.select(range(min(limit or len(table), len(table))))):
        where = f"{repo} row {n}"
        rows.append({"id": int(row["id"]), "captions": captions_of([row["caption_1"], row["caption_2"]], where),
                     "images": [{"bytes": row[k]["bytes"], "path": None} for k in ("image_1", "image_2")]})
    check_unique([r["id"] for r in rows], repo, "example ids", "give each example its own id")
    return grid_dataset(rows, 2, 2)


REFERENCES: dict = {}
