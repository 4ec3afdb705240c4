"""Shared arithmetic of two-tower (dual-encoder) models such as CLIP and SigLIP: contrastive scores only.

An image is encoded once to its normalized projected embedding; a text likewise; a pair's score is the
cosine similarity, the dot product of the two. The whole (texts x images) matrix is one matrix product.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from scoring.base import Scorer
from scoring.batching import right_pad, token_ids


class DualEncoderScorer(Scorer):
    HEADS = {"contrastive": True}

    def encode(self, pixels):
        with torch.no_grad():
            out = self.model.get_image_features(pixel_values=self.on_device(pixels))
        return F.normalize(out.pooler_output.float(), dim=-1)

    def image_embeddings(self, features):
        return features

    def text_embeddings(self, texts) -> torch.Tensor:
        """Normalized projected text embeddings (n_texts, dim), float32."""
        max_length = self.max_text_length or self.model.config.text_config.max_position_embeddings
        ids, mask = right_pad(token_ids(self.processor.tokenizer, texts, True, max_length),
                              self.processor.tokenizer.pad_token_id, self.device)
        out = self.model.get_text_features(input_ids=ids, attention_mask=mask)
        return F.normalize(out.pooler_output.float(), dim=-1)
