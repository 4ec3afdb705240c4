"""BLIP's image-text scores (contrastive, ITM, captioning likelihood), batched, each image encoded once.

A full BLIP forward encodes the image again for every caption. Here the vision encoder runs once per
image (`encode`) and the text side runs on padded batches of (caption, image) pairs that index into
those image features, so experiment 1 costs two vision forwards per Winoground example instead of
twelve. Padding never changes a score: right padding with attention masks, and only real tokens are
counted. Each image's cross-attention keys and values are projected once and shared by its pairs
(scoring/shared_kv.py).

Heads and their arithmetic:
- `contrastive` (BlipRetrievalScorer): cosine of the projected, normalized [CLS] features, what the model
  computes with `use_itm_head=False`.
- `itm`: the raw "match" logit (index 1) of the ITM head, with the processor's [CLS] first as transformers
  feeds it, as the published numbers used it; `itm_logprob`: log P(match), the log-softmax of the two
  logits. `itm_enc` and `itm_enc_logprob`: the same with BLIP's [ENC] token first, as BLIP computed ITM in
  training and in its retrieval evaluation.
- `clm` (BlipCaptioningScorer): the published captioning score: ids `[CLS] tokens` ([SEP] dropped, [CLS]
  not replaced by the decoder's bos [DEC]), mean next-token cross-entropy with label smoothing 0.1 (the
  transformers release behind the published numbers hard-coded it). Lower is better.
- `clm_exact`: log P(T|I) = sum of token log-probabilities of `[DEC] tokens [SEP]`, as BLIP was trained,
  optionally after an unscored prompt such as "a picture of " (`scorer.prompt`); `clm_exact_mean`: the
  same divided by the number of scored tokens (the write-up's length-normalized variant).
"""

from __future__ import annotations

import contextlib
from typing import Sequence

import torch
import torch.nn.functional as F

from common.errors import InputError
from scoring.base import LogLikelihoodHeads, Scorer, load_component, load_pretrained
from scoring.batching import right_pad, summed_log_probs, token_ids
from scoring.shared_kv import placeholder_states, shared_cross_attention


class _BlipScorer(Scorer):
    display_name = "BLIP"
    model_type = "blip"

    @classmethod
    def load(cls, name_or_path, head, device="cpu", dtype=torch.float32):
        """The model and a BlipProcessor whose image processor is the PIL one, explicitly.

        transformers picks a torchvision image processor when torchvision is installed, and its resize
        differs slightly from the one the published numbers used.
        """
        import transformers
        from transformers import AutoTokenizer, BlipImageProcessorPil, BlipProcessor

        model = load_pretrained(getattr(transformers, cls.architecture), name_or_path, device, dtype)
        processor = BlipProcessor(
            image_processor=load_component(BlipImageProcessorPil.from_pretrained, name_or_path, "image processor"),
            tokenizer=load_component(AutoTokenizer.from_pretrained, name_or_path, "tokenizer"))
        return cls(model, processor, head, name_or_path)

    def encode(self, pixels):
        """Vision-encoder features (n_images, patches + 1, width)."""
        with torch.no_grad():
            return self.model.vision_model(pixel_values=self.on_device(pixels)).last_hidden_state

    @contextlib.contextmanager
    def _cross_attend(self, text_model, name: str, image_embeds, image_index):
        """Keyword arguments that make a BLIP text model cross-attend pair p to image image_index[p].

        With share_image_kv, each image's keys and values are projected once per layer and the model gets
        NaN placeholder image states (scoring/shared_kv.py); leaving the block checks that every layer
        read the shared keys and values.
        """
        if not self.share_image_kv:
            images = image_embeds[image_index]
            yield {"encoder_hidden_states": images,
                   "encoder_attention_mask": torch.ones(images.shape[:2], dtype=torch.long, device=images.device)}
            return
        layers = [layer.crossattention.self for layer in text_model.encoder.layer]
        names = [f"{name}.encoder.layer.{k}.crossattention" for k in range(len(layers))]
        with shared_cross_attention([(a.key, a.value) for a in layers], image_embeds, image_index,
                                    layers[0].attention_head_size, names) as cache:
            yield {"encoder_hidden_states": placeholder_states(image_embeds, len(image_index)),
                   "past_key_values": cache}


    def too_long(self, texts):
        """BLIP reads at most max_position_embeddings tokens: [CLS] or [DEC], the text, [SEP]."""
        if self.max_text_length:  # truncated, as BLIP's retrieval protocol does
            return []
        limit = self.model.config.text_config.max_position_embeddings - 2 - len(self._prompt_ids())
        return [n for n, ids in enumerate(token_ids(self.processor.tokenizer, texts, False)) if len(ids) > limit]

    def _prompt_ids(self) -> list[int]:
        return []


class BlipRetrievalScorer(_BlipScorer):
    """BlipForImageTextRetrieval: contrastive similarity and the ITM head ([CLS] or [ENC] first)."""
    family = "blip-retrieval"
    architecture = "BlipForImageTextRetrieval"
    HEADS = {"contrastive": True, "itm": True, "itm_logprob": True, "itm_enc": True, "itm_enc_logprob": True}
    retrieval_text_length = 35  # BLIP's retrieval protocol tokenizes captions with max_length=35

    def text_embeddings(self, texts: Sequence[str]) -> torch.Tensor:
        """Normalized projected [CLS] features of the texts (n_texts, dim), from the unimodal text encoder."""
        tokenizer = self.processor.tokenizer
        ids, mask = right_pad(token_ids(tokenizer, texts, True, self.max_text_length), tokenizer.pad_token_id,
                              self.device)
        with torch.no_grad():
            text_cls = self.model.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0]
            return F.normalize(self.model.text_proj(text_cls), dim=-1)

    def image_embeddings(self, features) -> torch.Tensor:
        """Normalized projected [CLS] features of the images (n_images, dim)."""
        return F.normalize(self.model.vision_proj(features[:, 0]), dim=-1)

    def itm_logits(self, features, texts: Sequence[str], t: torch.Tensor, i: torch.Tensor,
                   first_token: int | None = None) -> torch.Tensor:
        """The ITM head's two logits (no-match, match) of each pair (texts[t[p]], image i[p]).

        `first_token` replaces the processor's [CLS] in first place (BLIP's own ITM used [ENC]).
        """
        tokenizer = self.processor.tokenizer
        ids, mask = right_pad(token_ids(tokenizer, texts, True, self.max_text_length), tokenizer.pad_token_id,
                              features.device)
        if first_token is not None:
            ids[:, 0] = first_token
        encoder = self.model.text_encoder
        with self._cross_attend(encoder, "text_encoder", features, i) as image:
            hidden = encoder(input_ids=ids[t], attention_mask=mask[t], **image).last_hidden_state
        return self.model.itm_head(hidden[:, 0]).float()

    def enc_token_id(self) -> int:
        """The id of BLIP's [ENC] token, which BLIP put first in the ITM encoder's input instead of [CLS].

        BLIP's tokenizer is bert-base-uncased (30522 tokens) plus [DEC] (30522) and [ENC] (30523), and its
        text embedding has 30524 rows. transformers' conversion copied that embedding whole and made [DEC]
        the text config's `bos_token_id`; the hub tokenizers know [DEC] but not always [ENC]. So [ENC] is
        read from the tokenizer when it has it, else it is the row right after [DEC] when the embedding
        ends there, as in every converted BLIP checkpoint.
        """
        tokenizer, config = self.processor.tokenizer, self.model.config.text_config
        vocab = tokenizer.get_vocab()
        if "[ENC]" in vocab:
            return vocab["[ENC]"]
        bos = config.bos_token_id
        if bos is not None and config.vocab_size == bos + 2 and len(tokenizer) <= bos + 1:
            return bos + 1
        raise InputError(f"cannot find BLIP's [ENC] token: the tokenizer lacks it and the text embedding "
                         f"({config.vocab_size} rows, [DEC] = {bos}) does not end with it as converted BLIP "
                         f"checkpoints do; use the 'itm' and 'itm_logprob' heads instead of 'itm_enc' and 'itm_enc_logprob'")

    def _score_heads(self, features, texts, t, i, heads):
        scores = {}
        if {"itm", "itm_logprob"} & set(heads):  # one ITM forward serves both
            logits = self.itm_logits(features, texts, t, i)
            scores = {"itm": logits[:, 1], "itm_logprob": _log_p_match(logits)}
        if {"itm_enc", "itm_enc_logprob"} & set(heads):  # likewise with [ENC] first
            logits = self.itm_logits(features, texts, t, i, self.enc_token_id())
            scores |= {"itm_enc": logits[:, 1], "itm_enc_logprob": _log_p_match(logits)}
        others = [h for h in heads if h not in scores]
        return {**scores, **super()._score_heads(features, texts, t, i, others)}

    def _itm(self, features, texts, t, i):
        return self.itm_logits(features, texts, t, i)[:, 1]

    def _itm_logprob(self, features, texts, t, i):
        return _log_p_match(self.itm_logits(features, texts, t, i))

    def _itm_enc_logprob(self, features, texts, t, i):
        return _log_p_match(self.itm_logits(features, texts, t, i, self.enc_token_id()))

    def _itm_enc(self, features, texts, t, i):
        return self.itm_logits(features, texts, t, i, self.enc_token_id())[:, 1]


def _log_p_match(logits: torch.Tensor) -> torch.Tensor:
    """log P(match) from the two ITM logits; the published score is logits[:, 1]."""
    return logits.float().log_softmax(dim=-1)[:, 1]


class BlipCaptioningScorer(LogLikelihoodHeads, _BlipScorer):
    """BlipForConditionalGeneration: the published label-smoothed loss (`clm`) and log P(T|I) (`clm_exact`)."""
    family = "blip-captioning"
    architecture = "BlipForConditionalGeneration"
    HEADS = {"clm": False, "clm_exact": True, "clm_exact_mean": True}
    LOG_LIKELIHOOD_HEADS = frozenset({"clm_exact"})

    def __init__(self, model, processor, head, name_or_path="", prompt: str = ""):
        super().__init__(model, processor, head, name_or_path)
        self.prompt = prompt  # conditions the caption in `clm_exact` but is not scored

    def _decoder_logits(self, features, ids, mask, image_index) -> torch.Tensor:
        decoder = self.model.text_decoder
        with self._cross_attend(decoder.bert, "text_decoder.bert", features, image_index) as image:
            out = decoder(input_ids=ids, attention_mask=mask, use_cache=False, **image)
        return out.logits[:, :-1].float()  # position k predicts token k + 1

    def _clm(self, features, texts, t, i, label_smoothing: float = 0.1):
        tokenizer = self.processor.tokenizer
        ids, mask = right_pad([s[:-1] for s in token_ids(tokenizer, texts, True)], tokenizer.pad_token_id,
                              features.device)
        ids, mask = ids[t], mask[t]
        logits = self._decoder_logits(features, ids, mask, i)
        targets, valid = ids[:, 1:], mask[:, 1:].float()
        lse = logits.logsumexp(dim=-1)
        nll = lse - logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        uniform = lse - logits.mean(dim=-1)  # cross-entropy against the uniform distribution
        per_token = (1.0 - label_smoothing) * nll + label_smoothing * uniform
        return (per_token * valid).sum(dim=1) / valid.sum(dim=1)

    def _prompt_ids(self) -> list[int]:
        return token_ids(self.processor.tokenizer, [self.prompt], False)[0] if self.prompt else []

    def _log_likelihood(self, features, texts, t, i) -> tuple[torch.Tensor, torch.Tensor]:
        """log P(T|I) of each pair and the number of tokens it sums over."""
        tokenizer, config = self.processor.tokenizer, self.model.config.text_config
        prompt_ids = self._prompt_ids()
        sequences = [[config.bos_token_id, *prompt_ids, *s, config.sep_token_id]
                     for s in token_ids(tokenizer, texts, False)]
        ids, mask = right_pad(sequences, config.pad_token_id, features.device)
        ids, mask = ids[t], mask[t]
        logits = self._decoder_logits(features, ids, mask, i)
        scored = mask[:, 1:].clone()
        scored[:, : len(prompt_ids)] = 0  # the prompt conditions the caption but is not scored
        return summed_log_probs(logits, ids[:, 1:], scored), scored.sum(dim=1).float()
