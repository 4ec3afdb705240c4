"""The second stage: each query's top k candidates re-sorted by every row, per-query scores and hits.

For each query (an image in text retrieval, a caption in image retrieval) a row's score of each
candidate comes from its terms: the stored pair scores, or the first-stage similarity. The top k are
sorted by it; everything below keeps its first-stage order (BLIP scores those -100, which ranks them
the same way only for k >= 10; see the README). Hits at K = 1, 5, 10 follow BLIP's recall definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from benchmarks.retrieval import RECALL_KS, hits, reranked
from evaluation.first_stage import SIMILARITY
from evaluation.records import NonFiniteScore
from evaluation.rows import Row


@dataclass
class Evaluation:
    queries: list[dict]  # the lines of queries.jsonl
    hits: dict[str, dict[str, dict[int, np.ndarray]]]  # row -> task -> K -> per-query flags


def evaluate(rows: Sequence[Row], similarity: np.ndarray, text_order: np.ndarray, image_order: np.ndarray, k: int,
             pairs: np.ndarray, pair_scores: Mapping[str, np.ndarray], caption_image: Sequence[int],
             image_captions: Sequence[Sequence[int]]) -> Evaluation:
    """Every row's re-ranking of both tasks, per-query scores and hit flags at K = 1, 5, 10.

    similarity is (n_captions, n_images); text_order[i] is image i's first-stage caption order and
    image_order[c] caption c's image order, each at least max(k, 10) deep; pair_scores[str(term)] holds a
    term's score of each of the sorted candidate `pairs`.
    """
    position = pair_lookup(pairs, similarity.shape[0])
    tasks = {"text_retrieval": (text_order, image_captions), "image_retrieval": (image_order,
                                                                                [[i] for i in caption_image])}
    queries, all_hits = [], {r.key: {} for r in rows}
    for task, (order, relevant) in tasks.items():
        candidates = order[:, :k]
        query = np.broadcast_to(np.arange(len(order))[:, None], candidates.shape)
        captions, images = (candidates, query) if task == "text_retrieval" else (query, candidates)
        at = position(captions.reshape(-1), images.reshape(-1)) if len(pairs) else None  # the same for every row
        terms = {SIMILARITY: similarity[captions, images]}
        terms |= {t: pair_scores[str(t)][at].reshape(candidates.shape)
                  for row in rows for t in row.terms if t != SIMILARITY}
        row_scores = {row.key: row.scores(terms) for row in rows}
        for key, scores in row_scores.items():
            bad = np.argwhere(~np.isfinite(scores))
            if len(bad):
                q, c = bad[0]
                raise NonFiniteScore(f"row {key} scored candidate {candidates[q, c]} of {task} query {q} as "
                                     f"{scores[q, c]}, which no ranking can use; no score file holds NaN or "
                                     f"infinity ({len(bad)} such score(s))")
        for row in rows:
            ranking = np.concatenate([reranked(candidates, row_scores[row.key], row.higher_is_better),
                                      order[:, k:]], axis=1)
            all_hits[row.key][task] = {K: hits(ranking, relevant, K) for K in RECALL_KS}
        for q in range(len(order)):
            queries.append({"task": task, "query": q, "candidates": candidates[q].tolist(),
                            "scores": {r.key: [float(v) for v in row_scores[r.key][q]] for r in rows}})
    return Evaluation(queries, all_hits)


def pair_lookup(pairs: np.ndarray, n_captions: int):
    """A function from (caption, image) arrays to row positions in the sorted `pairs`."""
    keys = pairs[:, 1].astype(np.int64) * n_captions + pairs[:, 0]
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]

    def positions(captions: np.ndarray, images: np.ndarray) -> np.ndarray:
        wanted = images.astype(np.int64) * n_captions + captions
        found = np.searchsorted(sorted_keys, wanted)
        return order[found]
    return positions
