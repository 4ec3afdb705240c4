"""The first stage of re-ranking: every caption against every image by contrastive similarity, and the
(caption, image) pairs that the second stage re-scores.

The similarity is one matrix product over embeddings computed once per image and once per caption; the
embeddings are kept in a file, so a resumed run does not encode the images again. Each query's top k
candidates (an image's captions in text retrieval, a caption's images in image retrieval) are re-scored
by the rows; a pair that both directions want is scored once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from common.errors import InputError
from common.files import readable_npz, replace_atomically
from evaluation.batches import image_batches, preprocess_key
from evaluation.distributed import Ranks
from evaluation.rows import Term

# The first-stage similarity as a row's term: rows that use it read it from the first stage's matrix.
SIMILARITY = Term("first_stage", "contrastive")


def image_ranges(n_images: int, batch_size: int) -> list[range]:
    """The fixed batches of images, the same on every run so that stored batches line up."""
    return [range(s, min(s + batch_size, n_images)) for s in range(0, n_images, batch_size)]


def first_stage(scorer, images, captions: Sequence[str], batch_size: int, workers: int, cache: Path,
                text_batch: int = 1024, ranks: Ranks = Ranks()) -> np.ndarray:
    """Contrastive similarity (n_captions, n_images): embeddings once per image and text, one product.

    The embeddings are kept in `cache` (an .npz file), so a resumed run does not encode the images again.
    Under torchrun each rank encodes its share of the image batches and text chunks into a file of its own,
    and rank 0 merges them into `cache`.
    """
    if not (cache.exists() and readable_npz(cache)):  # none yet, or a damaged one (a full disk): encode again
        ranges = image_ranges(len(images), batch_size)
        mine, starts = ranks.share(list(range(len(ranges)))), ranks.share(list(range(0, len(captions), text_batch)))
        batches = image_batches(images, [ranges[b] for b in mine], {preprocess_key(scorer): scorer.preprocess},
                                workers, scorer.device.type == "cuda")
        parts = {f"image_{b:06d}": scorer.image_embeddings(scorer.encode(batch.pixels_for(scorer))).float().cpu()
                 for b, batch in zip(mine, batches)}
        with torch.no_grad():
            parts |= {f"text_{s:09d}": scorer.text_embeddings(captions[s:s + text_batch]).float().cpu() for s in starts}
        parts = {k: v.numpy() for k, v in parts.items()}
        if ranks.parallel:
            part = cache.with_name(f"{cache.stem}.part-{ranks.rank}-of-{ranks.world}.npz")
            replace_atomically(part, lambda tmp: np.savez(tmp, **parts))
            ranks.barrier()  # every rank's share is on disk
            if ranks.main:
                files = [cache.with_name(f"{cache.stem}.part-{r}-of-{ranks.world}.npz") for r in range(ranks.world)]
                parts = {}
                for file in files:
                    with np.load(file) as stored:
                        parts |= {k: stored[k] for k in stored.files}
        if ranks.main:
            text = np.concatenate([parts[k] for k in sorted(parts) if k.startswith("text_")])
            image = np.concatenate([parts[k] for k in sorted(parts) if k.startswith("image_")])
            replace_atomically(cache, lambda tmp: np.savez(tmp, text=text, image=image))
            for file in cache.parent.glob(f"{cache.stem}.part-*.npz"):
                file.unlink()
        ranks.barrier()  # the merged file is on disk
    with np.load(cache) as stored:
        text, image = torch.from_numpy(stored["text"]), torch.from_numpy(stored["image"])
    with torch.no_grad():
        return torch.cat([scorer.similarity(text[s:s + text_batch], image)
                          for s in range(0, len(text), text_batch)]).numpy()


def check_first_stage_cache(cache: Path, n_images: int, n_captions: int) -> None:
    """Refuse a first-stage cache that reads back but does not fit the data or holds NaN or infinity, naming the
    file (a damaged one that does not read back is simply encoded again)."""
    if not (cache.exists() and readable_npz(cache)):
        return
    fix = "delete it and run again (the embeddings are encoded again)"
    with np.load(cache) as stored:
        if {"text", "image"} - set(stored.files):
            raise InputError(f"{cache} lacks the text or image embeddings of a first-stage cache: {fix}")
        text, image = stored["text"], stored["image"]
    if text.ndim != 2 or image.ndim != 2 or text.shape[1] != image.shape[1] or \
            (len(text), len(image)) != (n_captions, n_images):
        raise InputError(f"{cache} holds embeddings of shape text {text.shape}, image {image.shape}, not of "
                         f"{n_captions} captions and {n_images} images: {fix}")
    if not (np.isfinite(text).all() and np.isfinite(image).all()):
        raise InputError(f"{cache} holds NaN or infinite embeddings (the cache is at fault, not the run): {fix}")


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
