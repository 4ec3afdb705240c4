"""BLIP's image-text scores (contrastive, ITM, captioning likelihood), batched, each image encoded once.

A full BLIP forward encodes the image again for every caption. Here the vision encoder runs once per
image (`encode_images`) and the text side runs on padded batches of (caption, image) pairs that index
into those image features, so experiment 1 costs two vision forwards per Winoground example instead
of twelve. Padding never changes a score: right padding with attention masks, and only real tokens
are counted.

Scores and their arithmetic (see SPEC sections 4 and 5):
- `contrastive_similarity`: cosine of the projected, normalized [CLS] features (`use_itm_head=False`).
- `itm_logits`: the two ITM logits; index 1 is "match". As published: the raw logit; exact: its
  log-softmax, `itm_log_prob`.
- `clm_published_loss`: what the published numbers used: ids `[CLS] tokens` ([SEP] dropped, [CLS] not
  replaced by the decoder's bos), mean next-token cross-entropy with label smoothing 0.1. Lower is better.
- `clm_log_likelihood`: log P(T|I) = sum of token log-probabilities of `[DEC] tokens [SEP]`, as BLIP
  was trained, optionally after an unscored prompt such as "a picture of ".
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from PIL import Image

from scoring.errors import InputError, first_line

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def load_blip(model_cls, name_or_path: str, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
    """Load a BLIP model class and its processor from a hub id or local folder, in eval mode, no gradients.

    The processor uses the PIL image processor explicitly: transformers picks a torchvision one when
    torchvision is installed, and its resize differs slightly from the one the published numbers used.
    """
    from transformers import AutoTokenizer, BlipImageProcessorPil, BlipProcessor

    try:
        model = model_cls.from_pretrained(name_or_path, dtype=dtype)
        processor = BlipProcessor(image_processor=BlipImageProcessorPil.from_pretrained(name_or_path),
                                  tokenizer=AutoTokenizer.from_pretrained(name_or_path))
    except OSError as e:
        raise InputError(f"cannot load {model_cls.__name__} from '{name_or_path}': pass a hub id or a folder "
                         f"saved with save_pretrained ({first_line(e)})") from None
    return model.to(device).eval().requires_grad_(False), processor


def load_captioning_model(name_or_path: str, device="cpu", dtype=torch.float32):
    """BlipForConditionalGeneration (the causal-LM head) and its processor."""
    from transformers import BlipForConditionalGeneration
    return load_blip(BlipForConditionalGeneration, name_or_path, device, dtype)


def load_retrieval_model(name_or_path: str, device="cpu", dtype=torch.float32):
    """BlipForImageTextRetrieval (the contrastive and ITM heads) and its processor."""
    from transformers import BlipForImageTextRetrieval
    return load_blip(BlipForImageTextRetrieval, name_or_path, device, dtype)


def pixel_values(processor, images: Sequence[Image.Image], device, dtype) -> torch.Tensor:
    """Images converted to RGB and preprocessed (resize, rescale, normalize) by the BLIP processor."""
    rgb = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
    return processor.image_processor(images=rgb, return_tensors="pt").pixel_values.to(device=device, dtype=dtype)


@torch.no_grad()
def encode_images(model, pixels: torch.Tensor) -> torch.Tensor:
    """Vision-encoder features (n_images, patches + 1, width); works for either BLIP model class."""
    return model.vision_model(pixel_values=pixels).last_hidden_state


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


def _token_ids(tokenizer, texts: Sequence[str], special_tokens: bool) -> list[list[int]]:
    return tokenizer(list(texts), add_special_tokens=special_tokens)["input_ids"]


@torch.no_grad()
def contrastive_similarity(model, tokenizer, image_embeds: torch.Tensor, texts: Sequence[str]) -> torch.Tensor:
    """Cosine similarity (n_texts, n_images) of projected [CLS] features; each text encoded once."""
    ids, mask = right_pad(_token_ids(tokenizer, texts, True), tokenizer.pad_token_id, image_embeds.device)
    text_cls = model.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state[:, 0]
    text_feat = F.normalize(model.text_proj(text_cls), dim=-1)
    image_feat = F.normalize(model.vision_proj(image_embeds[:, 0]), dim=-1)
    return (text_feat @ image_feat.t()).float()


@torch.no_grad()
def itm_logits(model, tokenizer, image_embeds: torch.Tensor, texts: Sequence[str], text_index: torch.Tensor,
               image_index: torch.Tensor) -> torch.Tensor:
    """The ITM head's two logits (no-match, match) for each pair (texts[text_index[p]], image image_index[p])."""
    ids, mask = right_pad(_token_ids(tokenizer, texts, True), tokenizer.pad_token_id, image_embeds.device)
    images = image_embeds[image_index]
    image_mask = torch.ones(images.shape[:2], dtype=torch.long, device=images.device)
    hidden = model.text_encoder(input_ids=ids[text_index], attention_mask=mask[text_index],
                                encoder_hidden_states=images, encoder_attention_mask=image_mask).last_hidden_state
    return model.itm_head(hidden[:, 0]).float()


def itm_log_prob(logits: torch.Tensor) -> torch.Tensor:
    """log P(match) from the two ITM logits (exact variant); the published score is logits[:, 1]."""
    return logits.float().log_softmax(dim=-1)[:, 1]


def _decoder_logits(model, image_embeds, ids, mask, image_index) -> torch.Tensor:
    images = image_embeds[image_index]
    image_mask = torch.ones(images.shape[:2], dtype=torch.long, device=images.device)
    out = model.text_decoder(input_ids=ids, attention_mask=mask, encoder_hidden_states=images,
                             encoder_attention_mask=image_mask, use_cache=False)
    return out.logits[:, :-1].float()  # position k predicts token k + 1


@torch.no_grad()
def clm_published_loss(model, tokenizer, image_embeds: torch.Tensor, texts: Sequence[str], text_index: torch.Tensor,
                       image_index: torch.Tensor, label_smoothing: float = 0.1) -> torch.Tensor:
    """The published captioning score: mean label-smoothed next-token cross-entropy, lower is better.

    Ids are the processor's `[CLS] tokens [SEP]` with [SEP] dropped and [CLS] kept in first place,
    and the smoothing is 0.1, as the transformers release behind the published numbers hard-coded it.
    """
    ids, mask = right_pad([s[:-1] for s in _token_ids(tokenizer, texts, True)], tokenizer.pad_token_id,
                     image_embeds.device)
    ids, mask = ids[text_index], mask[text_index]
    logits = _decoder_logits(model, image_embeds, ids, mask, image_index)
    targets, valid = ids[:, 1:], mask[:, 1:].float()
    lse = logits.logsumexp(dim=-1)
    nll = lse - logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    uniform = lse - logits.mean(dim=-1)  # cross-entropy against the uniform distribution
    per_token = (1.0 - label_smoothing) * nll + label_smoothing * uniform
    return (per_token * valid).sum(dim=1) / valid.sum(dim=1)


@torch.no_grad()
def clm_log_likelihood(model, tokenizer, image_embeds: torch.Tensor, texts: Sequence[str], text_index: torch.Tensor,
                       image_index: torch.Tensor, prompt: str = "") -> torch.Tensor:
    """log P(T|I): summed log-probabilities of the caption's tokens and the end token, after [DEC] + prompt."""
    config = model.config.text_config
    prompt_ids = _token_ids(tokenizer, [prompt], False)[0] if prompt else []
    sequences = [[config.bos_token_id, *prompt_ids, *s, config.sep_token_id]
                 for s in _token_ids(tokenizer, texts, False)]
    ids, mask = right_pad(sequences, config.pad_token_id, image_embeds.device)
    ids, mask = ids[text_index], mask[text_index]
    logits = _decoder_logits(model, image_embeds, ids, mask, image_index)
    token_log_probs = logits.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1) - logits.logsumexp(dim=-1)
    scored = mask[:, 1:].clone()
    scored[:, : len(prompt_ids)] = 0  # the prompt conditions the caption but is not scored
    return (token_log_probs * scored).sum(dim=1)
