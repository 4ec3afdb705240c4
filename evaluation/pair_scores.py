"""The second stage's pair scores: every candidate pair by every term, a batch of images at a time, kept on disk.

Pairs are sorted by image, so each batch's images are encoded once per model and every chunk of pairs
holds few images, whose cross-attention keys and values its texts share. Each batch's scores go to
their own file under `out/pairs/` (`PairStore`), written whole or not at all, so a killed run continues
where it stopped.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from common.files import readable_npz, replace_atomically
from evaluation.batches import image_batches, preprocess_key
from evaluation.distributed import Ranks
from evaluation.first_stage import image_ranges
from evaluation.rows import Term
from evaluation.runs import split_on_oom


class PairStore:
    """Pair scores per batch of images in `out/pairs/`, each file written whole or not at all."""

    def __init__(self, out_dir: str | Path):
        self.folder = Path(out_dir) / "pairs"
        self.folder.mkdir(exist_ok=True)

    def _file(self, batch: int) -> Path:
        return self.folder / f"batch_{batch:06d}.npz"

    def done(self, batch: int) -> bool:
        """Whether the batch's file is there and whole; a damaged one is deleted, so the batch is scored again."""
        file = self._file(batch)
        if not file.exists():
            return False
        if readable_npz(file):
            return True
        file.unlink(missing_ok=True)  # under torchrun another rank may have removed it first
        return False

    def save(self, batch: int, pairs: np.ndarray, scores: Mapping[str, np.ndarray]) -> None:
        replace_atomically(self._file(batch), lambda tmp: np.savez(
            tmp, pairs=pairs, **{f"term:{k}": v for k, v in scores.items()}))

    def load(self, n_batches: int, pairs: np.ndarray) -> dict[str, np.ndarray]:
        """Every term's scores (by the term's name) aligned with `pairs` (the sorted candidate pairs)."""
        parts = [np.load(self._file(b)) for b in range(n_batches)]
        stored = np.concatenate([p["pairs"] for p in parts]) if parts else np.zeros((0, 2), dtype=np.int64)
        if not np.array_equal(stored, pairs):
            raise RuntimeError(f"{self.folder} holds pairs of another candidate set: delete it and run again")
        names = parts[0].files if parts else []
        return {n.removeprefix("term:"): np.concatenate([p[n] for p in parts]) for n in names if n != "pairs"}


def score_pairs(scorers: Mapping, terms: Sequence[Term], texts: Mapping[str, Sequence[str]], images,
                pairs: np.ndarray, store: PairStore, batch_size: int, workers: int, pair_batch: int = 512,
                progress=None, ranks: Ranks = Ranks()) -> int:
    """Score every candidate pair by every term, a batch of images at a time; returns the number of batches.

    `texts[term.text]` holds one text per caption: the captions themselves, or their T' from a search. Under
    torchrun each rank scores its share of the unfinished batches.
    """
    ranges = image_ranges(len(images), batch_size)
    pending = [b for b in range(len(ranges)) if not store.done(b)]
    if progress:
        progress.update(len(ranges) - len(pending))
    ranks.barrier()  # every rank has listed the unfinished batches before any rank stores one
    pending = ranks.share(pending)
    roles = sorted({t.role for t in terms})
    preprocessors = {preprocess_key(scorers[r]): scorers[r].preprocess for r in roles}
    pin = any(scorers[r].device.type == "cuda" for r in roles)
    bounds = np.searchsorted(pairs[:, 1], [r.start for r in ranges] + [len(images)])
    batches = image_batches(images, [ranges[b] for b in pending], preprocessors, workers, pin)
    for b, batch in zip(pending, batches):
        mine = pairs[bounds[b]:bounds[b + 1]]
        scores = {}
        for role in roles:
            scorer = scorers[role]
            features = scorer.encode(batch.pixels_for(scorer))
            by_text = defaultdict(list)  # the heads each text variant needs, so one pass serves them together
            for term in terms:
                if term.role == role:
                    by_text[term.text].append(term.head)
            for text, heads in by_text.items():
                chunks = [mine[s:s + pair_batch] for s in range(0, len(mine), pair_batch)]
                results = split_on_oom(lambda part: [_score_chunk(scorer, features, heads, texts[text], c,
                                                                  ranges[b].start) for c in part], chunks)
                for head in heads:
                    scores[str(Term(role, head, text))] = np.concatenate(
                        [r[head] for r in results]) if results else np.zeros(0, dtype=np.float32)
        store.save(b, mine, scores)
        if progress:
            progress.update(min(ranks.world, progress.total - progress.n))  # rank 0's batches stand for all
    return len(ranges)


def _score_chunk(scorer, features, heads, texts, chunk: np.ndarray, first_image: int) -> dict[str, np.ndarray]:
    """Scores of a chunk of (caption, image) pairs; only the chunk's own texts are tokenized."""
    unique, text_index = np.unique(chunk[:, 0], return_inverse=True)
    scores = scorer.score_heads(features, [texts[c] for c in unique], torch.from_numpy(text_index.reshape(-1)),
                                torch.from_numpy(chunk[:, 1] - first_image), heads)
    return {h: v.cpu().numpy() for h, v in scores.items()}
