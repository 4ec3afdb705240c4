"""BLIP's image-text scores (contrastive, ITM, captioning likelihood), batched, each image encoded once.

A full BLIP forward encodes the image again for every caption. Here the vision encoder runs once per
image (`encode_images`) and the text side runs on padded batches of (caption, image) pairs that index
into those image features, so experiment 1 costs two vision forwards per Winoground example instead
of twelve. Padding never changes a score: right padding with attention masks, and only real tokens
are counted.

Scores and their arithmetic (see SPEC sections 4 and 5):
- `contrastive_similarity`: cosine of the projected, normalized [CLS] features (`use_itm_head=False`).
- `itm_logits`: the two ITM logits; index 1 is "match". As published: the raw logit, with the
  processor's [CLS] first as transformers feeds it; `itm_log_prob` gives log P(match). With
  `first_token=enc_token_id(...)` the first token is [ENC], as BLIP computed ITM in training.
- `clm_published_loss`: what the published numbers used: ids `[CLS] tokens` ([SEP] dropped, [CLS] not
  replaced by the decoder's bos), mean next-token cross-entropy with label smoothing 0.1. Lower is better.
- `clm_log_likelihood`: log P(T|I) = sum of token log-probabilities of `[DEC] tokens [SEP]`, as BLIP
  was trained, optionally after an unscored prompt such as "a picture of ".

`BlipRetrievalScorer` and `BlipCaptioningScorer` put these behind the `scoring.Scorer` interface.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from PIL import Image

from scoring.base import Scorer, load_component, load_pretrained
from scoring.batching import right_pad, summed_log_probs, token_ids
from scoring.errors import InputError
from scoring.shared_kv import shared_cross_attention


def load_blip(model_cls, name_or_path: str, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
    """Load a BLIP model class and its processor from a hub id or local folder, in eval mode, no gradients.

    The processor uses the PIL image processor explicitly: transformers picks a torchvision one when
    torchvision is installed, and its resize differs slightly from the one the published numbers used.
    """
    from transformers import AutoTokenizer, BlipImageProcessorPil, BlipProcessor

    model = load_pretrained(model_cls, name_or_path, device, dtype)
    processor = BlipProcessor(
        image_processor=load_component(BlipImageProcessorPil.from_pretrained, name_or_path, "image processor"),
        tokenizer=load_component(AutoTokenizer.from_pretrained, name_or_path, "tokenizer"))
    return model, processor


def load_captioning_model(name_or_path: str, device="cpu", dtype=torch.float32):
    """BlipForConditionalGeneration (the causal-LM head) and its processor."""
    from transformers import BlipForConditionalGeneration
    return load_blip(BlipForConditionalGeneration, name_or_path, device, dtype)


def load_retrieval_model(name_or_path: str, device="cpu", dtype=torch.float32):
    """BlipForImageTextRetrieval (the contrastive and ITM heads) and its processor."""
    from transformers import BlipForImageTextRetrieval
    return load_blip(BlipForImageTextRetrieval, name_or_path, device, dtype)


def pixel_values(processor, images: Sequence[Image.Image], device="cpu", dtype=torch.float32) -> torch.Tensor:
    """Images converted to RGB and preprocessed (resize, rescale, normalize) by the BLIP processor."""
    rgb = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
    return processor.image_processor(images=rgb, return_tensors="pt").pixel_values.to(device=device, dtype=dtype)


@torch.no_grad()
def encode_images(model, pixels: torch.Tensor) -> torch.Tensor:
    """Vision-encoder features (n_images, patches + 1, width); works for either BLIP model class."""
    return model.vision_model(pixel_values=pixels).last_hidden_state


def enc_token_id(tokenizer, text_config) -> int:
    """The id of BLIP's [ENC] token, which BLIP put first in the ITM encoder's input instead of [CLS].

    BLIP's tokenizer is bert-base-uncased (30522 tokens) plus [DEC] (30522) and [ENC] (30523), and its
    text embedding has 30524 rows. transformers' conversion copied that embedding whole and made [DEC]
    the text config's `bos_token_id`; the hub tokenizers know [DEC] but not always [ENC]. So [ENC] is
    read from the tokenizer when it has it, else it is the row right after [DEC] when the embedding
    ends there, as in every converted BLIP checkpoint.
    """
    vocab = tokenizer.get_vocab()
    if "[ENC]" in vocab:
        return vocab["[ENC]"]
    bos = text_config.bos_token_id
    if bos is not None and text_config.vocab_size == bos + 2 and len(tokenizer) <= bos + 1:
        return bos + 1
    raise InputError(f"cannot find BLIP's [ENC] token: the tokenizer lacks it and the text embedding "
                     f"({text_config.vocab_size} rows, [DEC] = {bos}) does not end with it as converted BLIP "
                     f"checkpoints do; use the 'itm' head instead of 'itm_enc'")


@torch.no_grad()
def text_embeddings(model, tokenizer, texts: Sequence[str], max_length: int | None = None) -> torch.Tensor:
    """Normalized projected [CLS] features of the texts (n_texts, dim), from the unimodal text encoder."""
    device = next(model.parameters()).device
    ids, mask = right_pad(token_ids(tokenizer, texts, True, max_length), tokenizer.pad_token_id, device)
    text_cls = model.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0]
    return F.normalize(model.text_proj(text_cls), dim=-1)


def image_embeddings(model, image_embeds: torch.Tensor) -> torch.Tensor:
    """Normalized projected [CLS] features of the images (n_images, dim)."""
    return F.normalize(model.vision_proj(image_embeds[:, 0]), dim=-1)


@torch.no_grad()
def contrastive_similarity(model, tokenizer, image_embeds: torch.Tensor, texts: Sequence[str],
                           max_length: int | None = None) -> torch.Tensor:
    """Cosine similarity (n_texts, n_images) of projected [CLS] features; each text encoded once."""
    text = text_embeddings(model, tokenizer, texts, max_length)
    return (text @ image_embeddings(model, image_embeds).t()).float()


def _cross_attend(text_model, image_embeds, image_index, share_image_kv: bool) -> dict:
    """Keyword arguments that make a BLIP text model cross-attend pair p to image image_index[p].

    With share_image_kv, each image's keys and values are projected once per layer (scoring/shared_kv.py);
    the model still needs image states of the pairs' batch size, which a free expanded view provides.
    """
    if not share_image_kv:
        images = image_embeds[image_index]
        return {"encoder_hidden_states": images,
                "encoder_attention_mask": torch.ones(images.shape[:2], dtype=torch.long, device=images.device)}
    layers = [layer.crossattention.self for layer in text_model.encoder.layer]
    cache = shared_cross_attention([(a.key, a.value) for a in layers], image_embeds, image_index,
                                   layers[0].attention_head_size)
    return {"encoder_hidden_states": image_embeds[:1].expand(len(image_index), -1, -1), "past_key_values": cache}


@torch.no_grad()
def itm_logits(model, tokenizer, image_embeds: torch.Tensor, texts: Sequence[str], text_index: torch.Tensor,
               image_index: torch.Tensor, first_token: int | None = None, share_image_kv: bool = True,
               max_length: int | None = None) -> torch.Tensor:
    """The ITM head's two logits (no-match, match) for each pair (texts[text_index[p]], image image_index[p]).

    `first_token` replaces the processor's [CLS] in first place (BLIP's own ITM used [ENC]).
    """
    ids, mask = right_pad(token_ids(tokenizer, texts, True, max_length), tokenizer.pad_token_id, image_embeds.device)
    if first_token is not None:
        ids[:, 0] = first_token
    hidden = model.text_encoder(input_ids=ids[text_index], attention_mask=mask[text_index],
                                **_cross_attend(model.text_encoder, image_embeds, image_index, share_image_kv)
                                ).last_hidden_state
    return model.itm_head(hidden[:, 0]).float()


def itm_log_prob(logits: torch.Tensor) -> torch.Tensor:
    """log P(match) from the two ITM logits (exact variant); the published score is logits[:, 1]."""
    return logits.float().log_softmax(dim=-1)[:, 1]


def _decoder_logits(model, image_embeds, ids, mask, image_index, share_image_kv: bool = True) -> torch.Tensor:
    out = model.text_decoder(input_ids=ids, attention_mask=mask, use_cache=False,
                             **_cross_attend(model.text_decoder.bert, image_embeds, image_index, share_image_kv))
    return out.logits[:, :-1].float()  # position k predicts token k + 1


@torch.no_grad()
def clm_published_loss(model, tokenizer, image_embeds: torch.Tensor, texts: Sequence[str], text_index: torch.Tensor,
                       image_index: torch.Tensor, label_smoothing: float = 0.1, share_image_kv: bool = True
                       ) -> torch.Tensor:
    """The published captioning score: mean label-smoothed next-token cross-entropy, lower is better.

    Ids are the processor's `[CLS] tokens [SEP]` with [SEP] dropped and [CLS] kept in first place,
    and the smoothing is 0.1, as the transformers release behind the published numbers hard-coded it.
    """
    ids, mask = right_pad([s[:-1] for s in token_ids(tokenizer, texts, True)], tokenizer.pad_token_id,
                          image_embeds.device)
    ids, mask = ids[text_index], mask[text_index]
    logits = _decoder_logits(model, image_embeds, ids, mask, image_index, share_image_kv)
    targets, valid = ids[:, 1:], mask[:, 1:].float()
    lse = logits.logsumexp(dim=-1)
    nll = lse - logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    uniform = lse - logits.mean(dim=-1)  # cross-entropy against the uniform distribution
    per_token = (1.0 - label_smoothing) * nll + label_smoothing * uniform
    return (per_token * valid).sum(dim=1) / valid.sum(dim=1)


@torch.no_grad()
def clm_log_likelihood(model, tokenizer, image_embeds: torch.Tensor, texts: Sequence[str], text_index: torch.Tensor,
                       image_index: torch.Tensor, prompt: str = "", share_image_kv: bool = True) -> torch.Tensor:
    """log P(T|I): summed log-probabilities of the caption's tokens and the end token, after [DEC] + prompt."""
    config = model.config.text_config
    prompt_ids = token_ids(tokenizer, [prompt], False)[0] if prompt else []
    sequences = [[config.bos_token_id, *prompt_ids, *s, config.sep_token_id]
                 for s in token_ids(tokenizer, texts, False)]
    ids, mask = right_pad(sequences, config.pad_token_id, image_embeds.device)
    ids, mask = ids[text_index], mask[text_index]
    logits = _decoder_logits(model, image_embeds, ids, mask, image_index, share_image_kv)
    scored = mask[:, 1:].clone()
    scored[:, : len(prompt_ids)] = 0  # the prompt conditions the caption but is not scored
    return summed_log_probs(logits, ids[:, 1:], scored)


class _BlipScorer(Scorer):
    display_name = "BLIP"
    model_type = "blip"

    @classmethod
    def load(cls, name_or_path, head, device="cpu", dtype=torch.float32):
        import transformers

        model, processor = load_blip(getattr(transformers, cls.architecture), name_or_path, device, dtype)
        return cls(model, processor, head, name_or_path)

    def encode(self, pixels):
        return encode_images(self.model, self.on_device(pixels))


class BlipRetrievalScorer(_BlipScorer):
    """BlipForImageTextRetrieval: contrastive similarity and the ITM head ([CLS] or [ENC] first).

    `itm_enc_logit` is the raw match logit with [ENC] first, what BLIP's own retrieval evaluation adds to
    the contrastive similarity to re-rank.
    """
    family = "blip-retrieval"
    architecture = "BlipForImageTextRetrieval"
    HEADS = {"contrastive": True, "itm": True, "itm_logprob": True, "itm_enc": True, "itm_enc_logit": True}

    def text_embeddings(self, texts):
        return text_embeddings(self.model, self.processor.tokenizer, texts, self.max_text_length)

    def image_embeddings(self, features):
        return image_embeddings(self.model, features)

    def _itm_logits(self, features, texts, t, i, first_token=None):
        return itm_logits(self.model, self.processor.tokenizer, features, texts, t, i, first_token,
                          self.share_image_kv, self.max_text_length)

    def _itm(self, features, texts, t, i):
        return self._itm_logits(features, texts, t, i)[:, 1]

    def _itm_logprob(self, features, texts, t, i):
        return itm_log_prob(self._itm_logits(features, texts, t, i))

    def _score_heads(self, features, texts, t, i, heads):
        scores = {}
        if {"itm", "itm_logprob"} & set(heads):  # one ITM forward serves both
            logits = self._itm_logits(features, texts, t, i)
            scores = {"itm": logits[:, 1], "itm_logprob": itm_log_prob(logits)}
        if {"itm_enc", "itm_enc_logit"} & set(heads):  # likewise with [ENC] first
            logits = self._itm_enc_logits(features, texts, t, i)
            scores |= {"itm_enc_logit": logits[:, 1], "itm_enc": itm_log_prob(logits)}
        others = [h for h in heads if h not in scores]
        return {**scores, **super()._score_heads(features, texts, t, i, others)}

    def _itm_enc_logits(self, features, texts, t, i):
        return self._itm_logits(features, texts, t, i, enc_token_id(self.processor.tokenizer,
                                                                  self.model.config.text_config))

    def _itm_enc(self, features, texts, t, i):
        return itm_log_prob(self._itm_enc_logits(features, texts, t, i))

    def _itm_enc_logit(self, features, texts, t, i):
        return self._itm_enc_logits(features, texts, t, i)[:, 1]


class BlipCaptioningScorer(_BlipScorer):
    """BlipForConditionalGeneration: the published label-smoothed loss (`clm`) and log P(T|I) (`clm_exact`)."""
    family = "blip-captioning"
    architecture = "BlipForConditionalGeneration"
    HEADS = {"clm": False, "clm_exact": True}

    def _clm(self, features, texts, t, i):
        return clm_published_loss(self.model, self.processor.tokenizer, features, texts, t, i,
                                  share_image_kv=self.share_image_kv)

    def _clm_exact(self, features, texts, t, i):
        return clm_log_likelihood(self.model, self.processor.tokenizer, features, texts, t, i,
                                  share_image_kv=self.share_image_kv)
