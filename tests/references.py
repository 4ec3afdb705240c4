"""One (text, image) pair through the plain transformers model, for every family and head: the scores the
package's batched scorers are checked against (tests/scoring/test_families.py, tests/test_experiment5.py).

Each reference calls the model's own forward with the tokenizer and image processor a user would call
(or on given pixel values, such as a null image of noise) and reads the score off its outputs, sharing
no code with scoring/. `REFERENCES[family](head)(scorer, image, text)` is a 0-d tensor.
"""

from __future__ import annotations

import torch


def _pixels(scorer, image):
    """Pixel values of a PIL image by the checkpoint's processor; a tensor (a null image of noise) as it is."""
    if isinstance(image, torch.Tensor):
        return image.unsqueeze(0) if image.dim() == 3 else image
    return scorer.processor.image_processor(images=image.convert("RGB"), return_tensors="pt").pixel_values


def _ids(tokenizer, text, **kwargs):
    return tokenizer(text, return_tensors="pt", **kwargs)


# --- references: one pair through the plain model ---------------------------------------------------------

def _read_head(head, out):
    """The score from a retrieval model's output for one pair: a similarity, or the two ITM logits."""
    if head == "contrastive":
        return out[0]
    return out[1] if head in ("itm", "itm_enc") else out.log_softmax(-1)[1]


def _blip_retrieval(head):
    def reference(s, image, text):
        inputs = _ids(s.processor.tokenizer, text)
        ids = inputs.input_ids.clone()
        if head in ("itm_enc_logprob", "itm_enc"):
            ids[0, 0] = s.model.config.text_config.bos_token_id + 1  # [ENC], right after [DEC] (30523 in BLIP)
        out = s.model(input_ids=ids, attention_mask=inputs.attention_mask, pixel_values=_pixels(s, image),
                      use_itm_head=head != "contrastive").itm_score[0]
        return _read_head(head, out)
    return reference


def _blip_captioning(head):
    def reference(s, image, text):
        tok, cfg = s.processor.tokenizer, s.model.config.text_config
        if head == "clm":  # the model's own loss, label smoothing 0.1, on [CLS] tokens ([SEP] dropped)
            ids = _ids(tok, text).input_ids[:, :-1]
            s.model.text_decoder.label_smoothing = 0.1
            try:
                return s.model(pixel_values=_pixels(s, image), input_ids=ids, labels=ids).loss
            finally:
                s.model.text_decoder.label_smoothing = 0.0
        ids = torch.tensor([[cfg.bos_token_id, *tok(text, add_special_tokens=False).input_ids, cfg.sep_token_id]])
        log_probs = s.model(pixel_values=_pixels(s, image), input_ids=ids).logits[0, :-1].log_softmax(-1)
        total = sum(log_probs[k, ids[0, k + 1]] for k in range(ids.shape[1] - 1))
        return total / (ids.shape[1] - 1) if head == "clm_exact_mean" else total
    return reference


def _blip2_retrieval(head):
    def reference(s, image, text):
        inputs = _ids(s.processor.tokenizer, text)
        out = s.model(pixel_values=_pixels(s, image), input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                      use_image_text_matching_head=head != "contrastive").logits_per_image[0]
        return _read_head(head, out)
    return reference


def _blip2_captioning(head):
    def reference(s, image, text):
        # The processor's layout: one image token per query, then the tokenizer's own ids.
        tok, cfg = s.processor.tokenizer, s.model.config
        image_tokens = [cfg.image_token_index] * cfg.num_query_tokens
        # VQAScore asks t2v_metrics' question and scores the answer "yes"; the other heads score the caption.
        question = f'Question: Does this figure show "{text}"? Please answer yes or no.'
        caption = tok("yes").input_ids if head == "vqa" else tok(text).input_ids
        if cfg.use_decoder_only_language_model:  # OPT: [queries] </s> (question) caption; score the caption
            context = tok(question).input_ids if head == "vqa" else tok("").input_ids
            ids = torch.tensor([image_tokens + context + caption[1:]])
            log_probs = s.model(pixel_values=_pixels(s, image), input_ids=ids).logits[0, :-1].log_softmax(-1)
            first = len(image_tokens) + len(context)
            scored = [log_probs[k - 1, ids[0, k]] for k in range(first, ids.shape[1])]
        else:  # T5: the encoder reads [queries] + the prompt's (or the question's) ids and </s>
            ids = torch.tensor([image_tokens + tok(question if head == "vqa" else "").input_ids])
            labels = torch.tensor([caption])
            log_probs = s.model(pixel_values=_pixels(s, image), input_ids=ids, labels=labels).logits[0].log_softmax(-1)
            scored = [log_probs[k, labels[0, k]] for k in range(labels.shape[1])]
        return sum(scored) / len(scored) if head == "clm_exact_mean" else sum(scored)
    return reference


def _dual_encoder(head):
    def reference(s, image, text):
        padding = {"padding": "max_length", "max_length": s.model.config.text_config.max_position_embeddings}
        inputs = _ids(s.processor.tokenizer, text, **(padding if s.family == "siglip" else {}))
        mask = {} if s.family == "siglip" else {"attention_mask": inputs.attention_mask}  # SigLIP trained unmasked
        out = s.model(input_ids=inputs.input_ids, pixel_values=_pixels(s, image), **mask)
        return (out.text_embeds @ out.image_embeds.t())[0, 0]
    return reference


def _vision_language(head):
    """The processor on the image and the whole prompt (the chat template's, or PaliGemma's own), the target's
    tokens (the answer; or the caption and the end token) appended, one forward of the plain model. A tensor
    image (noise) replaces the pixel values the processor gives a black 448 x 448 image."""
    def reference(s, image, text):
        from PIL import Image

        noise = image if isinstance(image, torch.Tensor) else None
        image = Image.new("RGB", (448, 448)) if noise is not None else image
        proc = s.processor
        tok = proc.tokenizer
        if head == "vqa":
            question, target = s.VQA_QUESTION.format(text), tok(s.VQA_ANSWER, add_special_tokens=False).input_ids
        else:
            question, target = s.CAPTION_PROMPT, tok(text, add_special_tokens=False).input_ids + [tok.eos_token_id]
        if s.family == "paligemma":  # the processor writes <image>... <bos>question\n itself
            inputs = proc(images=[image.convert("RGB")], text=[proc.image_token + question], return_tensors="pt")
            inputs.pop("labels", None)
        else:
            messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
            prompt = tok.apply_chat_template(messages, chat_template=proc.chat_template, add_generation_prompt=True,
                                             tokenize=False)
            inputs = proc(images=[image.convert("RGB")], text=[prompt], return_tensors="pt")
        if noise is not None:
            inputs["pixel_values"] = noise
        n = inputs["input_ids"].shape[1]
        # The target continues the prompt: text tokens (not image ones), which PaliGemma attends causally (1).
        more = {"input_ids": torch.tensor([target]), "attention_mask": 1, "token_type_ids": 1, "mm_token_type_ids": 0}
        for key, value in more.items():
            if key in inputs:
                extra = value if isinstance(value, torch.Tensor) else torch.full((1, len(target)), value)
                inputs[key] = torch.cat([inputs[key], extra.to(inputs[key].dtype)], dim=1)
        log_probs = s.model(**inputs).logits[0].float().log_softmax(-1)
        total = sum(log_probs[n - 1 + k, target[k]] for k in range(len(target)))
        return total / len(target) if head == "clm_exact_mean" else total
    return reference


def _instructblip(head):
    """The Q-Former reads the instruction (the caption prompt, or the question about T) and the language model the
    query outputs, the instruction and the caption (or the answer "yes"), as InstructBlipProcessor lays them out."""
    def reference(s, image, text):
        tok, cfg = s.processor.tokenizer, s.model.config
        instruction = (f'Question: Does this figure show "{text}"? Please answer yes or no.' if head == "vqa"
                       else "A short image description:")
        qformer = s.processor.qformer_tokenizer(instruction, return_tensors="pt")
        image_tokens = [cfg.image_token_index] * cfg.num_query_tokens
        target = tok("yes" if head == "vqa" else text).input_ids
        inputs = dict(pixel_values=_pixels(s, image), qformer_input_ids=qformer.input_ids,
                      qformer_attention_mask=qformer.attention_mask)
        if cfg.use_decoder_only_language_model:  # [queries] <s> instruction target; the tokenizer's <s> dropped
            context = image_tokens + tok(instruction).input_ids
            ids = torch.tensor([context + target[1:]])
            log_probs = s.model(input_ids=ids, **inputs).logits[0, :-1].log_softmax(-1)
            scored = [log_probs[k - 1, ids[0, k]] for k in range(len(context), ids.shape[1])]
        else:  # the encoder reads [queries] instruction </s>; the decoder scores target </s>
            ids = torch.tensor([image_tokens + tok(instruction).input_ids])
            labels = torch.tensor([target])
            log_probs = s.model(input_ids=ids, labels=labels, **inputs).logits[0].log_softmax(-1)
            scored = [log_probs[k, labels[0, k]] for k in range(labels.shape[1])]
        return sum(scored) / len(scored) if head == "clm_exact_mean" else sum(scored)
    return reference


REFERENCES = {"blip-retrieval": _blip_retrieval, "blip-captioning": _blip_captioning,
              "blip2-retrieval": _blip2_retrieval, "blip2-captioning": _blip2_captioning,
              "clip": _dual_encoder, "siglip": _dual_encoder, "llava": _vision_language,
              "llava-onevision": _vision_language, "qwen2.5-vl": _vision_language, "paligemma": _vision_language,
              "idefics3": _vision_language, "instructblip": _instructblip}
