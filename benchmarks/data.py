"""What every benchmark loader shares: checking captions, ids and image files, and fingerprinting the data.

A loader reads its benchmark's files into a `datasets.Dataset` whose image columns are undecoded (a
path, or the file's bytes), and `benchmarks.grids.check_grid_images` checks every image file without
decoding it before any model work; `data_fingerprint` gives the content a run scored, so that a run
started again on edited data is refused instead of silently reusing old scores.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import datasets

from common.errors import InputError
from common.fingerprints import digest, file_stamp


def check_caption(value, where: str) -> str:
    """A caption must be a non-empty string; anything else (null, a list, a number, '') is named here."""
    if not isinstance(value, str) or not value.strip():
        shown = "an empty string" if isinstance(value, str) else f"{type(value).__name__} {str(value)[:40]!r}"
        raise InputError(f"{where} is {shown}, not a caption: every caption must be a non-empty string")
    return value


def check_unique(values: Iterable, where: str, what: str, fix: str) -> None:
    """Reject repeated values, naming them: e.g. a repeated id would overwrite one example and count another twice."""
    repeated = [v for v, n in Counter(values).items() if n > 1]
    if repeated:
        shown = ", ".join(map(str, repeated[:5])) + (", ..." if len(repeated) > 5 else "")
        raise InputError(f"{where} repeats {what} {shown}: {fix}")


def undecoded(data: datasets.Dataset, image_columns: Sequence[str]) -> datasets.Dataset:
    """The same rows with image columns as {"bytes", "path"}: nothing is decoded."""
    for column in image_columns:
        data = data.cast_column(column, datasets.Image(decode=False))
    return data


def data_fingerprint(data: datasets.Dataset, image_columns: Sequence[str]) -> str:
    """A digest of every row's fields and images: image bytes where the data holds them, else each file's
    path, size and modification time (an edited or replaced file changes them, and no file is read)."""
    parts = []
    for row in undecoded(data, image_columns):
        fields = {k: v for k, v in row.items() if k not in image_columns}
        images = [digest(row[c]["bytes"].hex()) if row[c]["bytes"] is not None else file_stamp(row[c]["path"])
                  for c in image_columns]
        parts.append([fields, images])
    return "data:" + digest(parts)
