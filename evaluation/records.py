"""The layout of examples.jsonl, one record per example of a grid benchmark, in one place for writers and readers.

A record holds the example's id, the fingerprint of its inputs (`inputs`: its fields and images as the run read
them, benchmarks/data.py; a rerun keeps the record only while they are unchanged), captions (caption_0,
caption_1, ...) and grouping fields (Winoground's
tags, SugarCrepe's category, ...), each caption's T' where the experiment searched one (`swap_<c>` from
the published search, `swap_improved_<c>` from the improved one, `swap_gated_<c>` from the gated one; None
where a caption had nothing to swap), and for every row its scores of the grid keyed `c<caption>_i<image>`,
numbered as the official files list the captions and images.

A result folder's layout has a version, `SCHEMA`, written in its config.json and results.json. Schema 3
renamed what earlier ones called by two words: the ITM head with [ENC] first is `itm_enc` for its logit and
`itm_enc_logprob` for log P(match), as `itm` and `itm_logprob` are; a row's name says its T' search last
(`<row>_ratio` published, `<row>_ratio_improved`, `<row>_ratio_gated`), and "exact" means only the exact
arithmetic of a head (`clm_exact`). `current_name` maps the older names.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import torch

from common.errors import InputError
from perturb.swap import GATED, IMPROVED, PUBLISHED, Swap

SCHEMA = 3

# Each caption's T' is stored as {prefix}_<caption>; the browser shows them under these names.
SWAP_PREFIX = {PUBLISHED: "swap", IMPROVED: "swap_improved", GATED: "swap_gated"}
SWAP_NAMES = {PUBLISHED: "T' (published search)", IMPROVED: "T' (improved search)", GATED: "T' (gated search)"}


def current_name(key: str) -> str:
    """A row's or record field's name in schema 3, given its name in schema 1 or 2 (module docstring)."""
    if key == "itm_enc":  # schema 2's log P(match) with [ENC] first
        return "itm_enc_logprob"
    if key.endswith("_exact_ratio"):  # schema 2's improved-search ratios
        return key.removesuffix("_exact_ratio") + "_ratio_improved"
    if key.startswith("swap_exact_"):
        return "swap_improved_" + key.removeprefix("swap_exact_")
    return key


def upgraded_record(record: Mapping, schema: int) -> dict:
    """An examples.jsonl record of a folder of `schema` with the names of the current one."""
    return dict(record) if schema >= SCHEMA else {current_name(k): v for k, v in record.items()}


class NonFiniteScore(InputError):
    """A row gave NaN or infinity (e.g. a published ratio whose T' scored exactly 0)."""


def example_records(examples: Sequence[Mapping], scores: Mapping[str, torch.Tensor],
                    swaps: Mapping[str, Sequence[Swap]] | None, fields: Sequence[str],
                    inputs: Sequence[str] | None = None) -> list[dict]:
    """Records of finished examples; `scores[row]` has shape (n_examples, captions, images), indexed [example,
    caption, image]; `fields` are the grouping fields each example keeps (the benchmark's `Grid.fields`);
    `inputs` the fingerprint of each example's inputs.

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
        record = {"id": ex["id"], **({"inputs": inputs[n]} if inputs is not None else {}),
                  **{f"caption_{c}": ex[f"caption_{c}"] for c in range(n_captions)},
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
