"""Generative VLM scorers (scoring/vlm.py) beyond the family tests: memory sizing from the model's shape, null
images, long captions and the one-line errors of bad checkpoints."""

from __future__ import annotations

import shutil

import pytest
import torch
from fixtures import TINY_CHECKPOINTS, build_llava, build_qwen25_vl, draw_image
from PIL import Image

import scoring
from common.errors import InputError
from scoring.batching import all_pairs
from scoring.priors import null_pixels

TEXTS = ["a red circle left of a blue square", "the dog chases the cat", "a cat on a mat"]


@pytest.fixture(scope="module")
def llava(tmp_path_factory):
    return build_llava(tmp_path_factory.mktemp("llava"))


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    return build_qwen25_vl(tmp_path_factory.mktemp("qwen"))


def test_the_memory_a_7b_model_needs_follows_its_shape():
    """LLaVA-1.5-7B's shape on the meta device (no memory): the numbers worked by hand."""
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    config = LlavaConfig(vision_config=dict(model_type="clip_vision_model", hidden_size=1024, intermediate_size=4096,
                                            num_hidden_layers=24, num_attention_heads=16, image_size=336,
                                            patch_size=14),
                         text_config=dict(model_type="llama", vocab_size=32064, hidden_size=4096,
                                          intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                                          num_key_value_heads=32),
                         image_token_id=32000)
    with torch.device("meta"):
        model = LlavaForConditionalGeneration(config).to(torch.bfloat16)
    scorer = scoring.FAMILIES["llava"](model, None, "clm_exact")
    weights = 2 * sum(p.numel() for p in model.parameters())
    assert 14.0e9 < weights < 14.2e9  # 7.06 billion parameters in bfloat16
    # On an 80 GB GPU: half of what the weights leave, for kept prefixes and one forward's texts.
    budget = scorer.memory_budget(total_memory=80 * 10**9)
    assert budget == (80 * 10**9 - weights) // 2
    scorer.memory_limit = budget
    # Keys and values of one token: 2 (K, V) x 32 layers x 4096 x 2 bytes.
    assert scorer.cache_bytes_per_token() == 2 * 32 * 4096 * 2 == 524_288
    # A prefix of 576 image tokens and about 40 prompt tokens; the default 16 examples' 32 images keep theirs.
    prefix = 616 * 524_288
    assert 32 * prefix <= budget // 2
    # One text of 20 tokens: one layer's keys and values over 636 positions, logits and log-probabilities in
    # float32, MLP activations.
    per_text = 2 * 4096 * 2 * 636 + 20 * (2 * 4 * 32064 + 3 * 11008 * 2)
    assert scorer.texts_per_forward(616, 20) == budget // 2 // per_text > 256  # all of a k = 256 re-ranking


def test_a_small_memory_limit_drops_prefixes_and_splits_texts_to_the_same_scores(llava):
    images = [draw_image(k, 0) for k in range(3)]
    scorer = scoring.load_scorer(str(llava), "clm_exact")
    texts = TEXTS * 2
    pairs = all_pairs(len(texts), 3)
    roomy = scorer.score(scorer.encode(scorer.preprocess(images)), texts, *pairs)
    scorer.memory_limit = 1  # one text per forward, one prefix kept at a time
    assert scorer.texts_per_forward(100, 10) == 1
    features = scorer.encode(scorer.preprocess(images))
    calls = []
    hook = scorer.model.model.language_model.register_forward_pre_hook(
        lambda m, args, kwargs: calls.append(kwargs["inputs_embeds"].shape[0]), with_kwargs=True)
    try:
        tight = scorer.score(features, texts, *pairs)
        again = scorer.score(features, texts, *pairs)
    finally:
        hook.remove()
    torch.testing.assert_close(tight, roomy, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(again, roomy, rtol=1e-5, atol=1e-5)
    assert len(features.prefixes) == 1 and set(calls) == {1}
    # Each call: 3 prefixes (the last one kept, but the next call starts with the first image) and 6 x 3 texts.
    assert len(calls) == 2 * (3 + 6 * 3)


def test_null_images_of_a_patch_processor_follow_the_recipe(qwen):
    scorer = scoring.load_scorer(str(qwen), "vqa")
    template = scorer.processor(images=[Image.new("RGB", (448, 448))], text=[scorer.processor.image_token],
                                return_tensors="pt")
    null = null_pixels(scorer, 3, seed=5)
    assert len(null) == 3
    for k in range(3):
        expected = torch.randn(template.pixel_values.shape, generator=torch.Generator().manual_seed(5 + k))
        assert torch.equal(null.pixels[k]["pixel_values"], expected)
        assert torch.equal(null.pixels[k]["image_grid_thw"], template.image_grid_thw)
    assert torch.isfinite(scorer.score_matrix(scorer.encode(null), TEXTS)).all()


def test_images_of_other_sizes_get_other_token_counts_and_batches_index_them(qwen):
    from evaluation.batches import Batch

    scorer = scoring.load_scorer(str(qwen), "vqa")
    images = [Image.new("RGB", (56, 56)), Image.new("RGB", (112, 56)), Image.new("RGB", (112, 112))]
    inputs = scorer.preprocess(images)
    assert [len(t) for t in inputs.tokens] == [4, 8, 16]
    batch = Batch([{"id": 0}, {"id": 1}], {"qwen": inputs}, torch.tensor([[0, 2], [1, 2]]))
    second = batch[1:]
    assert [len(t) for t in second.pixels["qwen"].tokens] == [8, 16]
    assert second.image_of.tolist() == [[0, 1]]


@pytest.mark.parametrize("name", [n for n, (family, _) in TINY_CHECKPOINTS.items() if family in
                                  ("llava", "llava-onevision", "qwen2.5-vl", "paligemma", "idefics3")])
def test_captions_longer_than_the_language_model_reads_are_found(name, tmp_path):
    folder = TINY_CHECKPOINTS[name][1](tmp_path / name)
    for head in ("clm_exact", "vqa"):
        scorer = scoring.load_scorer(str(folder), head)
        positions = scorer.model.config.get_text_config().max_position_embeddings
        assert scorer.too_long([TEXTS[0], " ".join(["cat"] * positions), TEXTS[1]]) == [1]


def test_a_checkpoint_without_a_chat_template_is_one_line(llava, tmp_path):
    folder = tmp_path / "no_template"
    shutil.copytree(llava, folder)
    (folder / "chat_template.jinja").unlink()
    with pytest.raises(InputError, match=f"'{folder}' has no chat template, which LLaVA needs .*chat_template.jinja"):
        scoring.load_scorer(str(folder), "vqa")


def test_a_gated_checkpoint_says_how_to_get_access(monkeypatch):
    import transformers.utils.hub
    from huggingface_hub import errors
    from huggingface_hub.utils import httpx

    def gated(*args, **kwargs):
        request = httpx.Request("GET", "https://huggingface.co/org/gated-vlm/resolve/main/config.json")
        raise errors.GatedRepoError("Access to model org/gated-vlm is restricted.",
                                    response=httpx.Response(403, request=request))

    monkeypatch.setattr(transformers.utils.hub, "hf_hub_download", gated)
    with pytest.raises(InputError, match=r"^org/gated-vlm is gated: accept its terms at "
                                         r"https://huggingface.co/org/gated-vlm .*hf auth login") as e:
        scoring.load_scorer("org/gated-vlm", "vqa")
    assert "\n" not in str(e.value)
