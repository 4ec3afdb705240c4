"""BLIP beyond what every family is checked for (test_families.py): the prompt, [ENC], precision, errors."""

from __future__ import annotations

import copy

import pytest
import torch
from fixtures import draw_image

import scoring
from common.errors import InputError
from scoring.batching import grid_pairs

TOL = dict(rtol=1e-5, atol=1e-5)
TEXTS = ["a red circle left of a blue square", "a blue circle left of a red square", "the dog chases the cat",
         "the cat chases the dog"]


@pytest.fixture(scope="module")
def images():
    return [draw_image(k, w) for k in range(2) for w in (0, 1)]


@pytest.fixture(scope="module")
def retrieval(blip_paths):
    return scoring.load_scorer(str(blip_paths["itm"]), "itm")


@pytest.fixture(scope="module")
def captioning(blip_paths):
    return scoring.load_scorer(str(blip_paths["clm"]), "clm_exact")


def test_exact_clm_after_a_prompt_scores_only_the_caption(captioning, images):
    scorer = copy.copy(captioning)
    scorer.prompt = "a picture of "
    tok, cfg = scorer.processor.tokenizer, scorer.model.config.text_config
    t, i = grid_pairs(len(TEXTS) // 2, 2)
    ll = scorer.score(scorer.encode(scorer.preprocess(images)), TEXTS, t, i)
    prompt_ids = tok(scorer.prompt, add_special_tokens=False).input_ids
    for p, (text, image) in enumerate(zip(t.tolist(), i.tolist())):
        ids = torch.tensor([[cfg.bos_token_id, *prompt_ids, *tok(TEXTS[text], add_special_tokens=False).input_ids,
                             cfg.sep_token_id]])
        pixels = scorer.processor.image_processor(images=images[image].convert("RGB"), return_tensors="pt")
        with torch.no_grad():
            log_probs = scorer.model(pixel_values=pixels.pixel_values, input_ids=ids).logits[0, :-1].log_softmax(-1)
        expected = sum(log_probs[k, ids[0, k + 1]] for k in range(len(prompt_ids), ids.shape[1] - 1))
        torch.testing.assert_close(ll[p], expected, **TOL)
    assert (ll - captioning.score(captioning.encode(captioning.preprocess(images)), TEXTS, t, i)).abs().max() > 1e-4


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_loads_and_scores(blip_paths, captioning, images, dtype):
    scorer = scoring.load_scorer(str(blip_paths["clm"]), "clm_exact", dtype=dtype)
    assert scorer.dtype == dtype
    t, i = grid_pairs(len(TEXTS) // 2, 2)
    ll = scorer.score(scorer.encode(scorer.preprocess(images)), TEXTS, t, i)
    ref = captioning.score(captioning.encode(captioning.preprocess(images)), TEXTS, t, i)
    assert ll.dtype == torch.float32 and torch.isfinite(ll).all()
    torch.testing.assert_close(ll, ref, rtol=0.05, atol=0.5)


def test_missing_model_is_one_clear_line(tmp_path):
    with pytest.raises(InputError, match="cannot read the config of") as e:
        scoring.load_scorer(str(tmp_path / "nowhere"), "clm")
    assert "\n" not in str(e.value)


def test_enc_token_comes_from_the_tokenizer_or_the_row_after_dec(retrieval):
    config = retrieval.model.config.text_config
    # The fixture, like the hub's BLIP tokenizers, knows [DEC] but not [ENC]; the embedding has a row for it.
    assert "[ENC]" not in retrieval.processor.tokenizer.get_vocab()
    assert retrieval.enc_token_id() == config.bos_token_id + 1 == config.vocab_size - 1
    with_enc = copy.copy(retrieval)
    with_enc.processor = copy.deepcopy(retrieval.processor)
    with_enc.processor.tokenizer.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    assert with_enc.enc_token_id() == with_enc.processor.tokenizer.convert_tokens_to_ids("[ENC]")
    no_row = copy.copy(retrieval)
    no_row.model = copy.deepcopy(retrieval.model)
    no_row.model.config.text_config.vocab_size = config.bos_token_id + 1
    with pytest.raises(InputError, match=r"cannot find BLIP's \[ENC\] token.*use the 'itm' and 'itm_logprob' heads"):
        no_row.enc_token_id()


def test_itm_enc_differs_from_cls_only_in_the_first_token(retrieval, images):
    features = retrieval.encode(retrieval.preprocess(images))
    t, i = grid_pairs(len(TEXTS) // 2, 2)
    cls_first = retrieval.itm_logits(features, TEXTS, t, i)
    enc_first = retrieval.itm_logits(features, TEXTS, t, i, first_token=retrieval.enc_token_id())
    assert (cls_first - enc_first).abs().max() > 1e-3  # the first token matters to the ITM encoder


def test_captions_longer_than_the_model_reads_are_found(retrieval, captioning):
    limit = captioning.model.config.text_config.max_position_embeddings  # 64 in the fixture
    fits, too_long = " ".join(["dog"] * (limit - 2)), " ".join(["dog"] * (limit - 1))
    assert captioning.too_long([fits, too_long, "a cat"]) == [1]
    assert retrieval.too_long([too_long]) == [0]
    retrieval_protocol = copy.copy(retrieval)
    retrieval_protocol.max_text_length = 35  # truncated as BLIP's retrieval protocol does: nothing is too long
    assert retrieval_protocol.too_long([too_long]) == []
