"""SigLIP (`SiglipModel`): cosine similarity of the projected, normalized image and text embeddings.

SigLIP was trained on texts padded to the full text length (64 tokens) with no attention mask, and it
pools the last position, so texts are encoded exactly that way; the sigmoid's scale and bias are
left out, as they change no ranking.
"""

import torch
import torch.nn.functional as F

from scoring.batching import token_ids
from scoring.dual_encoder import DualEncoderScorer


class SiglipScorer(DualEncoderScorer):
    family = "siglip"
    display_name = "SigLIP"
    model_type = "siglip"
    architecture = "SiglipModel"

    def text_embeddings(self, texts):
        length = self.model.config.text_config.max_position_embeddings
        tokenizer = self.processor.tokenizer
        ids = [s + [tokenizer.pad_token_id] * (length - len(s)) for s in token_ids(tokenizer, texts, True, length)]
        out = self.model.get_text_features(input_ids=torch.tensor(ids, device=self.device))
        return F.normalize(out.pooler_output.float(), dim=-1)
