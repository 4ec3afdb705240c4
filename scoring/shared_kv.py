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
faults on every call (measured in the README's speed section). `projections_shared_by_image` does the
same for attention that reads no cache (BLIP-2's Q-Former), by replacing the projections' outputs.

A decoder-only vision-language model has no cross-attention: the image is a run of tokens at the start of
its input, followed by the prompt, so every text scored against an image shares that prefix.
`shared_prefix` hands the model a `DynamicCache` of one image's prefix keys and values in every layer (one
prefix forward) for a batch of that image's texts; each layer's `update` returns the prefix, expanded over
the batch (a view), followed by the texts' own keys and values, written into one buffer that every layer
reuses, and stores nothing. The texts' attention then reads the prefix as generation's next steps do.

The transformers contract this relies on (checked with transformers 5.23; see requirements.txt):
- BLIP's text model (`BlipTextSelfAttention`) and T5's decoder (`T5Attention`) take `past_key_values`; when
  it is an `EncoderDecoderCache` whose `is_updated[layer_idx]` is true, a cross-attention layer reads
  `cross_attention_cache.layers[layer_idx].keys` and `.values` instead of projecting
  `encoder_hidden_states` (`CacheLayerMixin` is the class of those layers);
- `EncoderDecoderCache.__init__` sets `is_updated[layer_idx]` for every cross-attention layer whose
  `get_seq_length()` is positive;
- the modules that project (`crossattention.self.key` / `.value` in BLIP, `EncDecAttention.k` / `.v` in T5,
  `crossattention.attention.key` / `.value` in BLIP-2's Q-Former) are called as modules, so forward hooks see
  them;
- a decoder's self-attention calls `past_key_values.update(keys, values, layer_idx)` in every layer and attends
  to what it returns, and its masks take their key length from the layer's `get_mask_sizes(query_length)`.
A release that breaks any of these must not return plausible numbers. So the model is given placeholder
image states that are all NaN (a free expanded view), which poison every score computed from them; and
each call checks, on the way out, that every layer read the shared keys and values (or that every hooked
projection ran), raising `SharedKeysValuesUnused` with the layer's name and the transformers version. A
prefix left unread gives no NaN (the texts would be scored as if the image were absent), so there the
check on the way out is the guard.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
from torch import nn
from transformers.cache_utils import CacheLayerMixin, DynamicCache, EncoderDecoderCache

from common.errors import InputError


class SharedKeysValuesUnused(InputError):
    """A model call did not read the shared cross-attention keys and values: this transformers release
    computes cross-attention differently from the one this code was written for."""


def _unused(layers: Sequence[str], what: str = "cross-attention") -> SharedKeysValuesUnused:
    import transformers

    return SharedKeysValuesUnused(
        f"{len(layers)} {what} layer(s), first {layers[0]}, did not read the image keys and values shared "
        f"per image under transformers {transformers.__version__}: its attention no longer reads them from the "
        f"cache; install the version in requirements.txt, or set `scorer.share_image_kv = False`")


def placeholder_states(image_states: torch.Tensor, n_pairs: int) -> torch.Tensor:
    """Image states of the pairs' batch size for a model that must not read them: NaN, so any use shows."""
    return image_states.new_full((1, *image_states.shape[1:]), float("nan")).expand(n_pairs, *image_states.shape[1:])


class ReusedBuffer:
    """One tensor handed out again while the shape, dtype and device asked for stay the same, so that every layer
    of a forward writes its per-pair keys or values into the same memory (valid until the next layer's)."""

    def __init__(self):
        self.tensor: torch.Tensor | None = None

    def get(self, shape: tuple, like: torch.Tensor) -> torch.Tensor:
        t = self.tensor
        if t is None or t.shape != shape or t.dtype != like.dtype or t.device != like.device:
            self.tensor = like.new_empty(shape)
        return self.tensor


class PairRows:
    """Gathers rows of a per-image tensor for the pairs into one buffer, reused by every call.

    A model's attention uses a layer's keys and values before the next layer reads its own, so the layers
    of one forward can share the buffer: what a call returns is valid until the next call. Tensors that
    autograd tracks get a fresh tensor each time, since autograd keeps every layer's.
    """

    def __init__(self, image_of_pair: torch.Tensor):
        self.index = image_of_pair
        self.buffer = ReusedBuffer()

    def __call__(self, per_image: torch.Tensor) -> torch.Tensor:
        if per_image.requires_grad:
            return per_image.index_select(0, self.index)
        out = self.buffer.get((len(self.index), *per_image.shape[1:]), per_image)
        return torch.index_select(per_image, 0, self.index, out=out)


class ImageKeysValues(CacheLayerMixin):
    """One cross-attention layer's keys and values, stored once per image and read per pair by index."""

    is_initialized = True
    is_compileable = False
    is_sliding = False

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, key_rows: PairRows, value_rows: PairRows):
        # The mixin's own __init__ would assign `keys` and `values`, which are read-only views here.
        self._keys, self._values, self._key_rows, self._value_rows = keys, values, key_rows, value_rows
        self.keys_read = self.values_read = 0

    @property
    def keys(self) -> torch.Tensor:
        self.keys_read += 1
        return self._key_rows(self._keys)

    @property
    def values(self) -> torch.Tensor:
        self.values_read += 1
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


@contextmanager
def shared_cross_attention(projections: Sequence[tuple[nn.Module, nn.Module]], image_states: torch.Tensor,
                           image_index: torch.Tensor, head_dim: int, names: Sequence[str]
                           ) -> Iterator[EncoderDecoderCache]:
    """An EncoderDecoderCache with each layer's cross-attention keys and values, one projection per image.

    `projections[layer]` is that layer's (key, value) projection and `names[layer]` its name for errors;
    `image_states` (n_images, tokens, width) are what the model cross-attends to; pair p attends to image
    `image_index[p]`. Pass the model `placeholder_states` as its image states. A layer's keys and values, as
    the model reads them, stay valid until the next layer's are read (`PairRows`). Leaving the block checks
    that every layer read its keys and values.
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
    yield EncoderDecoderCache(DynamicCache(), cross)
    unread = [name for layer, name in zip(cross.layers, names) if not (layer.keys_read and layer.values_read)]
    if unread:
        raise _unused(unread)


@contextmanager
def projections_shared_by_image(projections: Sequence[nn.Module], image_states: torch.Tensor,
                                image_index: torch.Tensor, names: Sequence[str]):
    """Within the block, each projection module returns its output for image image_index[p] as row p,
    computed once per image, and projects nothing itself.

    For attention that reads no cache (BLIP-2's Q-Former): the model is called with `placeholder_states`
    of the pairs' batch size; for the duration of the call, each cross-attention key and value projection
    is fed an empty token slice and its output replaced by the per-image projection, gathered for the
    pairs. The hooks are removed on exit, which also checks that every projection ran.
    """
    images, image_of_pair = torch.unique(image_index, return_inverse=True)
    states = image_states.index_select(0, images)
    handles, calls = [], [0] * len(projections)

    def replace(k, projected):
        def hook(module, args, out):
            calls[k] += 1
            return projected.index_select(0, image_of_pair)
        return hook

    for k, module in enumerate(projections):
        projected = module(states)
        handles.append(module.register_forward_pre_hook(lambda m, args: (args[0][:, :0],)))
        handles.append(module.register_forward_hook(replace(k, projected)))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
    unused = [name for name, n in zip(names, calls) if not n]
    if unused:
        raise _unused(unused)


class PrefixKeysValues(CacheLayerMixin):
    """One self-attention layer's keys and values of an image's prefix (1, heads, prefix, dim), read by a batch of
    texts: `update` returns the prefix expanded over the batch followed by the texts' keys and values."""

    is_initialized = True
    is_compileable = False

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, key_buffer: ReusedBuffer, value_buffer: ReusedBuffer,
                 sliding_window: int | None = None):
        # The mixin's own __init__ would set empty keys and values.
        self.keys, self.values = keys, values
        self._key_buffer, self._value_buffer = key_buffer, value_buffer
        self.is_sliding = sliding_window is not None
        self.sliding_window = sliding_window
        self.updates = 0

    def update(self, key_states, value_states, cache_kwargs=None):
        self.updates += 1
        if self.sliding_window is not None and self.keys.shape[-2] + key_states.shape[-2] > self.sliding_window:
            raise InputError(f"a prefix of {self.keys.shape[-2]} tokens and texts of {key_states.shape[-2]} exceed the "
                             f"model's sliding window of {self.sliding_window} tokens: shorten the texts")
        return (_after(self.keys, key_states, self._key_buffer), _after(self.values, value_states, self._value_buffer))

    def get_seq_length(self) -> int:
        return self.keys.shape[-2]

    def get_max_length(self) -> int:
        return -1

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.keys.shape[-2] + query_length, 0

    def lazy_initialization(self, key_states, value_states) -> None:
        raise RuntimeError("prefix keys and values are filled once, never updated")


def _after(prefix: torch.Tensor, new: torch.Tensor, buffer: ReusedBuffer) -> torch.Tensor:
    """torch.cat([prefix expanded over new's batch, new], dim=-2), written into the buffer every layer reuses
    (tensors autograd tracks get their own, as in PairRows)."""
    if new.requires_grad or prefix.requires_grad:
        return torch.cat([prefix.expand(new.shape[0], -1, -1, -1), new], dim=-2)
    out = buffer.get((new.shape[0], new.shape[1], prefix.shape[-2] + new.shape[-2], new.shape[-1]), new)
    out[:, :, :prefix.shape[-2]] = prefix
    out[:, :, prefix.shape[-2]:] = new
    return out


@contextmanager
def shared_prefix(prefix_cache, names: Sequence[str]) -> Iterator[DynamicCache]:
    """A DynamicCache that serves `prefix_cache` (a model's cache after one image's prefix, batch 1) to a batch of
    texts, whatever its size, without copying the prefix per text; leaving the block checks that every layer read it.

    `names[layer]` names the layers for the error. A model that fails before any layer read the cache (a release
    that drops it meets keys of the wrong length) is reported as not reading it, the failure chained.
    """
    key_buffer, value_buffer = ReusedBuffer(), ReusedBuffer()
    cache = DynamicCache()
    cache.layers = [PrefixKeysValues(layer.keys, layer.values, key_buffer, value_buffer,
                                     getattr(layer, "sliding_window", None) if getattr(layer, "is_sliding", False)
                                     else None)
                    for layer in prefix_cache.layers]
    try:
        yield cache
    except torch.OutOfMemoryError:
        raise  # the caller halves the batch
    except Exception as e:
        if not any(layer.updates for layer in cache.layers):
            raise _unused(list(names), "self-attention") from e
        raise
    unread = [name for layer, name in zip(cache.layers, names) if not layer.updates]
    if unread:
        raise _unused(unread, "self-attention")
