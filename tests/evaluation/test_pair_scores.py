"""Stored stage results: a damaged file is scored again, never a crash after the other batches are done."""

from __future__ import annotations

import numpy as np

from evaluation.first_stage import first_stage
from evaluation.pair_scores import PairStore


def test_a_truncated_batch_file_is_scored_again(tmp_path):
    store = PairStore(tmp_path)
    pairs = np.array([[0, 0], [1, 0]])
    store.save(0, pairs, {"itm/itm/T": np.array([1.0, 2.0], dtype=np.float32)})
    store.save(1, pairs, {"itm/itm/T": np.array([3.0, 4.0], dtype=np.float32)})
    assert store.done(0) and store.done(1)
    file = tmp_path / "pairs" / "batch_000001.npz"
    file.write_bytes(file.read_bytes()[:40])  # a disk that filled up, or an older kill mid-write
    assert store.done(0) and not store.done(1) and not file.exists()


def test_a_truncated_first_stage_file_is_encoded_again(tmp_path, clip_path):
    import datasets
    from fixtures import draw_image

    import scoring

    for k in range(3):
        draw_image(k, 0).save(tmp_path / f"{k}.png")
    images = datasets.Dataset.from_dict({"image": [{"bytes": None, "path": str(tmp_path / f"{k}.png")}
                                                   for k in range(3)]},
                                        features=datasets.Features({"image": datasets.Image(decode=False)}))
    scorer, cache, captions = scoring.load_scorer(str(clip_path), "contrastive"), tmp_path / "first_stage.npz", \
        ["a red circle", "the dog chases the cat"]
    encoded = []
    scorer.model.vision_model.embeddings.register_forward_hook(lambda m, a, out: encoded.append(out.shape[0]))
    first = first_stage(scorer, images, captions, 2, 0, cache)
    assert sum(encoded) == 3
    assert np.array_equal(first_stage(scorer, images, captions, 2, 0, cache), first) and sum(encoded) == 3  # read
    cache.write_bytes(cache.read_bytes()[:60])
    assert np.array_equal(first_stage(scorer, images, captions, 2, 0, cache), first)
    assert sum(encoded) == 6  # the damaged file was encoded again


def test_a_first_stage_file_that_does_not_fit_or_is_not_finite_is_named(tmp_path):
    import pytest

    from common.errors import InputError
    from evaluation.first_stage import check_first_stage_cache

    cache = tmp_path / "first_stage.npz"
    check_first_stage_cache(cache, 3, 2)  # none yet: nothing to check
    text, image = np.ones((2, 4), dtype=np.float32), np.ones((3, 4), dtype=np.float32)
    np.savez(cache, text=text, image=image)
    check_first_stage_cache(cache, 3, 2)
    with pytest.raises(InputError, match=r"not of 2 captions and 4 images: delete it"):
        check_first_stage_cache(cache, 4, 2)
    image[1, 2] = np.nan
    np.savez(cache, text=text, image=image)
    with pytest.raises(InputError, match=r"first_stage.npz holds NaN or infinite embeddings \(the cache is at fault"):
        check_first_stage_cache(cache, 3, 2)
