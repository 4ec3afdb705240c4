"""A text's language prior under an image-conditioned head: its score against "null" images of Gaussian noise.

VisualGPTScore (Lin et al., ICML 2024) divides P(T|I) by P(T)^alpha and estimates P(T) from null images.
Their code was never released (the number of noise images, their distribution and the exact BLIP
checkpoint are unpublished), so this project fixes its own recipe:
- K null images, image k = torch.randn((3, H, W)) from torch.Generator().manual_seed(seed + k), float32 on
  the CPU, H x W the checkpoint's processor output; they are normalized pixel values, fed as they are. A
  generative VLM whose processor sizes, tiles or patches an image by its size takes the layout it gives a
  black NULL_IMAGE_SIDE x NULL_IMAGE_SIDE image, every pixel value noise drawn the same way (scoring/vlm.py);
- the prior of a text under a head is its score against the K images averaged in probability,
  logsumexp - log K, for heads whose score is a log-probability (`Scorer.LOG_LIKELIHOOD_HEADS`: log P(T|I),
  VQAScore), and the plain mean of the score for the others (ITM, contrastive similarity).
Every text meets the same null images, so they are encoded once per run (`null_pixels` then
`scorer.encode`) and their cross-attention keys and values are projected once per call, as for any
image (scoring/shared_kv.py). `PriorCache` keeps each text's prior across runs, keyed like the swap cache.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Sequence

import torch
from PIL import Image

from common.cache import JsonCache
from common.fingerprints import checkpoint_fingerprint
from scoring.base import Scorer, images_in
from scoring.batching import all_pairs

# The side of the square image whose processed layout the null images take.
NULL_IMAGE_SIDE = 448


def null_pixels(scorer: Scorer, n_images: int, seed: int):
    """The K null images (K, 3, H, W) in the scorer's normalized pixel space: standard normal noise (or, for
    pixel inputs that are not one tensor, their own `noise`)."""
    template = scorer.preprocess([Image.new("RGB", (NULL_IMAGE_SIDE, NULL_IMAGE_SIDE))])
    if not isinstance(template, torch.Tensor):
        return template.noise(n_images, seed)
    height, width = template.shape[-2:]
    return torch.stack([torch.randn((3, height, width), generator=torch.Generator().manual_seed(seed + k),
                                    dtype=torch.float32) for k in range(n_images)])


def average_over_null_images(scores: torch.Tensor, in_probability: bool) -> torch.Tensor:
    """(n_texts, K) scores to (n_texts,) priors: logsumexp - log K in probability, else the mean."""
    if in_probability:
        return scores.logsumexp(dim=1) - math.log(scores.shape[1])
    return scores.mean(dim=1)


def null_scores(scorer: Scorer, null_features, texts: Sequence[str], heads: Sequence[str]) -> dict[str, torch.Tensor]:
    """Each head's prior of each text (n_texts,) float32: one model call over every (text, null image) pair."""
    n_null = images_in(null_features)
    scores = scorer.score_heads(null_features, texts, *all_pairs(len(texts), n_null, device=scorer.device), heads)
    return {h: average_over_null_images(scores[h].view(len(texts), n_null), h in scorer.LOG_LIKELIHOOD_HEADS)
            for h in heads}


class PriorCache(JsonCache):
    """Priors per (model, dtype, head, number of null images, seed, caption), in a JSON file a person can read.

    The model is keyed by its fingerprint, as in the swap cache; its path is kept beside it for the reader.
    """

    ROOT, FLAG = "priors", "--prior-cache"
    KEY = {"model": str, "dtype": str, "head": str, "null_images": int, "seed": int, "caption": str}
    VALUES = {"prior": float}

    def __init__(self, path: str | Path | None):
        super().__init__(path)
        self._fingerprints: dict[str, str] = {}

    def model_key(self, scorer: Scorer) -> str:
        if scorer.name_or_path not in self._fingerprints:
            self._fingerprints[scorer.name_or_path] = checkpoint_fingerprint(scorer.name_or_path)
        return self._fingerprints[scorer.name_or_path]


def fill_priors(scorer: Scorer, null_features, texts: Sequence[str], heads: Sequence[str], seed: int,
                cache: PriorCache, chunk: int = 64, share: Callable[[list], list] | None = None) -> None:
    """Add to the cache each head's prior of every text it lacks.

    Missing texts are scored in sorted order, `chunk` texts (times K null images) per model call, so a text's
    prior does not depend on which other texts a run happens to need; `share` picks the chunks this process
    computes (a rank's share under torchrun). Priors pass through Python floats, as cached ones do.
    """
    keys = {(h, t): _key(cache, scorer, null_features, seed, h, t) for h in heads for t in set(texts)}
    todo = sorted({t for (h, t), key in keys.items() if cache.get(key) is None})
    chunks = [todo[start:start + chunk] for start in range(0, len(todo), chunk)]
    for part in (share(chunks) if share else chunks):
        computed = null_scores(scorer, null_features, part, heads)
        for h in heads:
            for text, value in zip(part, computed[h].tolist()):
                if cache.get(keys[h, text]) is None:  # cached for this head: the cached bits stand
                    cache.put(keys[h, text], {"prior": value}, model_path=scorer.name_or_path)


def priors(scorer: Scorer, null_features, texts: Sequence[str], heads: Sequence[str], seed: int,
           cache: PriorCache | None = None, chunk: int = 64) -> dict[str, torch.Tensor]:
    """Each head's prior of each text (n_texts,) float32 on the CPU, computing only what the cache lacks
    (`fill_priors`), so a warm and a cold cache give the same bits."""
    cache = cache if cache is not None else PriorCache(None)
    fill_priors(scorer, null_features, texts, heads, seed, cache, chunk)
    return {h: torch.tensor([cache.get(_key(cache, scorer, null_features, seed, h, t))["prior"] for t in texts],
                            dtype=torch.float32) for h in heads}


def _key(cache: PriorCache, scorer: Scorer, null_features, seed: int, head: str, text: str) -> tuple:
    """The cache key of a prior, in the order of PriorCache.KEY."""
    dtype = str(scorer.dtype).removeprefix("torch.")
    return cache.model_key(scorer), dtype, head, images_in(null_features), seed, text
