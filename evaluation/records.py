"""The layout of examples.jsonl, one record per Winoground example, in one place for writers and readers.

A record holds the example's id, captions and tags, each caption's T' where the experiment searched one
(`swap_0`, `swap_1` from the published search; `swap_exact_0`, `swap_exact_1` from the improved one;
None where a caption had nothing to swap), and for every row its four scores keyed `c<caption>_i<image>`.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import torch

from common.errors import InputError
from perturb.swap import IMPROVED, PUBLISHED, Swap

EXAMPLE_FIELDS = ("id", "caption_0", "caption_1", "tag", "secondary_tag", "num_main_preds")
# Each caption's T' is stored as {prefix}_0 and {prefix}_1; the browser shows them under these names.
SWAP_PREFIX = {PUBLISHED: "swap", IMPROVED: "swap_exact"}
SWAP_NAMES = {PUBLISHED: "T' (published search)", IMPROVED: "T' (improved search)"}


class NonFiniteScore(InputError):
    """A row gave NaN or infinity (e.g. a published ratio whose T' scored exactly 0)."""


def example_records(examples: Sequence[Mapping], scores: Mapping[str, torch.Tensor],
                    swaps: Mapping[str, Sequence[Swap]] | None = None) -> list[dict]:
    """Records of finished examples; `scores[row]` has shape (n_examples, 2, 2), indexed [example, caption, image].

    `swaps[search]` holds one Swap per caption, two captions per example, as the experiments search them.
    """
    for key, s in scores.items():
        bad = torch.nonzero(~torch.isfinite(s))
        if len(bad):
            n, c, i = bad[0].tolist()
            raise NonFiniteScore(f"row {key} scored example {examples[n]['id']} (caption_{c}, image_{i}) as "
                                 f"{s[n, c, i].item()}, which no comparison can rank; no score file holds NaN or "
                                 f"infinity ({len(bad)} such score(s) in this batch)")
    records = []
    for n, ex in enumerate(examples):
        record = {k: ex[k] for k in EXAMPLE_FIELDS}
        for search, found in (swaps or {}).items():
            for c in (0, 1):
                record[f"{SWAP_PREFIX[search]}_{c}"] = found[2 * n + c].text
        for key, s in scores.items():
            s = s[n].tolist()
            record[key] = {"c0_i0": s[0][0], "c0_i1": s[0][1], "c1_i0": s[1][0], "c1_i1": s[1][1]}
        records.append(record)
    return records


def score_grid(records: Iterable[Mapping], key: str) -> np.ndarray:
    """A row's scores over the records as an (N, 2, 2) array, indexed [example, caption, image]."""
    return np.array([[[r[key]["c0_i0"], r[key]["c0_i1"]], [r[key]["c1_i0"], r[key]["c1_i1"]]] for r in records],
                    dtype=np.float64)


def swaps_of(record: Mapping, caption: int) -> dict[str, str | None]:
    """The T' of a record's caption per search that the experiment ran (None: nothing to swap)."""
    return {search: record[f"{prefix}_{caption}"] for search, prefix in SWAP_PREFIX.items()
            if f"{prefix}_{caption}" in record}


def count_without_swap(records: Sequence[Mapping]) -> dict[str, int]:
    """How many captions had no T' (and were compared with themselves), per search present in the records."""
    return {search: sum(swaps_of(r, c)[search] is None for r in records for c in (0, 1))
            for search, prefix in SWAP_PREFIX.items() if f"{prefix}_0" in records[0]}
