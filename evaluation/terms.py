"""The scores of the terms an experiment's rows combine (evaluation/rows.py), for a batch of grid examples.

`term_scores` scores the batch's captions and their T' by one model's heads in one call; `row_terms` computes
every term a list of rows needs: one call per model and set of texts its heads score, the captions' priors
over null images (`caption_priors`, computed once per run before any batch), and the masked LM's heads,
which read the caption alone. Each term's scores have shape (n_examples, captions, images).
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch

from evaluation.batches import Batch
from evaluation.rows import MLM, NULL, Row, T, Term
from perturb.swap import GATED, Swap, pseudo_log_likelihoods, swapped_or_same
from scoring import Scorer
from scoring.priors import PriorCache, fill_priors, null_pixels, priors


def term_scores(scorer: Scorer, role: str, features, batch: Batch, heads: Sequence[str],
                swapped: Mapping[str, Sequence[str]] | None = None) -> dict[Term, torch.Tensor]:
    """Every head's scores of the batch's captions (T) and of each T' in `swapped` (search -> one T' per caption).

    One model call scores all of them against the batch's images: per example, its captions, then each
    search's T' of them, each against each of the example's images (pairs index into the batch's distinct
    images). Each term's scores have shape (n_examples, captions, images), indexed [example, caption, image].
    """
    swapped = dict(swapped or {})
    texts, captions = [T, *swapped], batch.captions
    n_examples, n_images = batch.image_of.shape
    n_captions = len(captions) // n_examples
    per_example = n_captions * len(texts)
    all_texts = [text for n in range(n_examples) for variant in (captions, *swapped.values())
                 for text in variant[n * n_captions:(n + 1) * n_captions]]
    t = torch.arange(n_examples * per_example).view(n_examples, per_example, 1).expand(-1, -1, n_images)
    i = batch.image_of.view(n_examples, 1, n_images).expand(-1, per_example, -1)
    scores = scorer.score_heads(features, all_texts, t.reshape(-1), i.reshape(-1), heads)
    return {Term(role, head, text): scores[head].view(n_examples, len(texts), n_captions, n_images)[:, k]
            for head in heads for k, text in enumerate(texts)}


def caption_priors(scorers: Mapping[str, Scorer], rows: Sequence[Row], captions: Sequence[str], n_null: int, seed: int,
                   cache: PriorCache | None = None, share: Callable[[list], list] | None = None
                   ) -> dict[tuple[str, str], dict[str, float]]:
    """Each caption's prior under every (role, head) whose NULL term the rows use: from the cache, or computed
    over `n_null` noise images, encoded once per model (scoring/priors.py). Call the cache's save() after.

    With `share` (a rank's share of the work under torchrun), only this rank's chunks of the missing priors
    are computed into the cache, and nothing is returned.
    """
    needed = dict.fromkeys((t.role, t.head) for row in rows for t in row.terms if t.image == NULL)
    prior_of = {}
    for role in dict.fromkeys(role for role, _ in needed):
        scorer = scorers[role]
        heads = [h for r, h in needed if r == role]
        null_features = scorer.encode(null_pixels(scorer, n_null, seed))
        if share:
            fill_priors(scorer, null_features, captions, heads, seed, cache, share=share)
            continue
        found = priors(scorer, null_features, captions, heads, seed, cache)
        for head in heads:
            prior_of[role, head] = dict(zip(captions, found[head].tolist()))
    return prior_of


def row_terms(scorers: Mapping[str, Scorer], mlm, batch: Batch, rows: Sequence[Row],
              swaps: Mapping[str, Sequence[Swap]], prior_of: Mapping[tuple[str, str], Mapping[str, float]]
              ) -> dict[Term, torch.Tensor]:
    """Every term the rows need, each (n_examples, captions, images) on the CPU.

    `swaps[search]` holds each caption's T' by that search; `prior_of[role, head][caption]` the captions'
    priors (`caption_priors`); `mlm` is the (model, tokenizer) of the masked LM, for its heads.
    """
    captions = batch.captions
    n_examples, n_images = batch.image_of.shape
    terms = list(dict.fromkeys(t for row in rows for t in row.terms))

    def per_caption(values) -> torch.Tensor:  # one value per caption, the same against every image
        return torch.as_tensor(values, dtype=torch.float32).view(n_examples, -1, 1).expand(-1, -1, n_images)

    out: dict[Term, torch.Tensor] = {}
    for role, scorer in scorers.items():
        texts_of_head: dict[str, set] = {}
        for t in terms:
            if t.role == role and t.image != NULL:
                texts_of_head.setdefault(t.head, set()).add(t.text)
        calls: dict[tuple, list[str]] = {}  # the searches whose T' a call scores beside T -> its heads
        for head, texts in texts_of_head.items():
            calls.setdefault(tuple(s for s in swaps if s in texts), []).append(head)
        features = scorer.encode(batch.pixels_for(scorer)) if calls else None
        for searches, heads in calls.items():
            swapped = {s: swapped_or_same(captions, swaps[s]) for s in searches}
            scores = term_scores(scorer, role, features, batch, heads, swapped)
            out |= {t: v.cpu() for t, v in scores.items() if t in terms}
    for t in terms:
        if t.image == NULL:
            out[t] = per_caption([prior_of[t.role, t.head][c] for c in captions])
        elif t.role == MLM and t.head == "pll":
            out[t] = per_caption(pseudo_log_likelihoods(*mlm, captions))
        elif t.role == MLM and t.head == "gate":
            out[t] = per_caption([swap.text is not None for swap in swaps[GATED]])
    return out
