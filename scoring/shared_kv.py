"""Cross-attention keys and values computed once per image and shared by every text scored against it.

A text decoder or fusion encoder that cross-attends to an image projects the image's tokens to keys
and values in every layer. Run pair by pair, that projection is repeated for each (text, image) pair:
at BLIP-large shape about 22 GFLOPs per pair, several times what the text tokens themselves cost.
`shared_cross_attention` projects each distinct image once per layer and hands the model a
transformers `EncoderDecoderCache` whose cross-attention layers are already filled; the model's own
attention then reads the keys and values from the cache instead of projecting (the path transformers
uses for generation after the first token). Each cache layer gathers its rows for the pairs only when
the attention reads it, into one buffer that every layer reuses: memory holds one layer's per-pair keys
and values at a time, and no layer pays for a fresh allocation of that size, which on the CPU costs page
faults on every call (measured in the README's speed section).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Sequence

import torch
from torch import nn
from transformers.cache_utils import CacheLayerMixin, DynamicCache, EncoderDecoderCache


class PairRows:
    """Gathers rows of a per-image tensor for the pairs into one buffer, reused by every call.

    A model's attention uses a layer's keys and values before the next layer reads its own, so the layers
    of one forward can share the buffer: what a call returns is valid until the next call. Tensors that
    autograd tracks get a fresh tensor each time, since autograd keeps every layer's.
    """

    def __init__(self, image_of_pair: torch.Tensor):
        self.index = image_of_pair
        self.buffer: torch.Tensor | None = None

    def __call__(self, per_image: torch.Tensor) -> torch.Tensor:
        if per_image.requires_grad:
            return per_image.index_select(0, self.index)
        shape = (len(self.index), *per_image.shape[1:])
        b = self.buffer
        if b is None or b.shape != shape or b.dtype != per_image.dtype or b.device != per_image.device:
            self.buffer = per_image.new_empty(shape)
        return torch.index_select(per_image, 0, self.index, out=self.buffer)


class ImageKeysValues(CacheLayerMixin):
    """One cross-attention layer's keys and values, stored once per image and read per pair by index."""

    is_initialized = True
    is_compileable = False
    is_sliding = False

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, key_rows: PairRows, value_rows: PairRows):
        # The mixin's own __init__ would assign `keys` and `values`, which are read-only views here.
        self._keys, self._values, self._key_rows, self._value_rows = keys, values, key_rows, value_rows

    @property
    def keys(self) -> torch.Tensor:
        return self._key_rows(self._keys)

    @property
    def values(self) -> torch.Tensor:
        return self._value_rows(self._values)

    def get_seq_length(self) -> int:
        return self._keys.shape[-2]

    def get_max_length(self) -> int:
        return self._keys.shape[-2]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self._keys.shape[-2], 0

    def lazy_initialization(self, key_states, value_states) -> None:
        raise RuntimeError("image keys and values are filled once, never updated")

    def update(self, key_states, value_states, cache_kwargs=None):
        raise RuntimeError("image keys and values are filled once, never updated")


def shared_cross_attention(projections: Sequence[tuple[nn.Module, nn.Module]], image_states: torch.Tensor,
                           image_index: torch.Tensor, head_dim: int) -> EncoderDecoderCache:
    """An EncoderDecoderCache with each layer's cross-attention keys and values, one projection per image.

    `projections[layer]` is that layer's (key, value) projection; `image_states` (n_images, tokens, width)
    are what the model cross-attends to; pair p attends to image `image_index[p]`. A layer's keys and
    values, as the model reads them, stay valid until the next layer's are read (`PairRows`).
    """
    images, image_of_pair = torch.unique(image_index, return_inverse=True)
    states = image_states.index_select(0, images)
    shape = (*states.shape[:2], -1, head_dim)
    key_rows, value_rows = PairRows(image_of_pair), PairRows(image_of_pair)
    cross = DynamicCache()
    # Contiguous per image, so that gathering a pair's rows is one plain copy.
    cross.layers = [ImageKeysValues(key(states).view(shape).transpose(1, 2).contiguous(),
                                    value(states).view(shape).transpose(1, 2).contiguous(), key_rows, value_rows)
                    for key, value in projections]
    return EncoderDecoderCache(DynamicCache(), cross)


@contextmanager
def projections_shared_by_image(projections: Sequence[nn.Module], image_states: torch.Tensor,
                                image_index: torch.Tensor):
    """Within the block, each projection module returns its output for image image_index[p] as row p,
    computed once per image, and projects nothing itself.

    For attention that reads no cache (BLIP-2's Q-Former): the model is called with image states of the
    pairs' batch size (a free expanded view); for the duration of the call, each cross-attention key and
    value projection is fed an empty token slice and its output replaced by the per-image projection,
    gathered for the pairs. The hooks are removed on exit.
    """
    images, image_of_pair = torch.unique(image_index, return_inverse=True)
    states = image_states.index_select(0, images)
    handles = []
    for module in projections:
        projected = module(states)
        handles.append(module.register_forward_pre_hook(lambda m, args: (args[0][:, :0],)))
        handles.append(module.register_forward_hook(
            lambda m, args, out, projected=projected: projected.index_select(0, image_of_pair)))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
