"""PairRows (per-pair rows of per-image keys and values, in one reused buffer unless autograd needs each) and the
shared prefix of a decoder-only VLM (the prefix then the texts, stored nowhere, checked on the way out)."""

import pytest
import torch

from scoring.shared_kv import PairRows

IMAGE_OF_PAIR = torch.tensor([0, 0, 2, 1, 2])


def test_rows_follow_the_index_and_share_one_buffer():
    rows = PairRows(IMAGE_OF_PAIR)
    first, second = torch.randn(3, 2, 4, 5), torch.randn(3, 2, 4, 5)
    got = rows(first)
    assert torch.equal(got, torch.stack([first[k] for k in IMAGE_OF_PAIR.tolist()]))
    pointer = got.data_ptr()
    got = rows(second)  # the next layer's rows overwrite the previous layer's
    assert got.data_ptr() == pointer
    assert torch.equal(got, torch.stack([second[k] for k in IMAGE_OF_PAIR.tolist()]))


def test_tracked_tensors_get_their_own_rows_and_gradients():
    rows = PairRows(IMAGE_OF_PAIR)
    first, second = torch.randn(3, 4, requires_grad=True), torch.randn(3, 4, requires_grad=True)
    a, b = rows(first), rows(second)
    assert torch.equal(a, first.detach()[IMAGE_OF_PAIR])  # not overwritten by the second call
    (a.sum() + 2 * b.sum()).backward()
    uses = torch.bincount(IMAGE_OF_PAIR, minlength=3).float()[:, None].expand(3, 4)
    torch.testing.assert_close(first.grad, uses)
    torch.testing.assert_close(second.grad, 2 * uses)


def _prefix_cache(layers=2):
    from transformers.cache_utils import DynamicCache

    cache = DynamicCache()
    for k in range(layers):
        cache.update(torch.randn(1, 2, 5, 4), torch.randn(1, 2, 5, 4), k)
    return cache


def test_the_shared_prefix_is_the_prefix_then_the_texts_and_is_never_stored():
    from scoring.shared_kv import shared_prefix

    prefix = _prefix_cache()
    pointers = set()
    with shared_prefix(prefix, ["a", "b"]) as cache:
        for k in range(2):
            new_k, new_v = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
            keys, values = cache.update(new_k, new_v, k)
            assert torch.equal(keys, torch.cat([prefix.layers[k].keys.expand(3, -1, -1, -1), new_k], dim=-2))
            assert torch.equal(values, torch.cat([prefix.layers[k].values.expand(3, -1, -1, -1), new_v], dim=-2))
            assert cache.get_seq_length(k) == 5 and cache.layers[k].get_mask_sizes(4) == (9, 0)
            pointers.add(keys.data_ptr())
    assert len(pointers) == 1  # every layer's keys in the one buffer
    assert prefix.get_seq_length() == 5  # the image's own cache is untouched


def test_a_layer_left_unread_raises_and_out_of_memory_passes_through():
    from scoring.shared_kv import SharedKeysValuesUnused, shared_prefix

    prefix = _prefix_cache()
    with pytest.raises(SharedKeysValuesUnused, match="1 self-attention layer\\(s\\), first b,"):
        with shared_prefix(prefix, ["a", "b"]) as cache:
            cache.update(torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4), 0)
    # A model that fails before reading any layer (a release that dropped the cache) is named as such...
    with pytest.raises(SharedKeysValuesUnused, match="2 self-attention layer\\(s\\), first a,") as e:
        with shared_prefix(prefix, ["a", "b"]):
            raise RuntimeError("The size of tensor a (9) must match the size of tensor b (28)")
    assert isinstance(e.value.__cause__, RuntimeError)
    # ...but running out of memory stays itself, so that the caller halves the batch.
    with pytest.raises(torch.OutOfMemoryError):
        with shared_prefix(prefix, ["a", "b"]):
            raise torch.OutOfMemoryError("CUDA out of memory")
