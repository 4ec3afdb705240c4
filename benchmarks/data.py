"""What every benchmark loader shares: checking captions, ids and image files, and fingerprinting the data.

A loader reads its benchmark's files into a `datasets.Dataset` whose image columns are undecoded (a
path, or the file's bytes), and `benchmarks.grids.check_grid_images` checks every image file without
decoding it before any model work; `example_fingerprints` gives the content each example a run scored, so that
a run started again on edited data scores the edited examples again instead of reusing their old scores.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import datasets

from benchmarks.formats import CAPTION
from common.errors import InputError
from common.fingerprints import digest, file_stamp


def check_caption(value, where: str) -> str:
    """A caption must be a string with a visible character; anything else (null, a list, a number, '', zero-width
    spaces) is named here."""
    problem = CAPTION.problem(value)
    if problem:
        raise InputError(f"{where} {problem}: every caption must be a string with a visible character")
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


def example_fingerprints(data: datasets.Dataset, image_columns: Sequence[str]) -> list[str]:
    """Per row, a digest of its inputs: every field (id, captions, crop boxes, grouping fields) and its images, by
    their bytes where the data holds them, else each file's path, size and modification time (an edited or
    replaced file changes them, and no file is read). A run keeps a saved example only while this is unchanged."""
    out = []
    for row in undecoded(data, image_columns):
        fields = {k: v for k, v in row.items() if k not in image_columns}
        images = [digest(row[c]["bytes"].hex()) if row[c]["bytes"] is not None else file_stamp(row[c]["path"])
                  for c in image_columns]
        out.append("inputs:" + digest(fields, images))
    return out


def data_fingerprint(data: datasets.Dataset, image_columns: Sequence[str]) -> str:
    """A digest of every row's inputs (`example_fingerprints`), in order."""
    return "data:" + digest(example_fingerprints(data, image_columns))
