"""The layout of examples.jsonl, one record per example of a grid benchmark, in one place for writers and readers.

A record holds the example's id, captions (caption_0, caption_1, ...) and grouping fields (Winoground's
tags, SugarCrepe's category, ...), each caption's T' where the experiment searched one (`swap_<c>` from
the published search, `swap_exact_<c>` from the improved one; None where a caption had nothing to swap),
and for every row its scores of the grid keyed `c<caption>_i<image>`, numbered as the official files list
the captions and images.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import torch

from common.errors import InputError
from perturb.swap import GATED, IMPROVED, PUBLISHED, Swap

# Each caption's T' is stored as {prefix}_<caption>; the browser shows them under these names.
SWAP_PREFIX = {PUBLISHED: "swap", IMPROVED: "swap_exact", GATED: "swap_gated"}
SWAP_NAMES = {PUBLISHED: "T' (published search)", IMPROVED: "T' (improved search)", GATED: "T' (gated search)"}


class NonFiniteScore(InputError):
    """A row gave NaN or infinity (e.g. a published ratio whose T' scored exactly 0)."""


def example_records(examples: Sequence[Mapping], scores: Mapping[str, torch.Tensor],
                    swaps: Mapping[str, Sequence[Swap]] | None, fields: Sequence[str]) -> list[dict]:
    """Records of finished examples; `scores[row]` has shape (n_examples, captions, images), indexed [example,
    caption, image]; `fields` are the grouping fields each example keeps (the benchmark's `Grid.fields`).

    `swaps[search]` holds one Swap per caption, the captions of each example in turn, as the experiments
    search them. The gated search's records say None where its gate is closed.
    """
    for key, s in scores.items():
        bad = torch.nonzero(~torch.isfinite(s))
        if len(bad):
            n, c, i = bad[0].tolist()
            raise NonFiniteScore(f"row {key} scored example {examples[n]['id']} (caption_{c}, image_{i}) as "
                                 f"{s[n, c, i].item()}, which no comparison can rank; no score file holds NaN or "
                                 f"infinity ({len(bad)} such score(s) in this batch)")
    records = []
    n_captions = next(iter(scores.values())).shape[1] if scores else 2
    for n, ex in enumerate(examples):
        record = {"id": ex["id"], **{f"caption_{c}": ex[f"caption_{c}"] for c in range(n_captions)},
                  **{k: ex[k] for k in fields}}
        for search, found in (swaps or {}).items():
            for c in range(n_captions):
                record[f"{SWAP_PREFIX[search]}_{c}"] = found[n_captions * n + c].text
        for key, s in scores.items():
            s = s[n].tolist()
            record[key] = {f"c{c}_i{i}": s[c][i] for c in range(len(s)) for i in range(len(s[c]))}
        records.append(record)
    return records


def score_grid(records: Iterable[Mapping], key: str) -> np.ndarray:
    """A row's scores over the records as an (N, captions, images) array, indexed [example, caption, image]."""
    records = list(records)
    cells = records[0][key] if records else {"c0_i0": 0}
    n_captions = 1 + max(int(k[1:].split("_")[0]) for k in cells)
    n_images = 1 + max(int(k.split("_i")[1]) for k in cells)
    return np.array([[[r[key][f"c{c}_i{i}"] for i in range(n_images)] for c in range(n_captions)] for r in records],
                    dtype=np.float64)


def swaps_of(record: Mapping, caption: int) -> dict[str, str | None]:
    """The T' of a record's caption per search that the experiment ran (None: nothing to swap)."""
    return {search: record[f"{prefix}_{caption}"] for search, prefix in SWAP_PREFIX.items()
            if f"{prefix}_{caption}" in record}


def count_without_swap(records: Sequence[Mapping]) -> dict[str, int]:
    """How many captions had no T' (and were compared with themselves), per search present in the records."""
    n_captions = sum(k.startswith("caption_") for k in records[0])
    return {search: sum(swaps_of(r, c)[search] is None for r in records for c in range(n_captions))
            for search, prefix in SWAP_PREFIX.items() if f"{prefix}_0" in records[0]}
