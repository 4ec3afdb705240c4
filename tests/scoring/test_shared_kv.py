"""PairRows: per-pair rows of per-image keys and values, in one reused buffer unless autograd needs each."""

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
