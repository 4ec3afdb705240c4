"""Null images and caption priors (scoring/priors.py): the recipe, the averages, the cache."""

from __future__ import annotations

import json
import math

import pytest
import torch

import scoring
from scoring.priors import PriorCache, average_over_null_images, null_pixels, priors

TEXTS = ["a red circle left of a blue square", "the dog chases the cat", "there is more grass than sky"]


@pytest.fixture(scope="module")
def clm(blip_paths):
    return scoring.load_scorer(str(blip_paths["clm"]), "clm_exact")


def test_null_images_follow_the_recipe(clm):
    pixels = null_pixels(clm, 3, seed=5)
    size = clm.processor.image_processor.size
    assert pixels.shape == (3, 3, size["height"], size["width"]) and pixels.dtype == torch.float32
    for k in range(3):
        g = torch.Generator().manual_seed(5 + k)
        assert torch.equal(pixels[k], torch.randn((3, size["height"], size["width"]), generator=g))


def test_the_largest_seed_the_flags_accept_draws_null_images(clm):
    from evaluation.cli import MAXIMUM

    pixels = null_pixels(clm, 3, seed=MAXIMUM["seed"])  # seeds MAXIMUM, MAXIMUM + 1, MAXIMUM + 2
    assert pixels.shape[0] == 3 and torch.isfinite(pixels).all()


def test_averages_in_probability_or_in_score():
    scores = torch.tensor([[-1.0, -2.0, -4.0], [0.5, 0.25, 0.0]])
    in_probability = average_over_null_images(scores, True)
    assert in_probability[0].item() == pytest.approx(math.log((math.exp(-1) + math.exp(-2) + math.exp(-4)) / 3))
    assert average_over_null_images(scores, False).tolist() == pytest.approx([-7 / 3, 0.25])


def test_cached_priors_are_the_computed_bits_and_keyed_by_every_input(clm, tmp_path):
    features = clm.encode(null_pixels(clm, 2, seed=0))
    cache = PriorCache(tmp_path / "priors.json")
    cold = priors(clm, features, TEXTS, ["clm_exact", "clm_exact_mean"], seed=0, cache=cache)
    cache.save()
    calls = []
    hook = clm.model.text_decoder.register_forward_hook(lambda *a: calls.append(1))
    try:
        warm = priors(clm, features, [TEXTS[1], TEXTS[0]], ["clm_exact"], seed=0,
                      cache=PriorCache(tmp_path / "priors.json"))
        assert calls == []  # all from the file
        assert torch.equal(warm["clm_exact"], cold["clm_exact"][[1, 0]])
        priors(clm, features, TEXTS[:1], ["clm_exact"], seed=1, cache=PriorCache(tmp_path / "priors.json"))
        assert calls  # another seed is another entry
    finally:
        hook.remove()
    entries = json.loads((tmp_path / "priors.json").read_text())["priors"]
    assert {(e["head"], e["null_images"], e["seed"]) for e in entries} == {("clm_exact", 2, 0),
                                                                            ("clm_exact_mean", 2, 0)}
    # The log-likelihood prior averages in probability: at least the mean log-probability, at most the max.
    t, i = torch.arange(3).repeat_interleave(2), torch.arange(2).repeat(3)
    pairs = clm.score(features, TEXTS, t, i, "clm_exact").view(3, 2)
    assert torch.all(cold["clm_exact"] >= pairs.mean(dim=1) - 1e-5)
    assert torch.all(cold["clm_exact"] <= pairs.max(dim=1).values)
