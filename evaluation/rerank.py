"""Re-ranking a first-stage retrieval with other scores: rows, candidate pairs, per-batch storage, evaluation.

The first stage ranks every caption against every image by contrastive similarity. For each query (an
image in text retrieval, a caption in image retrieval) its top k candidates are re-scored by a row and
sorted by that score; everything below the top k keeps its first-stage order. A row's score of a pair
combines *terms*, pair scores of one head of one model on the caption (T) or on its word-swapped T'
(published or improved search). Each distinct (caption, image) pair that any query needs is scored
once per term, grouped by image so every image is encoded once and its cross-attention keys and values
serve all the texts scored against it. Scores are stored per batch of images (`PairStore`), so a
killed run continues where it stopped, and the per-query file is assembled from them at the end.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import torch

import numpy as np

from evaluation import metrics
from evaluation.retrieval import RECALL_KS, hits, recalls, reranked
from evaluation.loader import image_batches, preprocess_key
from evaluation.runs import check_config, split_on_oom
from scoring.errors import InputError

T, PUBLISHED_SWAP, IMPROVED_SWAP = "T", "published", "improved"  # which text of a caption a term scores


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    higher_is_better: bool = True
    terms: tuple[tuple[str, str, str], ...] = ()  # (model role, head, text) pair scores the row combines
    combine: str = "plain"  # itc | plain | plus_itc | ratio | difference

    def pair_scores(self, terms: Mapping[tuple, np.ndarray], itc: np.ndarray) -> np.ndarray:
        """The row's score of pairs, from its terms' scores and the first-stage similarity of the same pairs."""
        if self.combine == "itc":
            return itc
        values = [terms[t] for t in self.terms]
        if self.combine == "plain":
            return values[0]
        if self.combine == "plus_itc":
            return values[0] + itc
        if self.combine == "ratio":
            return values[0] / values[1]
        return values[0] - values[1]


ROWS = {r.key: r for r in [
    Row("itc", "first stage: contrastive similarity", combine="itc"),
    Row("itm_blip", "BLIP's protocol: ITM match logit with [ENC] first + first-stage similarity",
        terms=(("itm", "itm_enc_logit", T),), combine="plus_itc"),
    Row("itm", "ITM match logit ([CLS] first, as published)", terms=(("itm", "itm", T),)),
    Row("clm", "captioning loss (as published)", False, (("clm", "clm", T),)),
    Row("clm_exact", "log P(T given I) (exact)", terms=(("clm", "clm_exact", T),)),
    Row("contrastive_ratio", "contrastive similarity ratio, published T'",
        terms=(("itm", "contrastive", T), ("itm", "contrastive", PUBLISHED_SWAP)), combine="ratio"),
    Row("itm_ratio", "ITM logit ratio, published T'", terms=(("itm", "itm", T), ("itm", "itm", PUBLISHED_SWAP)),
        combine="ratio"),
    Row("clm_ratio", "captioning loss ratio, published T'", False, (("clm", "clm", T), ("clm", "clm", PUBLISHED_SWAP)),
        combine="ratio"),
    Row("clm_exact_ratio", "log P(T given I) - log P(T' given I), improved T'",
        terms=(("clm", "clm_exact", T), ("clm", "clm_exact", IMPROVED_SWAP)), combine="difference"),
    Row("itm_exact_ratio", "log P(match) difference, improved T'",
        terms=(("itm", "itm_logprob", T), ("itm", "itm_logprob", IMPROVED_SWAP)), combine="difference"),
]}


# What a plain `python experiment4.py` computes: the first stage, BLIP's protocol, and the single heads.
DEFAULT_METHODS = ("itc", "itm_blip", "itm", "clm", "clm_exact")


def parse_methods(text: str) -> list[Row]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in keys if k not in ROWS]
    if unknown or not keys:
        raise InputError(f"--methods: unknown row(s) {', '.join(unknown) or '(none given)'}; choose from "
                         f"{', '.join(ROWS)}")
    return [ROWS[k] for k in dict.fromkeys(["itc", *keys])]  # the first stage is always a row


def term_name(term: tuple[str, str, str]) -> str:
    return "/".join(term)


def candidate_pairs(text_candidates: np.ndarray, image_candidates: np.ndarray) -> np.ndarray:
    """Distinct (caption, image) pairs that some query re-ranks, sorted by image then caption.

    text_candidates[i] are image i's top captions (text retrieval); image_candidates[c] caption c's top
    images (image retrieval).
    """
    n_images, k = text_candidates.shape
    from_images = np.stack([text_candidates.reshape(-1), np.repeat(np.arange(n_images), k)], axis=1)
    n_captions, k2 = image_candidates.shape
    from_captions = np.stack([np.repeat(np.arange(n_captions), k2), image_candidates.reshape(-1)], axis=1)
    pairs = np.unique(np.concatenate([from_images, from_captions]), axis=0)
    return pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))]


class PairStore:
    """Pair scores per batch of images in `out/pairs/`, each file written whole or not at all."""

    def __init__(self, out_dir: str | Path, config: Mapping):
        self.out_dir = Path(out_dir)
        self.config = check_config(self.out_dir, config)
        self.folder = self.out_dir / "pairs"
        self.folder.mkdir(exist_ok=True)

    def _file(self, batch: int) -> Path:
        return self.folder / f"batch_{batch:06d}.npz"

    def done(self, batch: int) -> bool:
        return self._file(batch).exists()

    def save(self, batch: int, pairs: np.ndarray, scores: Mapping[str, np.ndarray]) -> None:
        tmp = self.folder / f"batch_{batch:06d}.tmp.npz"
        np.savez(tmp, pairs=pairs, **{f"term:{k}": v for k, v in scores.items()})
        tmp.replace(self._file(batch))

    def load(self, n_batches: int, pairs: np.ndarray) -> dict[str, np.ndarray]:
        """Every term's scores aligned with `pairs` (the sorted candidate pairs)."""
        parts = [np.load(self._file(b)) for b in range(n_batches)]
        stored = np.concatenate([p["pairs"] for p in parts]) if parts else np.zeros((0, 2), dtype=np.int64)
        if not np.array_equal(stored, pairs):
            raise RuntimeError(f"{self.folder} holds pairs of another candidate set: delete it and run again")
        names = parts[0].files if parts else []
        return {n.removeprefix("term:"): np.concatenate([p[n] for p in parts]) for n in names if n != "pairs"}


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


@dataclass
class Evaluation:
    queries: list[dict]  # the lines of queries.jsonl
    hits: dict[str, dict[str, dict[int, np.ndarray]]]  # row -> task -> K -> per-query flags


def evaluate(rows: Sequence[Row], similarity: np.ndarray, text_order: np.ndarray, image_order: np.ndarray, k: int,
             pairs: np.ndarray, terms: Mapping[str, np.ndarray], caption_image: Sequence[int],
             image_captions: Sequence[Sequence[int]]) -> Evaluation:
    """Every row's re-ranking of both tasks, per-query scores and hit flags at K = 1, 5, 10.

    similarity is (n_captions, n_images); text_order[i] is image i's first-stage caption order and
    image_order[c] caption c's image order, each at least max(k, 10) deep.
    """
    position = pair_lookup(pairs, similarity.shape[0])
    tasks = {"text_retrieval": (text_order, image_captions), "image_retrieval": (image_order,
                                                                                [[i] for i in caption_image])}
    queries, all_hits = [], {r.key: {} for r in rows}
    for task, (order, relevant) in tasks.items():
        candidates = order[:, :k]
        query = np.broadcast_to(np.arange(len(order))[:, None], candidates.shape)
        captions, images = (candidates, query) if task == "text_retrieval" else (query, candidates)
        itc = similarity[captions, images]
        at = position(captions.reshape(-1), images.reshape(-1)) if len(pairs) else None  # the same for every row
        row_scores = {}
        for row in rows:
            if row.combine == "itc":
                row_scores[row.key] = itc
                continue
            values = {t: terms[term_name(t)][at].reshape(candidates.shape) for t in row.terms}
            row_scores[row.key] = row.pair_scores(values, itc)
        for row in rows:
            ranking = np.concatenate([reranked(candidates, row_scores[row.key], row.higher_is_better),
                                      order[:, k:]], axis=1)
            all_hits[row.key][task] = {K: hits(ranking, relevant, K) for K in RECALL_KS}
        for q in range(len(order)):
            queries.append({"task": task, "query": q, "candidates": candidates[q].tolist(),
                            "scores": {r.key: [float(v) for v in row_scores[r.key][q]] for r in rows}})
    return Evaluation(queries, all_hits)


def summarize(rows: Sequence[Row], evaluation: Evaluation, seed: int = 0) -> dict[str, dict]:
    """Each row's recalls with 95% bootstrap intervals over queries."""
    out = {}
    for row in rows:
        h = evaluation.hits[row.key]
        intervals = {}
        for prefix, task in (("txt", "text_retrieval"), ("img", "image_retrieval")):
            for K in RECALL_KS:
                iv = metrics.bootstrap_interval(h[task][K], seed=seed)
                intervals[f"{prefix}_r{K}"] = [iv.low, iv.high]
        out[row.key] = {"label": row.label, "higher_is_better": row.higher_is_better,
                        **recalls(h["text_retrieval"], h["image_retrieval"]), "interval95": intervals}
    return out


def compare(a: str, b: str, evaluation: Evaluation, seed: int = 0) -> dict:
    """Row a minus row b on each recall, paired bootstrap over the same queries."""
    out = {"a": a, "b": b}
    for prefix, task in (("txt", "text_retrieval"), ("img", "image_retrieval")):
        for K in RECALL_KS:
            d = metrics.paired_bootstrap(evaluation.hits[a][task][K], evaluation.hits[b][task][K], seed=seed)
            out[f"{prefix}_r{K}"] = {"difference": d.difference, "interval95": [d.interval.low, d.interval.high]}
    return out


# BLIP (Li et al., 2022, arXiv 2201.12086), ViT-L pre-trained on 129M images: Table 5 (COCO 5K, fine-tuned)
# and Table 6 (Flickr30K 1K, zero-shot with the COCO-finetuned model); recall@1 / 5 / 10, text then image.
PAPER = {"BLIP ViT-L, COCO 5K fine-tuned (paper, Table 5)": (82.4, 95.4, 97.9, 65.1, 86.3, 91.8),
         "BLIP ViT-L, Flickr30K zero-shot from COCO (paper, Table 6)": (96.7, 100.0, 100.0, 86.7, 97.3, 98.7)}
COLUMNS = [f"{p}_r{k}" for p in ("txt", "img") for k in RECALL_KS]


def report(out_dir: Path, rows: Sequence[Row], evaluation: Evaluation, extra: Mapping, seed: int = 0) -> str:
    """Write queries.jsonl and results.json; return the Markdown tables to print."""
    write_queries(out_dir / "queries.jsonl", evaluation.queries)
    summaries = summarize(rows, evaluation, seed)
    keys = [r.key for r in rows]
    comparisons = [compare(a, b, evaluation, seed) for b in ("itc", "itm_blip") if b in keys
                   for a in keys if a not in ("itc", b)]
    results = {**extra, "methods": summaries, "comparisons": comparisons, "references": PAPER}
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| Row | " + " | ".join(COLUMNS) + " | r_mean |", "|---|" + "---:|" * (len(COLUMNS) + 1)]
    for key, s in summaries.items():
        cells = [f"{s[c]:.2f} [{s['interval95'][c][0]:.1f}, {s['interval95'][c][1]:.1f}]" for c in COLUMNS]
        lines.append(f"| {key}: {s['label']} | " + " | ".join(cells) + f" | {s['r_mean']:.2f} |")
    for label, values in PAPER.items():
        lines.append(f"| *{label}* (reference) | " + " | ".join(f"{v:.1f}" for v in values) +
                     f" | {np.mean(values):.2f} |")
    if comparisons:
        lines += ["", "Paired bootstrap differences, A minus B (95% intervals):", "",
                  "| A minus B | " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
        for c in comparisons:
            lines.append(f"| {c['a']} minus {c['b']} | " + " | ".join(
                f"{c[m]['difference']:+.2f} [{c[m]['interval95'][0]:+.1f}, {c[m]['interval95'][1]:+.1f}]"
                for m in COLUMNS) + " |")
    return "\n".join(lines)


def swapped_captions(mlm, tokenizer, captions: Sequence[str], variants: set[str], seed: int, cache,
                     chunk: int = 256) -> dict[str, list[str]]:
    """T' of every caption for each needed search (T' = T where none exists), searched in chunks and cached."""
    from perturb.swap import IMPROVED, PUBLISHED, find_swaps, swapped_or_same

    out = {}
    for variant, method in ((PUBLISHED_SWAP, PUBLISHED), (IMPROVED_SWAP, IMPROVED)):
        if variant in variants:
            swaps = []
            for n in range(0, len(captions), chunk):
                swaps += find_swaps(mlm, tokenizer, captions[n:n + chunk], method, seed, cache=cache)
                cache.save()
            out[variant] = swapped_or_same(captions, swaps)
    return out


def write_queries(path: Path, queries: Sequence[dict]) -> None:
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    tmp.replace(path)


# --- the two stages --------------------------------------------------------------------------------------

def image_ranges(n_images: int, batch_size: int) -> list[range]:
    return [range(s, min(s + batch_size, n_images)) for s in range(0, n_images, batch_size)]


def first_stage(scorer, images, captions: Sequence[str], batch_size: int, workers: int, cache: Path,
                text_batch: int = 1024) -> np.ndarray:
    """Contrastive similarity (n_captions, n_images): embeddings once per image and text, one product.

    The embeddings are kept in `cache` (an .npz file), so a resumed run does not encode the images again.
    """
    if cache.exists():
        stored = np.load(cache)
        text, image = torch.from_numpy(stored["text"]), torch.from_numpy(stored["image"])
    else:
        pin = scorer.device.type == "cuda"
        image = torch.cat([scorer.image_embeddings(scorer.encode(batch.pixels_for(scorer))).float().cpu()
                           for batch in image_batches(images, image_ranges(len(images), batch_size),
                                                      {preprocess_key(scorer): scorer.preprocess}, workers, pin)])
        with torch.no_grad():
            text = torch.cat([scorer.text_embeddings(captions[s:s + text_batch]).float().cpu()
                              for s in range(0, len(captions), text_batch)])
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, text=text.numpy(), image=image.numpy())
        tmp.replace(cache)
    with torch.no_grad():
        return torch.cat([scorer.similarity(text[s:s + text_batch], image)
                          for s in range(0, len(text), text_batch)]).numpy()


def score_pairs(scorers: Mapping, terms: Sequence[tuple[str, str, str]], texts: Mapping[str, Sequence[str]],
                images, pairs: np.ndarray, store: PairStore, batch_size: int, workers: int,
                pair_batch: int = 512, progress=None) -> int:
    """Score every candidate pair by every term, a batch of images at a time; returns the number of batches.

    Pairs are sorted by image, so each batch's images are encoded once per model and every chunk of
    pairs holds few images, whose cross-attention keys and values its texts share.
    """
    ranges = image_ranges(len(images), batch_size)
    pending = [b for b in range(len(ranges)) if not store.done(b)]
    if progress:
        progress.update(len(ranges) - len(pending))
    roles = sorted({role for role, _, _ in terms})
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
            for r, head, text in terms:
                if r == role:
                    by_text[text].append(head)
            for text, heads in by_text.items():
                chunks = [mine[s:s + pair_batch] for s in range(0, len(mine), pair_batch)]
                results = split_on_oom(lambda part: [_score_chunk(scorer, features, heads, texts[text], c,
                                                                  ranges[b].start) for c in part], chunks)
                for head in heads:
                    scores[term_name((role, head, text))] = np.concatenate(
                        [r[head] for r in results]) if results else np.zeros(0, dtype=np.float32)
        store.save(b, mine, scores)
        if progress:
            progress.update(1)
    return len(ranges)


def _score_chunk(scorer, features, heads, texts, chunk: np.ndarray, first_image: int) -> dict[str, np.ndarray]:
    """Scores of a chunk of (caption, image) pairs; only the chunk's own texts are tokenized."""
    unique, text_index = np.unique(chunk[:, 0], return_inverse=True)
    scores = scorer.score_heads(features, [texts[c] for c in unique], torch.from_numpy(text_index.reshape(-1)),
                                torch.from_numpy(chunk[:, 1] - first_image), heads)
    return {h: v.cpu().numpy() for h, v in scores.items()}
