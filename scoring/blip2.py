"""BLIP-2: the Q-Former's contrastive and ITM heads, and log P(T|I) from the captioning language model.

Each image goes through the vision encoder and the Q-Former's 32 learned queries once (`encode`); the
text side indexes into those features.
- `Blip2RetrievalScorer` (`Blip2ForImageTextRetrieval`): `contrastive` is the cosine similarity of the
  text's projected [CLS] feature with each query's projected feature, maximised over the queries, as
  transformers computes it; `itm` is the match logit of the ITM head averaged over the query outputs,
  with the text in the Q-Former beside the queries; `itm_logprob` is its log P(match).
- `Blip2CaptioningScorer` (`Blip2ForConditionalGeneration`): `clm_exact` = log P(T|I), the summed
  token log-probabilities of the caption and of the end token its tokenizer appends (T5's `</s>`; the
  OPT tokenizer appends none), conditioned on the projected query outputs and an optional prompt
  that is not scored. For a decoder-only LM (OPT) the input is `[queries] <bos> prompt caption`. For an
  encoder-decoder LM (Flan-T5) the encoder reads `[queries] prompt </s>` once per image and the
  decoder scores the caption. `clm_exact_mean` divides log P(T|I) by the number of scored tokens. `vqa` is
  VQAScore (Lin et al., ECCV 2024): log P("yes" and the end token | image, 'Question: Does this figure
  show "T"? Please answer yes or no.'), t2v_metrics' template for the BLIP-2 Flan-T5 family; the
  question enters the LM with the queries (the T5 encoder, or the OPT context), one pass per pair.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from scoring.base import LogLikelihoodHeads, Scorer
from scoring.batching import right_pad, summed_log_probs, token_ids
from scoring.shared_kv import placeholder_states, projections_shared_by_image, shared_cross_attention


class _Blip2Scorer(Scorer):
    display_name = "BLIP-2"
    model_type = "blip-2"

    def _vision(self, pixels) -> torch.Tensor:
        return self.model.vision_model(pixel_values=self.on_device(pixels)).last_hidden_state

    def _queries(self, vision: torch.Tensor, instructions: list[str] | None = None) -> torch.Tensor:
        """The Q-Former's query outputs over the image tokens (n, queries, width); InstructBLIP's Q-Former also reads
        each row's instruction beside the queries."""
        mask = torch.ones(vision.shape[:2], dtype=torch.long, device=vision.device)
        queries = self.model.query_tokens.expand(vision.shape[0], -1, -1)
        text = {}
        if instructions is not None:
            tokenizer = self.processor.qformer_tokenizer
            max_length = self.model.config.qformer_config.max_position_embeddings
            ids, text_mask = right_pad(token_ids(tokenizer, instructions, True, max_length),
                                       tokenizer.pad_token_id or 0, self.device)
            text = {"input_ids": ids, "attention_mask": torch.cat([text_mask.new_ones(queries.shape[:2]), text_mask],
                                                                  dim=1)}
        return self.model.qformer(query_embeds=queries, encoder_hidden_states=vision, encoder_attention_mask=mask,
                                  **text).last_hidden_state[:, :queries.shape[1]]


class Blip2RetrievalScorer(_Blip2Scorer):
    family = "blip2-retrieval"
    architecture = "Blip2ForImageTextRetrieval"
    HEADS = {"contrastive": True, "itm": True, "itm_logprob": True}

    def encode(self, pixels):
        """(vision-encoder tokens, normalized projected query features)."""
        with torch.no_grad():
            vision = self._vision(pixels)
            queries = self._queries(vision).to(self.model.vision_projection.weight.dtype)
            return vision, F.normalize(self.model.vision_projection(queries), dim=-1).float()

    def _text_ids(self, texts):
        tokenizer = self.processor.tokenizer
        max_length = self.max_text_length or self.model.config.qformer_config.max_position_embeddings
        return right_pad(token_ids(tokenizer, texts, True, max_length), tokenizer.pad_token_id, self.device)

    def text_embeddings(self, texts):
        ids, mask = self._text_ids(texts)
        hidden = self.model.qformer(query_embeds=self.model.embeddings(input_ids=ids), query_length=0,
                                    attention_mask=mask).last_hidden_state[:, 0]
        return F.normalize(self.model.text_projection(hidden.to(self.model.text_projection.weight.dtype)), dim=-1)

    def image_embeddings(self, features):
        return features[1]  # (n_images, n_queries, dim)

    def similarity(self, text_embeddings, image_embeddings):
        """The best of the image's query embeddings for each text, as transformers computes it."""
        return torch.einsum("iqd,td->tiq", image_embeddings.float(), text_embeddings.float()).amax(dim=-1)

    def _itm_logits(self, features, texts, t, i):
        ids, mask = self._text_ids(texts)
        queries = self.model.query_tokens.expand(len(t), -1, -1)
        n_queries = queries.shape[1]
        embeds = self.model.embeddings(input_ids=ids[t], query_embeds=queries)
        attention = torch.cat([torch.ones(len(t), n_queries, dtype=torch.long, device=self.device), mask[t]], dim=1)
        vision = features[0]
        if self.share_image_kv:  # the Q-Former's cross-attention keys and values once per image
            layers = [(k, layer.crossattention.attention) for k, layer in enumerate(self.model.qformer.encoder.layer)
                      if layer.has_cross_attention]
            names = [f"qformer.encoder.layer.{k}.crossattention.attention.{p}" for k, _ in layers
                     for p in ("key", "value")]
            shared = projections_shared_by_image([p for _, a in layers for p in (a.key, a.value)],
                                                 vision.to(layers[0][1].key.weight.dtype), i, names)
            vision = placeholder_states(vision, len(t))
        else:
            shared, vision = contextlib.nullcontext(), vision[i]
        with shared:
            hidden = self.model.qformer(query_embeds=embeds, query_length=n_queries, attention_mask=attention,
                                        encoder_hidden_states=vision,
                                        encoder_attention_mask=torch.ones(vision.shape[:2], dtype=torch.long,
                                                                          device=self.device)).last_hidden_state
        hidden = hidden[:, :n_queries].to(self.model.itm_head.weight.dtype)
        return self.model.itm_head(hidden).mean(dim=1).float()

    def _score_heads(self, features, texts, t, i, heads):
        scores = {}
        if {"itm", "itm_logprob"} & set(heads):  # one ITM forward serves both
            logits = self._itm_logits(features, texts, t, i)
            scores = {"itm": logits[:, 1], "itm_logprob": logits.log_softmax(dim=-1)[:, 1]}
        others = [h for h in heads if h not in scores]
        return {**scores, **super()._score_heads(features, texts, t, i, others)}

    def _itm(self, features, texts, t, i):
        return self._itm_logits(features, texts, t, i)[:, 1]

    def _itm_logprob(self, features, texts, t, i):
        return self._itm_logits(features, texts, t, i).log_softmax(dim=-1)[:, 1]


# VQAScore's question and answer for BLIP-2's Flan-T5 family, as t2v_metrics asks InstructBLIP-Flan-T5
# (t2v_metrics/models/vqascore_models/instructblip_model.py): lower-case "yes", which that model answers.
VQA_QUESTION = 'Question: Does this figure show "{}"? Please answer yes or no.'
VQA_ANSWER = "yes"


def special_affixes(tokenizer) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after a text's own tokens (OPT: [</s>], []; T5: [], [</s>])."""
    full = tokenizer("a")["input_ids"]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    for k in range(len(full) - len(plain) + 1):
        if full[k:k + len(plain)] == plain:
            return full[:k], full[k + len(plain):]
    return [], []


class Blip2CaptioningScorer(LogLikelihoodHeads, _Blip2Scorer):
    family = "blip2-captioning"
    architecture = "Blip2ForConditionalGeneration"
    HEADS = {"clm_exact": True, "clm_exact_mean": True, "vqa": True}
    LOG_LIKELIHOOD_HEADS = frozenset({"clm_exact", "vqa"})

    def __init__(self, model, processor, head, name_or_path="", prompt: str = ""):
        super().__init__(model, processor, head, name_or_path)
        self.prompt = prompt

    @property
    def decoder_only(self) -> bool:
        return bool(self.model.config.use_decoder_only_language_model)

    def encode(self, pixels):
        """Decoder-only LM: the projected query outputs. Encoder-decoder: (encoder states of the queries and the
        prompt, their mask, the projected query outputs)."""
        with torch.no_grad():
            vision = self._vision(pixels)
            queries = self._queries(vision).to(vision.dtype)
            prefix = self.model.language_projection(queries)
            return prefix if self.decoder_only else self._encoded_with_prompt(prefix)

    def _encoded_with_prompt(self, prefix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encoder-decoder LM: (encoder states of the projected queries and the prompt, their mask, the queries)."""
        tokenizer = self.processor.tokenizer
        prompt = token_ids(tokenizer, [self.prompt], True)[0]
        ids = torch.tensor([prompt], device=self.device).expand(len(prefix), -1)
        embeds = torch.cat([prefix, self.model.get_input_embeddings()(ids)], dim=1)
        mask = torch.ones(embeds.shape[:2], dtype=torch.long, device=self.device)
        encoder = self.model.language_model.get_encoder()
        return encoder(inputs_embeds=embeds, attention_mask=mask).last_hidden_state, mask, prefix

    def too_long(self, texts):
        """A decoder-only LM reads the queries, its start token, the prompt (or the question) and the caption (or
        the answer) in its positions."""
        if not self.decoder_only:  # T5's relative positions have no limit
            return []
        tokenizer = self.processor.tokenizer
        start, end = special_affixes(tokenizer)
        room = (self.model.config.text_config.max_position_embeddings - self.model.config.num_query_tokens
                - len(start) - len(end))
        if self.head == "vqa":
            questions = token_ids(tokenizer, [VQA_QUESTION.format(text) for text in texts], False)
            answer = token_ids(tokenizer, [VQA_ANSWER], False)[0]
            return [n for n, ids in enumerate(questions) if len(ids) + len(answer) > room]
        prompt = token_ids(tokenizer, [self.prompt], False)[0] if self.prompt else []
        return [n for n, ids in enumerate(token_ids(tokenizer, texts, False)) if len(ids) > room - len(prompt)]

    def _vqa(self, features, texts, t, i):
        """VQAScore: log P(answer | image, question about the text), t2v_metrics' template (VQA_QUESTION)."""
        tokenizer = self.processor.tokenizer
        start, end = special_affixes(tokenizer)
        answer = token_ids(tokenizer, [VQA_ANSWER], False)[0] + end
        questions = [VQA_QUESTION.format(text) for text in texts]
        if self.decoder_only:
            contexts = [start + q for q in token_ids(tokenizer, questions, False)]
            return self._decoder_log_likelihood(features, contexts, [answer] * len(texts), t, i)[0]
        # The encoder reads the queries and the question (as the processor tokenizes it), per pair.
        ids, mask = right_pad(token_ids(tokenizer, questions, True), tokenizer.pad_token_id, self.device)
        ids, mask = ids[t], mask[t]
        prefix = features[2][i]
        embeds = torch.cat([prefix, self.model.get_input_embeddings()(ids)], dim=1)
        attention = torch.cat([torch.ones(prefix.shape[:2], dtype=torch.long, device=self.device), mask], dim=1)
        labels = torch.tensor([answer], device=self.device).expand(len(t), -1)
        start_id = self.model.config.text_config.decoder_start_token_id
        decoder_ids = torch.cat([torch.full_like(labels[:, :1], start_id), labels[:, :-1]], dim=1)
        logits = self.model.language_model(inputs_embeds=embeds, attention_mask=attention,
                                           decoder_input_ids=decoder_ids, use_cache=False).logits
        return summed_log_probs(logits, labels, torch.ones_like(labels))

    def _log_likelihood(self, features, texts, t, i) -> tuple[torch.Tensor, torch.Tensor]:
        """log P(T|I) of each pair and the number of tokens it sums over."""
        tokenizer = self.processor.tokenizer
        start, end = special_affixes(tokenizer)
        captions = [s + end for s in token_ids(tokenizer, texts, False)]
        if not self.decoder_only:
            return self._encoder_decoder_log_likelihood(features, captions, t, i)
        prompt = token_ids(tokenizer, [self.prompt], False)[0] if self.prompt else []
        return self._decoder_log_likelihood(features, [start + prompt] * len(texts), captions, t, i)

    def _decoder_log_likelihood(self, prefix, contexts, targets, t, i) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder-only LM: log P(targets[t[p]] | image i[p], contexts[t[p]]) and the number of target tokens.

        The input is `[queries] context target`; the context conditions the target but is not scored.
        """
        tokenizer = self.processor.tokenizer
        ids, mask = right_pad([c + x for c, x in zip(contexts, targets)], tokenizer.pad_token_id, self.device)
        ids, mask = ids[t], mask[t]
        prefix = prefix[i]
        n_queries = prefix.shape[1]
        embeds = torch.cat([prefix, self.model.get_input_embeddings()(ids)], dim=1)
        attention = torch.cat([torch.ones(len(t), n_queries, dtype=torch.long, device=self.device), mask], dim=1)
        logits = self.model.language_model(inputs_embeds=embeds, attention_mask=attention).logits
        scored = mask.clone()
        n_context = torch.tensor([len(c) for c in contexts], device=self.device)[t]
        scored[torch.arange(ids.shape[1], device=self.device) < n_context[:, None]] = 0
        # Position n_queries - 1 + k predicts ids[k].
        return summed_log_probs(logits[:, n_queries - 1:-1], ids, scored), scored.sum(dim=1).float()

    def _encoder_decoder_log_likelihood(self, features, captions, t, i) -> tuple[torch.Tensor, torch.Tensor]:
        encoder_states, encoder_mask = features[:2]
        config = self.model.config.text_config
        labels, mask = right_pad(captions, config.pad_token_id, self.device)
        labels, mask = labels[t], mask[t]
        decoder_ids = torch.cat([torch.full_like(labels[:, :1], config.decoder_start_token_id), labels[:, :-1]], dim=1)
        language_model = self.model.language_model
        if self.share_image_kv:  # the decoder's cross-attention keys and values once per image
            blocks = [block.layer[1].EncDecAttention for block in language_model.decoder.block]
            names = [f"language_model.decoder.block.{k}.layer.1.EncDecAttention" for k in range(len(blocks))]
            shared = shared_cross_attention([(a.k, a.v) for a in blocks], encoder_states, i, config.d_kv, names)
        else:
            shared = contextlib.nullcontext()
        with shared as cache:
            if cache is None:
                inputs = {"encoder_outputs": (encoder_states[i],), "attention_mask": encoder_mask[i]}
            else:  # every image's encoder input has the same length: one image's mask, expanded, fits all
                inputs = {"encoder_outputs": (placeholder_states(encoder_states, len(i)),),
                          "attention_mask": encoder_mask[:1].expand(len(i), -1), "past_key_values": cache}
            out = language_model(decoder_input_ids=decoder_ids, decoder_attention_mask=mask, use_cache=False,
                                 **inputs)
        return summed_log_probs(out.logits, labels, mask), mask.sum(dim=1).float()
