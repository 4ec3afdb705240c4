"""Perturbation search: published vs a one-pair-at-a-time reference, improved vs independent PLLs, caching."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from fixtures import CAPTION_PAIRS

from perturb.swap import (
    GATED,
    IMPROVED,
    PUBLISHED,
    SwapCache,
    find_swaps,
    improved_swaps,
    load_mlm,
    published_swaps,
    swap_candidates,
    swap_words,
    word_swap_candidates,
)

CAPTIONS = [c for pair in CAPTION_PAIRS for c in pair]
# More than 1000 ordered pairs of differing tokens, so the seeded sampling path runs.
LONG = ("the dog chases the cat while a red circle sits left of a blue square and a big tree grows next to a "
        "small house")


@pytest.fixture(scope="module")
def mlm(mlm_path):
    return load_mlm(str(mlm_path))


def _logit(model, ids, at, token):
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0, at, token]


def reference_published(model, tok, caption, seed=0, max_pairs=1000, min_token_id=0, gated=False):
    """The published search written out directly: four full forwards per ordered pair, one pair at a time.

    With `gated`, the original repository's final variant: positions of ids >= min_token_id, and the swap only
    where p_swap > p_orig."""
    ids = tok(caption).input_ids
    special = set(tok.all_special_ids)
    pos = [k for k, t in enumerate(ids) if t not in special and t >= min_token_id]
    pairs = [(a, b) for a in pos for b in pos if a != b and ids[a] != ids[b]]
    if len(pairs) > max_pairs:
        keep = np.sort(np.random.default_rng(seed).choice(len(pairs), size=max_pairs, replace=False))
        pairs = [pairs[k] for k in keep]
    if not pairs:
        return None, 0
    best, best_value = None, None

    def masked(at, put=None):  # ids with position `at` masked and, optionally, put = (position, token) written
        s = list(ids)
        if put:
            s[put[0]] = put[1]
        s[at] = tok.mask_token_id
        return s

    for i1, i2 in pairs:
        t1, t2 = ids[i1], ids[i2]
        a = _logit(model, masked(i1), i1, t1)
        b = _logit(model, masked(i1, (i2, t1)), i1, t2)
        c = _logit(model, masked(i2), i2, t2)
        d = _logit(model, masked(i2, (i1, t2)), i2, t1)
        p = torch.softmax(torch.stack([a + c, b + d]), dim=0)
        value = (p[1] - p[0]).item()
        if best_value is None or value > best_value:
            best, best_value = (i1, i2), value
    if gated and not best_value > 0:
        return None, len(pairs)
    out = list(ids)
    out[best[0]], out[best[1]] = out[best[1]], out[best[0]]
    return tok.decode(out, skip_special_tokens=True), len(pairs)


def test_published_matches_one_pair_at_a_time(mlm):
    model, tok = mlm
    got = published_swaps(model, tok, CAPTIONS, seed=0, batch_size=97)
    for caption, swap in zip(CAPTIONS, got):
        expected, _ = reference_published(model, tok, caption)
        assert swap.text == expected, caption
    assert sum(s.text != c for s, c in zip(got, CAPTIONS)) >= len(CAPTIONS) - 2  # T' really differs from T


def test_gated_search_keeps_a_swap_only_where_it_is_more_probable(mlm):
    model, tok = mlm
    captions = [*CAPTIONS[:6], "big house"]  # the tiny MLM finds "house big" less probable: the gate closes
    # The tiny vocabulary has no id >= 1000 (the original's filter): filter its lower ids to the same effect.
    low = sorted({t for c in CAPTIONS for t in tok(c).input_ids if t not in tok.all_special_ids})[5]
    for min_token_id in (0, low):
        got = published_swaps(model, tok, captions, seed=0, min_token_id=min_token_id, gate=True)
        for caption, swap in zip(captions, got):
            expected, _ = reference_published(model, tok, caption, min_token_id=min_token_id, gated=True)
            assert swap.text == expected, (caption, min_token_id)
        if min_token_id == 0:
            assert got[-1].text is None and "p_swap <= p_orig" in got[-1].reason
            assert got[0].text is not None  # and opens on others
    assert all(s.text is None and "ids of at least 1000" in s.reason
               for s in find_swaps(model, tok, CAPTIONS[:3], GATED))


def test_published_sampling_path_for_long_captions(mlm):
    model, tok = mlm
    ids = tok(LONG).input_ids
    special = set(tok.all_special_ids)
    n = sum(t not in special for t in ids)
    assert n * (n - 1) > 1000
    cands = swap_candidates(ids, special, max_pairs=1000, seed=5)
    assert len(cands) == 1000 == len(set(cands))
    assert cands == sorted(cands, key=lambda p: (p[0], p[1]))  # kept in enumeration order
    assert cands != swap_candidates(ids, special, max_pairs=1000, seed=6)
    expected, n_pairs = reference_published(model, tok, LONG, seed=5)
    assert n_pairs == 1000
    assert published_swaps(model, tok, [LONG], seed=5)[0].text == expected


def test_swap_words_keeps_sentence_form():
    c = "A green triangle above a yellow star."
    assert swap_words(c, 1, 5) == "A yellow triangle above a green star."
    assert swap_words(c, 0, 2) == "Triangle green a above a yellow star."
    assert swap_words("there is more grass than sky", 3, 5) == "there is more sky than grass"
    assert swap_words("I see the dog, not NASA", 0, 3) == "Dog see the I, not NASA"
    assert swap_words("I see the dog, not NASA", 3, 5) == "I see the NASA, not dog"
    # each unordered pair once, identical words never paired
    assert word_swap_candidates("the dog chases the cat") == [(0, 1), (0, 2), (0, 4), (1, 2), (1, 3), (1, 4),
                                                            (2, 3), (2, 4), (3, 4)]


def test_improved_picks_the_highest_independent_pll(mlm):
    model, tok = mlm
    special = set(tok.all_special_ids)
    captions = CAPTIONS[:6]
    got = improved_swaps(model, tok, captions, batch_size=64)
    for caption, swap in zip(captions, got):
        best, best_pll = None, None
        for i, j in word_swap_candidates(caption):
            sentence = swap_words(caption, i, j)
            ids = tok(sentence).input_ids
            pll = 0.0
            for k, t in enumerate(ids):
                if t in special:
                    continue
                masked = list(ids)
                masked[k] = tok.mask_token_id
                with torch.no_grad():
                    pll += model(input_ids=torch.tensor([masked])).logits[0, k].log_softmax(-1)[t].item()
            if best_pll is None or pll > best_pll + 1e-6:
                best, best_pll = sentence, pll
        assert swap.text == best
        assert sorted(swap.text.lower().replace(".", "").split()) == sorted(caption.lower().replace(".", "").split())


@pytest.mark.parametrize("search, captions", [
    (PUBLISHED, [" dog", "", " dog dog"]),  # "the the" and "dog" (do|g) are swappable here: tokens differ
    (IMPROVED, ["dog", "", "the the", "Cat cat."]),
])
def test_no_swappable_words(mlm, search, captions):
    model, tok = mlm
    got = find_swaps(model, tok, captions, search)
    assert all(s.text is None and "fewer than two" in s.reason for s in got)
    assert find_swaps(model, tok, ["the dog"], search)[0].text is not None


def _counting(model):
    calls = []
    handle = model.get_input_embeddings().register_forward_hook(lambda *a: calls.append(1))
    return calls, handle


@pytest.mark.parametrize("search", [PUBLISHED, IMPROVED])
def test_deterministic_and_cached(mlm, mlm_path, other_mlm_path, tmp_path, search):
    model, tok = mlm
    captions = CAPTIONS[:5] + ["dog"]
    cache = SwapCache(tmp_path / "swaps.json")
    first = find_swaps(model, tok, captions, search, seed=0, cache=cache)
    cache.save()
    assert first == find_swaps(model, tok, captions, search, seed=0)  # no cache: same result again
    saved = json.loads((tmp_path / "swaps.json").read_text())["swaps"]
    assert {e["caption"]: e["swap"] for e in saved} == {c: s.text for c, s in zip(captions, first)}
    assert all(e["model_path"] == str(mlm_path) and e["search"] == search for e in saved)
    assert len({e["model"] for e in saved}) == 1 and saved[0]["model"].startswith("files:")  # the fingerprint

    reloaded = SwapCache(tmp_path / "swaps.json")
    calls, handle = _counting(model)
    assert find_swaps(model, tok, captions, search, seed=0, cache=reloaded) == first
    handle.remove()
    assert not calls  # every caption was a cache hit

    other_model, other_tok = load_mlm(str(other_mlm_path))
    calls, handle = _counting(other_model)
    find_swaps(other_model, other_tok, captions, search, seed=0, cache=reloaded)
    handle.remove()
    assert calls  # another model misses
    calls, handle = _counting(model)
    find_swaps(model, tok, captions, IMPROVED if search == PUBLISHED else PUBLISHED, seed=0, cache=reloaded)
    handle.remove()
    assert calls  # another search misses
    assert len(reloaded.entries) == 3 * len(captions)


def test_corrupt_cache_is_a_clear_error(tmp_path):
    from common.errors import InputError
    (tmp_path / "swaps.json").write_text("{not json")
    with pytest.raises(InputError, match="not a cache this code wrote .*pass another --swap-cache"):
        SwapCache(tmp_path / "swaps.json")


def test_unknown_search(mlm):
    with pytest.raises(ValueError):
        find_swaps(*mlm, ["a b"], "best")


def test_replaced_weights_in_the_same_folder_search_again(mlm_path, other_mlm_path, tmp_path):
    import shutil

    folder = tmp_path / "mlm"
    shutil.copytree(mlm_path, folder)
    model, tok = load_mlm(str(folder))
    cache = SwapCache(tmp_path / "swaps.json")
    first = find_swaps(model, tok, CAPTIONS[:4], PUBLISHED, cache=cache)
    cache.save()
    shutil.copy(other_mlm_path / "model.safetensors", folder / "model.safetensors")  # other weights, same path
    model, tok = load_mlm(str(folder))
    reloaded = SwapCache(tmp_path / "swaps.json")
    calls, handle = _counting(model)
    again = find_swaps(model, tok, CAPTIONS[:4], PUBLISHED, cache=reloaded)
    handle.remove()
    assert calls  # searched with the new weights, not read from the old model's entries
    assert again == find_swaps(model, tok, CAPTIONS[:4], PUBLISHED) and again != first


def test_a_checkpoint_that_is_not_a_masked_lm_is_one_line(blip_paths):
    from common.errors import InputError
    with pytest.raises(InputError, match="is not a masked LM .*pass one such as distilroberta-base") as e:
        load_mlm(str(blip_paths["itm"]))
    assert "\n" not in str(e.value)
