"""Word-swap perturbations T' of a caption T, found with a masked language model (DistilRoBERTa).

Three searches:

`published` reproduces the search behind the published numbers (the original repository's
`experiment2and3.py`). Candidates are ordered pairs
(i1, i2) of non-special token positions holding different ids (so each unordered swap appears twice);
above `max_pairs` a seeded sample of them is kept, in their original order. For each pair, with t1 and
t2 the tokens at i1 and i2, four raw MLM logits (not log-probabilities) are read:
    a = logit(t1 at i1 | i1 masked, i2 = t2)    b = logit(t2 at i1 | i1 masked, i2 = t1)
    c = logit(t2 at i2 | i2 masked, i1 = t1)    d = logit(t1 at i2 | i2 masked, i1 = t2)
and a softmax over (a + c, b + d) gives p_orig and p_swap. The pair with the largest p_swap - p_orig
wins (first on ties), even when p_swap < p_orig, and the swapped ids are decoded without special
tokens. Token-level swaps can glue or split words ("grass" moved to the front loses its space).

`gated` is the original repository's final variant (its `experiment2and3.py` at HEAD,
`freq_filter=1000`): the published search over positions holding token ids of at least 1000 only (in
DistilRoBERTa's vocabulary the lower ids are the most frequent tokens: articles, punctuation), and a
gate: the swap is used only where p_swap > p_orig. Where the gate is closed (or nothing is left to
swap) the caption has no T' and a gated row scores it by its plain score (evaluation/rows.py).

`improved` swaps whole words and picks the swap whose sentence the MLM finds most plausible. Words are
the caption's whitespace-separated words; punctuation at a word's edges and the capital letter of the
first word stay in their place, so T' reads as a sentence. Candidates are the unordered pairs of word
positions holding different words (each swap once; a seeded sample above `max_pairs`). Each candidate
sentence is scored by its pseudo-log-likelihood, PLL(S) = sum over tokens k of log P(s_k | S with k
masked), a normalized (log-softmax) score, and the highest PLL wins (first pair on ties). Why PLL
rather than the published criterion on log-probabilities: the published score looks only at the two
swapped positions, each conditioned on the other, so it rewards swaps that fit locally even when the
sentence as a whole becomes odd, and raw logits are not comparable across positions; the PLL scores
the whole candidate sentence with properly normalized probabilities (Salazar et al., 2020), and since
all candidates hold the same words, it compares orderings of the same content.

Every candidate of a caption (and of many captions) is scored in a few large batched forward passes.
The model's LM head runs only at the masked position of each sequence. `SwapCache` stores results in
a readable JSON file keyed by caption, model, dtype, search, seed and max_pairs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from common.cache import JsonCache
from common.errors import InputError, first_line
from common.fingerprints import checkpoint_fingerprint
from scoring.base import unreadable_weights
from scoring.batching import right_pad

PUBLISHED = "published"
IMPROVED = "improved"
GATED = "gated"
SEARCHES = (PUBLISHED, IMPROVED, GATED)
GATED_MIN_TOKEN_ID = 1000  # the original repository's freq_filter


@dataclass(frozen=True)
class Swap:
    """T' for one caption; `text` is None (and `reason` says why) when the caption has nothing to swap."""
    text: str | None
    reason: str | None = None


def swapped_or_same(captions: Sequence[str], swaps: Sequence[Swap]) -> list[str]:
    """T' for each caption, or the caption itself where it has no swap (its ratio is then neutral)."""
    return [c if s.text is None else s.text for c, s in zip(captions, swaps)]


def load_mlm(name_or_path: str, device="cpu", dtype=torch.float32):
    """A masked LM (e.g. distilroberta-base) and its tokenizer, in eval mode, no gradients."""
    from safetensors import SafetensorError
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    try:
        model = AutoModelForMaskedLM.from_pretrained(name_or_path, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    except OSError as e:
        raise InputError(f"cannot load a masked LM from '{name_or_path}': pass a hub id or a folder saved with "
                         f"save_pretrained ({first_line(e)})") from None
    except SafetensorError as e:
        raise unreadable_weights(name_or_path, e) from None
    except ValueError as e:  # a checkpoint of another kind, e.g. BLIP or CLIP
        raise InputError(f"'{name_or_path}' is not a masked LM (AutoModelForMaskedLM cannot load it: "
                         f"{first_line(e)[:120]}): pass one such as distilroberta-base as --mlm-model") from None
    if tokenizer.mask_token_id is None:
        raise InputError(f"'{name_or_path}' has no mask token, so it cannot search word swaps: pass a masked LM "
                         f"such as distilroberta-base as --mlm-model")
    return model.to(device).eval().requires_grad_(False), tokenizer


def sample_pairs(pairs: list[tuple[int, int]], max_pairs: int, seed: int) -> list[tuple[int, int]]:
    """At most max_pairs of the pairs: a seeded sample without replacement, kept in their original order."""
    if len(pairs) <= max_pairs:
        return pairs
    keep = np.sort(np.random.default_rng(seed).choice(len(pairs), size=max_pairs, replace=False))
    return [pairs[k] for k in keep]


def swap_candidates(ids: Sequence[int], special_ids: set[int], max_pairs: int = 1000,
                    seed: int = 0, min_token_id: int = 0) -> list[tuple[int, int]]:
    """Published candidates: ordered pairs (i1, i2) of non-special positions whose token ids differ (and are
    at least min_token_id, for the gated search)."""
    positions = [k for k, t in enumerate(ids) if t not in special_ids and t >= min_token_id]
    pairs = [(i1, i2) for i1 in positions for i2 in positions if i1 != i2 and ids[i1] != ids[i2]]
    return sample_pairs(pairs, max_pairs, seed)


@torch.no_grad()
def masked_token_scores(model, sequences: Sequence[Sequence[int]], positions: Sequence[int], targets: Sequence[int],
                        pad_id: int, normalize: bool, batch_size: int = 1024) -> torch.Tensor:
    """For each sequence, the MLM's raw logit (or log-probability if normalize) of targets[s] at positions[s].

    Sequences of one length run together, `batch_size` at a time, so no padding is computed; the LM head
    runs only at the scored position. Returns float32 scores on the CPU, in the input order.
    """
    device = next(model.parameters()).device
    by_length: dict[int, list[int]] = {}
    for s, sequence in enumerate(sequences):
        by_length.setdefault(len(sequence), []).append(s)
    batches = [same[k:k + batch_size] for _, same in sorted(by_length.items()) for k in range(0, len(same), batch_size)]
    out = torch.empty(len(sequences), dtype=torch.float32)
    for rows in batches:
        ids, mask = right_pad([sequences[s] for s in rows], pad_id, device)
        pos = torch.tensor([positions[s] for s in rows], device=device)
        tgt = torch.tensor([targets[s] for s in rows], device=device)
        logits = _logits_at(model, ids, mask, pos).float()
        score = logits.gather(1, tgt[:, None]).squeeze(1)
        if normalize:
            score = score - logits.logsumexp(dim=1)
        out[torch.tensor(rows)] = score.cpu()
    return out


def _logits_at(model, ids, mask, pos) -> torch.Tensor:
    rows = torch.arange(len(ids), device=ids.device)
    if hasattr(model, "lm_head"):  # RoBERTa family: encoder, then the LM head at one position per row
        hidden = model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
        return model.lm_head(hidden[rows, pos])
    return model(input_ids=ids, attention_mask=mask).logits[rows, pos]


# --- published ---------------------------------------------------------------------------------------

def published_swaps(model, tokenizer, captions: Sequence[str], seed: int = 0, max_pairs: int = 1000,
                    batch_size: int = 1024, min_token_id: int = 0, gate: bool = False) -> list[Swap]:
    """The published token-level search (module docstring) for many captions, batched.

    With `gate`, a swap is kept only where p_swap > p_orig (the gated search, with min_token_id=1000).
    """
    special = set(tokenizer.all_special_ids)
    encoded = [tokenizer(c)["input_ids"] for c in captions]
    # Sequence S(m, p): the caption with position m masked and, if p is given, m's token written at p.
    # a, c use S(i, None) and b, d use S(i1, i2), S(i2, i1): N**2 distinct sequences instead of 4 per pair.
    index: dict[tuple[int, int, int], int] = {}
    sequences, positions, targets = [], [], []

    def sequence(n, m, p):
        key = (n, m, p)
        if key not in index:
            ids = list(encoded[n])
            target = ids[m] if p < 0 else ids[p]
            if p >= 0:
                ids[p] = encoded[n][m]
            ids[m] = tokenizer.mask_token_id
            index[key] = len(sequences)
            sequences.append(ids)
            positions.append(m)
            targets.append(target)
        return index[key]

    plans = []
    for n, ids in enumerate(encoded):
        pairs = swap_candidates(ids, special, max_pairs, seed, min_token_id)
        refs = [(sequence(n, i1, -1), sequence(n, i1, i2), sequence(n, i2, -1), sequence(n, i2, i1))
                for i1, i2 in pairs]
        plans.append((pairs, refs))
    scores = masked_token_scores(model, sequences, positions, targets, tokenizer.pad_token_id,
                                 normalize=False, batch_size=batch_size)
    results = []
    for n, (pairs, refs) in enumerate(plans):
        if not pairs:
            results.append(Swap(None, "fewer than two different tokens to swap"
                                + (f" with ids of at least {min_token_id}" if min_token_id else "")))
            continue
        r = torch.tensor(refs)
        a, b, c, d = (scores[r[:, k]] for k in range(4))
        probs = torch.stack([a + c, b + d], dim=1).softmax(dim=1)  # float32, as published
        best = int(torch.argmax(probs[:, 1] - probs[:, 0]))  # first index on ties
        if gate and not probs[best, 1] > probs[best, 0]:
            results.append(Swap(None, "the likeliest swap is less probable than the caption (p_swap <= p_orig)"))
            continue
        i1, i2 = pairs[best]
        ids = list(encoded[n])
        ids[i1], ids[i2] = ids[i2], ids[i1]
        results.append(Swap(tokenizer.decode(ids, skip_special_tokens=True)))
    return results


# --- improved ----------------------------------------------------------------------------------------

_EDGE = re.compile(r"^(\W*)(.*?)(\W*)$", re.UNICODE)


def split_words(caption: str) -> list[tuple[str, str, str]]:
    """Whitespace words as (leading punctuation, core, trailing punctuation)."""
    return [_EDGE.match(w).groups() for w in caption.split()]


def swap_words(caption: str, i: int, j: int) -> str:
    """The caption with the cores of words i and j exchanged; edge punctuation and the initial capital stay put."""
    words = split_words(caption)
    cores = [core for _, core, _ in words]
    cores[i], cores[j] = cores[j], cores[i]
    first = words[0][1]
    if first[:1].isupper() and first[:1] != cores[0][:1]:  # the sentence-initial capital belongs to the slot
        for k in (i, j):
            if k != 0 and cores[k] == first and not _keeps_case(first):
                cores[k] = first[0].lower() + first[1:]
        cores[0] = cores[0][:1].upper() + cores[0][1:]
    return " ".join(lead + core + trail for (lead, _, trail), core in zip(words, cores))


def _keeps_case(word: str) -> bool:
    return word == "I" or (len(word) > 1 and word.isupper())


def word_swap_candidates(caption: str, max_pairs: int = 1000, seed: int = 0) -> list[tuple[int, int]]:
    """Improved candidates: unordered pairs (i < j) of word positions whose words differ (ignoring case)."""
    cores = [core.lower() for _, core, _ in split_words(caption)]
    pairs = [(i, j) for i, j in combinations(range(len(cores)), 2) if cores[i] and cores[j] and cores[i] != cores[j]]
    return sample_pairs(pairs, max_pairs, seed)


def pseudo_log_likelihoods(model, tokenizer, sentences: Sequence[str], batch_size: int = 1024) -> torch.Tensor:
    """PLL of each sentence: sum over non-special tokens of log P(token | sentence with that token masked)."""
    special = set(tokenizer.all_special_ids)
    sequences, positions, targets, owner = [], [], [], []
    for n, sentence in enumerate(sentences):
        ids = tokenizer(sentence)["input_ids"]
        for k, t in enumerate(ids):
            if t not in special:
                masked = list(ids)
                masked[k] = tokenizer.mask_token_id
                sequences.append(masked)
                positions.append(k)
                targets.append(t)
                owner.append(n)
    scores = masked_token_scores(model, sequences, positions, targets, tokenizer.pad_token_id,
                                 normalize=True, batch_size=batch_size)
    return torch.zeros(len(sentences)).index_add_(0, torch.tensor(owner, dtype=torch.long), scores)


def improved_swaps(model, tokenizer, captions: Sequence[str], seed: int = 0, max_pairs: int = 1000,
                   batch_size: int = 1024) -> list[Swap]:
    """Whole-word swaps chosen by highest pseudo-log-likelihood (module docstring), batched over captions."""
    candidates = [[swap_words(c, i, j) for i, j in word_swap_candidates(c, max_pairs, seed)] for c in captions]
    flat = [s for cands in candidates for s in cands]
    pll = pseudo_log_likelihoods(model, tokenizer, flat, batch_size) if flat else torch.empty(0)
    results, start = [], 0
    for cands in candidates:
        if not cands:
            results.append(Swap(None, "fewer than two different words to swap"))
            continue
        best = int(torch.argmax(pll[start:start + len(cands)]))  # first on ties
        results.append(Swap(cands[best]))
        start += len(cands)
    return results


# --- cache and entry point ---------------------------------------------------------------------------

class SwapCache(JsonCache):
    """T' per (caption, masked LM, dtype, search, seed, max_pairs), in a JSON file a person can read and edit.

    The masked LM is keyed by its fingerprint (its hub commit, or a digest of its folder's files), so
    replacing the weights in a folder searches again; its path is kept beside it for the reader. Hand
    edits of an entry's "swap" are used as they are.
    """

    ROOT, FLAG = "swaps", "--swap-cache"
    KEY = {"model": str, "dtype": str, "search": str, "seed": int, "max_pairs": int, "caption": str}
    VALUES = {"swap": (str, type(None)), "reason": (str, type(None))}

    def __init__(self, path: str | Path | None):
        super().__init__(path)
        self._fingerprints: dict[str, str] = {}

    def model_key(self, model) -> str:
        """The masked LM's fingerprint, computed once per cache."""
        name = model.name_or_path
        if name not in self._fingerprints:
            self._fingerprints[name] = checkpoint_fingerprint(name)
        return self._fingerprints[name]


def find_swaps(model, tokenizer, captions: Sequence[str], search: str, seed: int = 0, max_pairs: int = 1000,
               cache: SwapCache | None = None, batch_size: int = 1024) -> list[Swap]:
    """T' for every caption by `search` (one of SEARCHES), searching only captions not in the cache."""
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {SEARCHES}, got {search!r}")
    found: dict[str, Swap | None] = dict.fromkeys(captions)
    if cache:
        dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
        key = {c: (cache.model_key(model), dtype, search, seed, max_pairs, c) for c in captions}  # SwapCache.KEY
        for c, k in key.items():
            entry = cache.get(k)
            found[c] = None if entry is None else Swap(entry["swap"], entry["reason"])
    todo = sorted(c for c, swap in found.items() if swap is None)
    if todo:
        if search == IMPROVED:
            searched = improved_swaps(model, tokenizer, todo, seed, max_pairs, batch_size)
        else:
            gated = {"min_token_id": GATED_MIN_TOKEN_ID, "gate": True} if search == GATED else {}
            searched = published_swaps(model, tokenizer, todo, seed, max_pairs, batch_size, **gated)
        for caption, swap in zip(todo, searched):
            found[caption] = swap
            if cache:
                cache.put(key[caption], {"swap": swap.text, "reason": swap.reason}, model_path=model.name_or_path)
    return [found[c] for c in captions]
