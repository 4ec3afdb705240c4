"""BLIP heads: every batched score against an independent one-pair-at-a-time transformers forward."""

from __future__ import annotations

import pytest
import torch

from scoring import blip
from scoring.batching import grid_pairs
from evaluation.winoground import load_winoground

TOL = dict(rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def retrieval(blip_paths):
    return blip.load_retrieval_model(str(blip_paths["itm"]))


@pytest.fixture(scope="module")
def captioning(blip_paths):
    return blip.load_captioning_model(str(blip_paths["clm"]))


@pytest.fixture(scope="module")
def examples(winoground_dir):
    ds = load_winoground(str(winoground_dir), limit=4)
    images = [ex[k] for ex in ds for k in ("image_0", "image_1")]
    texts = [ex[k] for ex in ds for k in ("caption_0", "caption_1")]
    return images, texts


def _single(processor, image, text):
    """The plain processor call a user would write for one pair."""
    return processor(images=image, text=text, return_tensors="pt")


def test_grid_pairs_layout():
    t, i = grid_pairs(2, 3)
    pairs = list(zip(t.tolist(), i.tolist()))
    assert pairs[:6] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert pairs[6:8] == [(3, 2), (3, 3)]
    assert len(pairs) == 12


def test_contrastive_and_itm_match_per_pair_forward(retrieval, examples):
    model, processor = retrieval
    images, texts = examples
    embeds = blip.encode_images(model, blip.pixel_values(processor, images, "cpu", torch.float32))
    text_index, image_index = grid_pairs(len(texts) // 2, 2)
    sim = blip.contrastive_similarity(model, processor.tokenizer, embeds, texts)
    logits = blip.itm_logits(model, processor.tokenizer, embeds, texts, text_index, image_index)
    spread = []
    for p, (t, i) in enumerate(zip(text_index.tolist(), image_index.tolist())):
        inputs = _single(processor, images[i], texts[t])
        with torch.no_grad():
            ref_sim = model(input_ids=inputs.input_ids, pixel_values=inputs.pixel_values,
                            attention_mask=inputs.attention_mask, use_itm_head=False).itm_score[0, 0]
            ref_itm = model(input_ids=inputs.input_ids, pixel_values=inputs.pixel_values,
                            attention_mask=inputs.attention_mask).itm_score[0]
        torch.testing.assert_close(sim[t, i], ref_sim, **TOL)
        torch.testing.assert_close(logits[p], ref_itm, **TOL)
        torch.testing.assert_close(blip.itm_log_prob(logits[p:p + 1])[0], ref_itm.log_softmax(-1)[1], **TOL)
        spread.append(ref_itm[1].item())
    assert max(spread) - min(spread) > 1e-3  # the tiny model really tells pairs apart


def test_published_clm_loss_is_the_models_own_label_smoothed_loss(captioning, examples):
    model, processor = captioning
    images, texts = examples
    embeds = blip.encode_images(model, blip.pixel_values(processor, images, "cpu", torch.float32))
    text_index, image_index = grid_pairs(len(texts) // 2, 2)
    loss = blip.clm_published_loss(model, processor.tokenizer, embeds, texts, text_index, image_index)
    assert model.text_decoder.label_smoothing == 0.0  # current transformers default; the test sets 0.1
    for p, (t, i) in enumerate(zip(text_index.tolist(), image_index.tolist())):
        inputs = _single(processor, images[i], texts[t])
        ids = inputs.input_ids[:, :-1]  # [CLS] tokens, [SEP] dropped
        assert ids[0, 0].item() == processor.tokenizer.cls_token_id
        with torch.no_grad():
            model.text_decoder.label_smoothing = 0.1
            smoothed = model(pixel_values=inputs.pixel_values, input_ids=ids, labels=ids).loss
            model.text_decoder.label_smoothing = 0.0
            plain = model(pixel_values=inputs.pixel_values, input_ids=ids, labels=ids).loss
        torch.testing.assert_close(loss[p], smoothed, **TOL)
        assert abs(loss[p].item() - plain.item()) > 1e-4  # 10x the tolerance: smoothing is visible


@pytest.mark.parametrize("prompt", ["", "a picture of "])
def test_exact_clm_is_summed_log_softmax(captioning, examples, prompt):
    model, processor = captioning
    images, texts = examples
    tok, cfg = processor.tokenizer, model.config.text_config
    embeds = blip.encode_images(model, blip.pixel_values(processor, images, "cpu", torch.float32))
    text_index, image_index = grid_pairs(len(texts) // 2, 2)
    ll = blip.clm_log_likelihood(model, tok, embeds, texts, text_index, image_index, prompt=prompt)
    n_prompt = len(tok(prompt, add_special_tokens=False).input_ids) if prompt else 0
    for p, (t, i) in enumerate(zip(text_index.tolist(), image_index.tolist())):
        caption_ids = tok(texts[t], add_special_tokens=False).input_ids
        prompt_ids = tok(prompt, add_special_tokens=False).input_ids if prompt else []
        ids = torch.tensor([[cfg.bos_token_id, *prompt_ids, *caption_ids, cfg.sep_token_id]])
        with torch.no_grad():
            logits = model(pixel_values=_single(processor, images[i], texts[t]).pixel_values, input_ids=ids).logits
        log_probs = logits[0, :-1].log_softmax(-1)
        expected = sum(log_probs[k, ids[0, k + 1]] for k in range(n_prompt, ids.shape[1] - 1))
        torch.testing.assert_close(ll[p], expected, **TOL)


def test_padding_never_changes_a_score(retrieval, captioning, examples):
    images, texts = examples
    short = texts[0]
    long = "the person with the hat is taller and the sky is blue and the grass is green and a cat on a mat"
    for model, processor in (retrieval, captioning):
        tok = processor.tokenizer
        embeds = blip.encode_images(model, blip.pixel_values(processor, images[:1], "cpu", torch.float32))
        zero = torch.tensor([0])
        both_t, both_i = torch.tensor([0, 1]), torch.tensor([0, 0])
        if hasattr(model, "itm_head"):
            alone = blip.itm_logits(model, tok, embeds, [short], zero, zero)[0]
            padded = blip.itm_logits(model, tok, embeds, [short, long], both_t, both_i)[0]
            torch.testing.assert_close(alone, padded, **TOL)
            torch.testing.assert_close(blip.contrastive_similarity(model, tok, embeds, [short])[0],
                                       blip.contrastive_similarity(model, tok, embeds, [short, long])[0], **TOL)
        else:
            for fn in (blip.clm_published_loss, blip.clm_log_likelihood):
                alone = fn(model, tok, embeds, [short], zero, zero)[0]
                padded = fn(model, tok, embeds, [long, short], torch.tensor([1, 0]), both_i)[0]
                torch.testing.assert_close(alone, padded, **TOL)


def test_image_features_encoded_once_match_recomputation(captioning, examples):
    model, processor = captioning
    images, texts = examples
    batched = blip.encode_images(model, blip.pixel_values(processor, images, "cpu", torch.float32))
    one_by_one = torch.cat([blip.encode_images(model, blip.pixel_values(processor, [im], "cpu", torch.float32))
                            for im in images])
    torch.testing.assert_close(batched, one_by_one, **TOL)
    text_index, image_index = grid_pairs(len(texts) // 2, 2)
    a = blip.clm_log_likelihood(model, processor.tokenizer, batched, texts, text_index, image_index)
    b = blip.clm_log_likelihood(model, processor.tokenizer, one_by_one, texts, text_index, image_index)
    torch.testing.assert_close(a, b, **TOL)
    assert (a.view(-1, 2, 2)[:, :, 0] - a.view(-1, 2, 2)[:, :, 1]).abs().max() > 1e-4  # scores depend on the image


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_loads_and_scores(blip_paths, examples, dtype):
    images, texts = examples
    model, processor = blip.load_captioning_model(str(blip_paths["clm"]), dtype=dtype)
    assert next(model.parameters()).dtype == dtype
    embeds = blip.encode_images(model, blip.pixel_values(processor, images, "cpu", dtype))
    t, i = grid_pairs(len(texts) // 2, 2)
    ll = blip.clm_log_likelihood(model, processor.tokenizer, embeds, texts, t, i)
    ref_model, _ = blip.load_captioning_model(str(blip_paths["clm"]))
    ref = blip.clm_log_likelihood(ref_model, processor.tokenizer,
                                  blip.encode_images(ref_model, blip.pixel_values(processor, images, "cpu",
                                                                                  torch.float32)), texts, t, i)
    assert ll.dtype == torch.float32 and torch.isfinite(ll).all()
    torch.testing.assert_close(ll, ref, rtol=0.05, atol=0.5)


def test_missing_model_is_one_clear_line(tmp_path):
    from scoring.errors import InputError
    with pytest.raises(InputError, match="cannot load BlipForConditionalGeneration") as e:
        blip.load_captioning_model(str(tmp_path / "nowhere"))
    assert "\n" not in str(e.value)


def test_enc_token_comes_from_the_tokenizer_or_the_row_after_dec(retrieval):
    import copy

    from scoring.errors import InputError
    model, processor = retrieval
    config = model.config.text_config
    # The fixture, like the hub's BLIP tokenizers, knows [DEC] but not [ENC]; the embedding has a row for it.
    assert "[ENC]" not in processor.tokenizer.get_vocab()
    assert blip.enc_token_id(processor.tokenizer, config) == config.bos_token_id + 1 == config.vocab_size - 1
    with_enc = copy.deepcopy(processor.tokenizer)
    with_enc.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    assert blip.enc_token_id(with_enc, config) == with_enc.convert_tokens_to_ids("[ENC]")
    no_row = copy.deepcopy(config)
    no_row.vocab_size = config.bos_token_id + 1
    with pytest.raises(InputError, match=r"cannot find BLIP's \[ENC\] token.*use the 'itm' head"):
        blip.enc_token_id(processor.tokenizer, no_row)


def test_itm_enc_differs_from_cls_only_in_the_first_token(retrieval, examples):
    model, processor = retrieval
    images, texts = examples
    embeds = blip.encode_images(model, blip.pixel_values(processor, images, "cpu", torch.float32))
    t, i = grid_pairs(len(texts) // 2, 2)
    enc = blip.enc_token_id(processor.tokenizer, model.config.text_config)
    cls_first = blip.itm_logits(model, processor.tokenizer, embeds, texts, t, i)
    enc_first = blip.itm_logits(model, processor.tokenizer, embeds, texts, t, i, first_token=enc)
    assert (cls_first - enc_first).abs().max() > 1e-3  # the first token matters to the ITM encoder
