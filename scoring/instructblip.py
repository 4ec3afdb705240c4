"""InstructBLIP: BLIP-2 whose Q-Former also reads the instruction, so the image's query outputs depend on the prompt.

The language models and their arithmetic are BLIP-2's (scoring/blip2.py): Vicuna (decoder-only) reads
`[queries] <s> instruction caption`; Flan-T5 encodes `[queries] instruction </s>` and its decoder scores the
caption. Both heads give the Q-Former the same text as the language model, as InstructBLIP was trained:
- `clm_exact`: log P(T | image, `CAPTION_PROMPT`), InstructBLIP's own instruction for short captions. The
  instruction is the same for every caption, so each image's query outputs (and, for Flan-T5, its encoder
  states, whose cross-attention keys and values the decoder shares per image) are computed once in `encode`.
- `vqa`: VQAScore with t2v_metrics' question and answer for InstructBLIP (`VQA_QUESTION`, `VQA_ANSWER`, as
  BLIP-2's). The question holds T, so the Q-Former runs once per pair over the image's vision-encoder
  states, which are computed once per image.
"""

from __future__ import annotations

import torch

from scoring.base import Processor, load_component, load_pretrained, pil_image_processor
from scoring.blip2 import VQA_QUESTION, Blip2CaptioningScorer


class InstructBlipScorer(Blip2CaptioningScorer):
    family = "instructblip"
    display_name = "InstructBLIP"
    model_type = "instructblip"
    architecture = "InstructBlipForConditionalGeneration"
    # InstructBLIP's instruction template for short image descriptions (Dai et al., 2023, appendix).
    CAPTION_PROMPT = "A short image description:"

    def __init__(self, model, processor, head, name_or_path="", prompt: str = CAPTION_PROMPT):
        super().__init__(model, processor, head, name_or_path, prompt)

    @classmethod
    def load(cls, name_or_path, head, device="cpu", dtype=torch.float32):
        import transformers

        model = load_pretrained(transformers.InstructBlipForConditionalGeneration, name_or_path, device, dtype)
        tokenizer = load_component(transformers.AutoTokenizer.from_pretrained, name_or_path, "tokenizer")
        qformer = load_component(lambda p: transformers.AutoTokenizer.from_pretrained(p, subfolder="qformer_tokenizer"),
                                 name_or_path, "Q-Former tokenizer (qformer_tokenizer/)")
        return cls(model, Processor(pil_image_processor(name_or_path), tokenizer, qformer), head, name_or_path)

    def _instructed(self, vision: torch.Tensor, instructions: list[str]) -> torch.Tensor:
        """The projected query outputs of each row of vision-encoder states, the Q-Former reading its instruction."""
        return self.model.language_projection(self._queries(vision, instructions).to(vision.dtype))

    def encode(self, pixels):
        """BLIP-2's features with the caption instruction in the Q-Former, and the vision-encoder states last."""
        with torch.no_grad():
            vision = self._vision(pixels)
            prefix = self._instructed(vision, [self.prompt] * len(vision))
            return (prefix, vision) if self.decoder_only else (*self._encoded_with_prompt(prefix), vision)

    def _log_likelihood(self, features, texts, t, i):
        return super()._log_likelihood(features[0] if self.decoder_only else features[:3], texts, t, i)

    def _vqa(self, features, texts, t, i):
        """The Q-Former reads each pair's question over its image's states; then BLIP-2's VQAScore per pair."""
        prefix = self._instructed(features[-1][i], [VQA_QUESTION.format(texts[k]) for k in t.tolist()])
        pairs = torch.arange(len(t), device=self.device)
        return super()._vqa(prefix if self.decoder_only else (None, None, prefix), texts, t, pairs)
