"""T' of every caption of a run, searched once before any example is scored.

The masked LM's search is batched over captions, so searching a run's captions together costs a few
large forward passes where searching each batch's few captions costs many small ones. The captions are
searched in fixed chunks of `CHUNK`, in the order given: a chunk's batched search is then the same
whether one process or any number of torchrun ranks (each taking its share of the chunks) searches it,
and every T' lands in the swap cache as its chunk finishes, so a killed search keeps what it found.
"""

from __future__ import annotations

from typing import Sequence

from evaluation.distributed import Ranks
from perturb.swap import Swap, SwapCache, find_swaps

CHUNK = 256


def search_every_caption(mlm, captions: Sequence[str], searches: Sequence[str], seed: int, cache_path,
                         ranks: Ranks = Ranks()) -> dict[str, list[Swap]]:
    """Each search's T' of every caption (in the captions' order), from the swap cache at `cache_path` (None:
    in memory) or searched now; the cache file holds every one of them afterwards."""
    model, tokenizer = mlm
    chunks = [captions[k:k + CHUNK] for k in range(0, len(captions), CHUNK)]

    def search_chunks(cache: SwapCache, share) -> None:
        for search in searches:
            for chunk in share(chunks):
                find_swaps(model, tokenizer, chunk, search, seed, cache=cache)
                cache.save()

    # Under torchrun each rank searches its share of the chunks first; then every T' is in the cache.
    cache = ranks.fill_together(SwapCache(cache_path), search_chunks)
    search_chunks(cache, lambda every_chunk: every_chunk)
    return {s: find_swaps(model, tokenizer, captions, s, seed, cache=cache) for s in searches}
