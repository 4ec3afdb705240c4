"""Every registered family and head: batched scores against one-pair-at-a-time forwards of the plain model.

The references (tests/references.py) call the transformers model's own forward on one (text, image) pair with the
tokenizer and image processor a user would call, and read the score off its outputs, so they share no
code with scoring/. A family added to the registry needs a tiny checkpoint in tests/fixtures.py and a
reference per head here; `test_every_family_has_a_tiny_checkpoint` fails until it has them.
"""

from __future__ import annotations

import shutil

import pytest
import torch
from fixtures import TINY_CHECKPOINTS, draw_image
from references import REFERENCES

import scoring
from common.errors import InputError
from scoring.batching import all_pairs

TOL = dict(rtol=1e-5, atol=1e-5)
TEXTS = ["a red circle left of a blue square", "the dog chases the cat",
         "A green triangle above a yellow star.", "there is more grass than sky"]
LONG = "the person with the hat is taller and the sky is blue and the grass is green and a cat on a mat"


@pytest.fixture(scope="module")
def images():
    return [draw_image(k, w) for k in range(3) for w in (0, 1)][:5]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return {name: build(tmp_path_factory.mktemp(name)) for name, (_, build) in TINY_CHECKPOINTS.items()}


CASES = [(name, head) for name, (family, _) in TINY_CHECKPOINTS.items() for head in scoring.FAMILIES[family].HEADS]


def test_every_family_has_a_tiny_checkpoint_and_references():
    covered = {family for family, _ in TINY_CHECKPOINTS.values()}
    assert covered == set(scoring.FAMILIES) == set(REFERENCES)


@pytest.mark.parametrize("name,head", CASES)
def test_batched_scores_equal_per_pair_forward(checkpoints, images, name, head):
    scorer = scoring.load_scorer(str(checkpoints[name]), head)
    assert scorer.family == TINY_CHECKPOINTS[name][0]  # read from the config alone
    assert scorer.higher_is_better == scorer.HEADS[head]
    scores = scorer(images, TEXTS)
    assert scores.shape == (len(TEXTS), len(images)) and scores.dtype == torch.float32
    reference = REFERENCES[scorer.family](head)
    with torch.no_grad():
        expected = torch.stack([torch.stack([reference(scorer, im, text).float() for im in images]) for text in TEXTS])
    torch.testing.assert_close(scores, expected, **TOL)
    assert expected.std() > 1e-3  # the tiny model really tells pairs apart


@pytest.mark.parametrize("name,head", CASES)
def test_padding_never_changes_a_score(checkpoints, images, name, head):
    scorer = scoring.load_scorer(str(checkpoints[name]), head)
    features = scorer.encode(scorer.preprocess(images[:2]))
    alone = scorer.score_matrix(features, [TEXTS[0]])
    padded = scorer.score_matrix(features, [LONG, TEXTS[0]])[1:]
    torch.testing.assert_close(alone, padded, **TOL)


# The vision tower of each generative VLM, which takes one image (its tiles or patches) per call.
VISION_TOWERS = {"llava": lambda m: m.model.vision_tower, "llava-onevision": lambda m: m.model.vision_tower,
                 "qwen2.5-vl": lambda m: m.model.visual, "paligemma": lambda m: m.model.vision_tower,
                 "idefics3": lambda m: m.model.vision_model}


@pytest.mark.parametrize("name", list(TINY_CHECKPOINTS))
def test_each_image_is_encoded_once(checkpoints, images, name):
    scorer = scoring.load_scorer(str(checkpoints[name]), next(iter(scoring.family_of(str(checkpoints[name])).HEADS)))
    encoded = []  # images entering the vision tower, per call
    if scorer.family in VISION_TOWERS:
        tower, count = VISION_TOWERS[scorer.family](scorer.model), lambda out: 1
    else:
        tower, count = scorer.model.vision_model.embeddings, lambda out: out.shape[0]
    hook = tower.register_forward_hook(lambda m, a, out: encoded.append(count(out)))
    texts = TEXTS * 3
    try:
        scores = scorer.score_heads(scorer.encode(scorer.preprocess(images)), texts,
                                    *all_pairs(len(texts), len(images)), list(scorer.heads))
    finally:
        hook.remove()
    assert sum(encoded) == len(images) and (len(encoded) == 1 or scorer.family in VISION_TOWERS)
    assert all(s.shape == (len(texts) * len(images),) for s in scores.values())


def test_unsupported_checkpoint_lists_the_families(mlm_path):
    with pytest.raises(InputError, match="roberta .*no scorer supports; supported: blip-retrieval") as e:
        scoring.load_scorer(str(mlm_path), "contrastive")
    assert "\n" not in str(e.value) and "clip (CLIPModel)" in str(e.value)


def test_missing_head_names_the_heads(checkpoints):
    with pytest.raises(InputError, match="CLIP \\(clip\\), which has no 'itm' head; its heads are contrastive"):
        scoring.load_scorer(str(checkpoints["clip"]), "itm")
    scorer = scoring.load_scorer(str(checkpoints["blip-retrieval"]), "itm")
    with pytest.raises(InputError, match="its heads are contrastive, itm, itm_logprob, itm_enc, itm_enc_logprob"):
        scorer.with_head("clm")


def test_missing_checkpoint_is_one_line(tmp_path):
    with pytest.raises(InputError, match="cannot read the config of") as e:
        scoring.load_scorer(str(tmp_path / "nowhere"), "contrastive")
    assert "\n" not in str(e.value)


def test_available_families_lists_heads_and_directions():
    families = scoring.available_families()
    assert families["blip-captioning"] == {"clm": False, "clm_exact": True, "clm_exact_mean": True}
    assert families["clip"] == {"contrastive": True}


@pytest.mark.parametrize("name,head", CASES)
def test_shared_image_keys_values_equal_recomputation(checkpoints, images, name, head):
    scorer = scoring.load_scorer(str(checkpoints[name]), head)
    features = scorer.encode(scorer.preprocess(images[:3]))
    pairs = all_pairs(len(TEXTS), 3)
    shared = scorer.score(features, TEXTS, *pairs)
    scorer.share_image_kv = False
    torch.testing.assert_close(shared, scorer.score(features, TEXTS, *pairs), **TOL)


# The first cross-attention key projection of each model that cross-attends from text to image states.
CROSS_ATTENTION_KEY = {
    "blip2-retrieval": lambda m: m.qformer.encoder.layer[0].crossattention.attention.key,
    "blip-retrieval": lambda m: m.text_encoder.encoder.layer[0].crossattention.self.key,
    "blip-captioning": lambda m: m.text_decoder.bert.encoder.layer[0].crossattention.self.key,
    "blip2-captioning-t5": lambda m: m.language_model.decoder.block[0].layer[1].EncDecAttention.k,
    "instructblip-t5": lambda m: m.language_model.decoder.block[0].layer[1].EncDecAttention.k,
}


@pytest.mark.parametrize("name", list(CROSS_ATTENTION_KEY))
@pytest.mark.parametrize("share", [True, False])
def test_cross_attention_projects_each_image_once(checkpoints, images, name, share):
    # VQAScore's encoder reads the question beside the image, so its cross-attention is per pair by nature.
    heads = [h for h in scoring.family_of(str(checkpoints[name])).HEADS if h != "vqa"]
    scorer = scoring.load_scorer(str(checkpoints[name]), heads[-1])
    scorer.share_image_kv = share
    features = scorer.encode(scorer.preprocess(images[:3]))
    rows = []  # the image-token rows each call of the projection really projects
    hook = CROSS_ATTENTION_KEY[name](scorer.model).register_forward_hook(
        lambda m, args, out: rows.append(out.shape[:-1].numel()))
    try:
        scorer.score(features, TEXTS, *all_pairs(len(TEXTS), 3))  # 12 pairs over 3 images
    finally:
        hook.remove()
    tokens = (features if isinstance(features, torch.Tensor) else features[0]).shape[1]
    assert sum(rows) == (3 if share else 12) * tokens


class _CalledWithoutHooks(torch.nn.Linear):
    """A projection a release calls through `.forward`, which no forward hook sees."""

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)


def _drop_cache(forward):
    """A model forward as a release would have it that ignores the cache it is given."""
    def without_cache(self, *args, **kwargs):
        kwargs["past_key_values"] = None
        return forward(self, *args, **kwargs)
    return without_cache


# How a transformers release could bypass each family's shared keys and values, the layer named then, and the
# text side's last layer, which reads what the attention computed from the image.
BYPASSES = {
    "blip-retrieval": ("text_encoder.encoder.layer.0.crossattention",
                       lambda m, patch: patch.setattr(type(m.text_encoder), "forward",
                                                      _drop_cache(type(m.text_encoder).forward)),
                       lambda m: m.text_encoder.encoder.layer[-1].output),
    "blip-captioning": ("text_decoder.bert.encoder.layer.0.crossattention",
                        lambda m, patch: patch.setattr(type(m.text_decoder.bert), "forward",
                                                       _drop_cache(type(m.text_decoder.bert).forward)),
                        lambda m: m.text_decoder.cls),
    "blip2-captioning-t5": ("language_model.decoder.block.0.layer.1.EncDecAttention",
                            lambda m, patch: patch.setattr(type(m.language_model.decoder), "forward",
                                                           _drop_cache(type(m.language_model.decoder).forward)),
                            lambda m: m.language_model.lm_head),
    "instructblip-t5": ("language_model.decoder.block.0.layer.1.EncDecAttention",
                        lambda m, patch: patch.setattr(type(m.language_model.decoder), "forward",
                                                       _drop_cache(type(m.language_model.decoder).forward)),
                        lambda m: m.language_model.lm_head),
    "blip2-retrieval": ("qformer.encoder.layer.0.crossattention.attention.key",
                        lambda m, patch: [patch.setattr(a, "__class__", _CalledWithoutHooks)
                                          for layer in m.qformer.encoder.layer
                                          for a in (layer.crossattention.attention.key,
                                                    layer.crossattention.attention.value)],
                        lambda m: m.qformer.encoder.layer[-1].output_query),
}


@pytest.mark.parametrize("name", list(BYPASSES))
def test_a_release_that_bypasses_shared_keys_values_raises(checkpoints, images, name, monkeypatch):
    import transformers

    from scoring.shared_kv import SharedKeysValuesUnused

    head = [h for h in scoring.family_of(str(checkpoints[name])).HEADS if h != "vqa"][-1]  # vqa shares none
    scorer = scoring.load_scorer(str(checkpoints[name]), head)
    features = scorer.encode(scorer.preprocess(images[:3]))
    pairs = all_pairs(len(TEXTS), 3)
    assert torch.isfinite(scorer.score(features, TEXTS, *pairs)).all()
    layer, bypass, output_layer = BYPASSES[name]
    bypass(scorer.model, monkeypatch)
    outputs = []  # what the text side computed from the placeholder image states
    hook = output_layer(scorer.model).register_forward_hook(lambda m, args, out: outputs.append(out))
    try:
        with pytest.raises(SharedKeysValuesUnused, match=rf"first {layer},.* transformers {transformers.__version__}"):
            scorer.score(features, TEXTS, *pairs)
    finally:
        hook.remove()
    assert len(outputs) == 1 and torch.isnan(outputs[0]).all()  # never a finite score from a placeholder
    # Without sharing, the same release still scores every pair against its own image.
    scorer.share_image_kv = False
    assert torch.isfinite(scorer.score(features, TEXTS, *pairs)).all()


VLMS = [name for name, (family, _) in TINY_CHECKPOINTS.items() if family in VISION_TOWERS]


def _language_model(model):
    return getattr(model.model, "language_model", None) or model.model.text_model  # Idefics3: text_model


@pytest.mark.parametrize("name", VLMS)
def test_each_prefix_runs_once_per_image_and_prompt(checkpoints, images, name):
    scorer = scoring.load_scorer(str(checkpoints[name]), "clm_exact")
    features = scorer.encode(scorer.preprocess(images[:3]))
    lengths = []  # the input shape (texts, tokens, width) of every language-model call
    hook = _language_model(scorer.model).register_forward_pre_hook(lambda m, args, kwargs: lengths.append(kwargs["inputs_embeds"].shape),
                                           with_kwargs=True)
    try:
        first = scorer.score_heads(features, TEXTS, *all_pairs(len(TEXTS), 3), ["clm_exact", "vqa"])
        again = scorer.score(features, TEXTS[::-1], *all_pairs(len(TEXTS), 3), "vqa")  # the prefixes are kept
    finally:
        hook.remove()
    torch.testing.assert_close(again.view(len(TEXTS), 3), first["vqa"].view(len(TEXTS), 3).flip(0), **TOL)
    prefixes = [shape for shape in lengths if shape[0] == 1]
    suffixes = [shape for shape in lengths if shape[0] > 1]
    # A prefix per image and prompt (caption, question), then one batch of the image's texts per call; PaliGemma
    # attends its question with the image, so its vqa runs each batch whole, prefix included.
    assert len(prefixes) == (3 if scorer.BIDIRECTIONAL_PROMPT else 3 * 2) and len(suffixes) == 3 * 3
    assert all(shape[0] == len(TEXTS) for shape in suffixes)


@pytest.mark.parametrize("name", VLMS)
def test_a_release_that_ignores_the_shared_prefix_raises(checkpoints, images, name, monkeypatch):
    import transformers

    from scoring.shared_kv import SharedKeysValuesUnused

    scorer = scoring.load_scorer(str(checkpoints[name]), "clm_exact")
    features = scorer.encode(scorer.preprocess(images[:3]))
    pairs = all_pairs(len(TEXTS), 3)
    shared = scorer.score(features, TEXTS, *pairs)
    language_model = type(_language_model(scorer.model))
    monkeypatch.setattr(language_model, "forward", _drop_cache(language_model.forward))
    with pytest.raises(SharedKeysValuesUnused, match=rf"self-attention layer\(s\), first .* transformers "
                                                     rf"{transformers.__version__}"):
        scorer.score(scorer.encode(scorer.preprocess(images[:3])), TEXTS, *pairs)
    # Without sharing, the same release still scores every pair whole.
    scorer.share_image_kv = False
    torch.testing.assert_close(scorer.score(features, TEXTS, *pairs), shared, **TOL)


def test_a_truncated_weights_file_is_one_line(blip_paths, mlm_path, tmp_path):
    from perturb.swap import load_mlm

    for name, source, load in (("itm", blip_paths["itm"], lambda p: scoring.load_scorer(str(p), "itm")),
                               ("mlm", mlm_path, lambda p: load_mlm(str(p)))):
        folder = tmp_path / name
        shutil.copytree(source, folder)
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        with pytest.raises(InputError, match=f"the weights of '{folder}' cannot be read .*save the checkpoint again"):
            load(folder)
