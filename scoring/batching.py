"""Model-agnostic helpers for scoring (text, image) pairs in batches: padding, pair grids, dtypes.

Scorers take a list of texts, image features, and two index vectors: pair p is (texts[text_index[p]],
image image_index[p]). `grid_pairs` and `grid_texts` lay out the pairs of Winoground-style examples.
"""

from __future__ import annotations

from typing import Sequence

import torch

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def grid_pairs(n_examples: int, texts_per_example: int, images_per_example: int = 2,
               device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Indices pairing every text of an example with every image of the same example.

    Texts are laid out example-major (text j of example n is n * texts_per_example + j), images likewise.
    A score vector over the pairs reshapes to (n_examples, texts_per_example, images_per_example).
    """
    n = torch.arange(n_examples, device=device).view(-1, 1, 1)
    t = torch.arange(texts_per_example, device=device).view(1, -1, 1)
    i = torch.arange(images_per_example, device=device).view(1, 1, -1)
    text_index = (n * texts_per_example + t).expand(-1, -1, images_per_example).reshape(-1)
    image_index = (n * images_per_example + i).expand(-1, texts_per_example, -1).reshape(-1)
    return text_index, image_index


def all_pairs(n_texts: int, n_images: int, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Every (text, image) pair, text-major: a score vector reshapes to (n_texts, n_images)."""
    text_index = torch.arange(n_texts, device=device).repeat_interleave(n_images)
    image_index = torch.arange(n_images, device=device).repeat(n_texts)
    return text_index, image_index


def grid_texts(*text_lists: Sequence[str], per_example: int = 2) -> list[str]:
    """Interleave per-example texts for `grid_pairs`: example n gets lists[0][2n:2n+2], lists[1][2n:2n+2], ...

    E.g. grid_texts(captions, swapped) lays out caption_0, caption_1, T'_0, T'_1 for each example.
    """
    n_examples = len(text_lists[0]) // per_example
    return [text for n in range(n_examples) for texts in text_lists
            for text in texts[n * per_example:(n + 1) * per_example]]


def right_pad(sequences: Sequence[Sequence[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id lists into (ids, attention_mask)."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, s in enumerate(sequences):
        ids[row, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[row, : len(s)] = 1
    return ids.to(device), mask.to(device)


def token_ids(tokenizer, texts: Sequence[str], special_tokens: bool, max_length: int | None = None) -> list[list[int]]:
    """Token ids per text, truncated to max_length if given (no padding: `right_pad` does that per batch)."""
    truncate = {"truncation": True, "max_length": max_length} if max_length else {}
    return tokenizer(list(texts), add_special_tokens=special_tokens, **truncate)["input_ids"]


def summed_log_probs(logits: torch.Tensor, targets: torch.Tensor, scored: torch.Tensor) -> torch.Tensor:
    """Sum over positions of log softmax(logits)[target] where `scored` is 1; logits (n, len, vocab)."""
    logits = logits.float()
    token_log_probs = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - logits.logsumexp(dim=-1)
    return (token_log_probs * scored).sum(dim=1)
