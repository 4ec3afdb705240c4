"""The scorer interface every model family implements: images encoded once, (text, image) pairs by index.

A `Scorer` wraps one loaded checkpoint. It has one or more *heads* (ways to score a pair), each with a
direction (`HEADS[head]` is True when higher means a better match), and a current head used when the
scorer is called. The work is split so that each image is encoded once however many texts meet it:

    pixels = scorer.preprocess(images)                        # CPU float32, can run in worker processes
    features = scorer.encode(pixels)                          # vision side, once per image
    scores = scorer.score(features, texts, text_index, image_index)   # pair p = (texts[t[p]], image i[p])

`scorer(images, texts)` does all three for every pair and returns a (len(texts), len(images)) float32
tensor. A family is a subclass that sets `family`, `architecture`, `HEADS` and implements `encode` and
one `_<head>` method per head; `load` and `preprocess` have defaults that fit most transformers
checkpoints (see scoring/clip.py and scoring/dual_encoder.py for the smallest family).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import torch
from PIL import Image

from common.errors import InputError, first_line, gated_checkpoint
from common.images import to_rgb
from scoring.batching import all_pairs


@dataclass
class Processor:
    """A checkpoint's image processor and tokenizer, where transformers has no processor class for the pair (and
    InstructBLIP's Q-Former tokenizer)."""
    image_processor: Any
    tokenizer: Any
    qformer_tokenizer: Any = None


class Scorer:
    family: ClassVar[str]                 # short name, e.g. "clip"
    display_name: ClassVar[str]           # how tables name it, e.g. "CLIP"
    model_type: ClassVar[str]             # the checkpoint config's model_type
    architecture: ClassVar[str]           # the transformers class, as in the config's `architectures`
    HEADS: ClassVar[dict[str, bool]]      # head -> higher_is_better
    # Heads whose score is the log-probability of the text (or of an answer about it): a text's prior under
    # them is averaged over the null images in probability, the others' in score (scoring/priors.py).
    LOG_LIKELIHOOD_HEADS: ClassVar[frozenset[str]] = frozenset()
    # Texts are cut to this many tokens in retrieval, where the family's own protocol does so (BLIP: 35).
    retrieval_text_length: ClassVar[int | None] = None

    def __init__(self, model, processor, head: str, name_or_path: str = ""):
        self.model = model
        self.processor = processor
        # Cross-attention keys and values of each image computed once and shared by its pairs
        # (scoring/shared_kv.py); False recomputes them per pair, which the speed benchmark compares.
        self.share_image_kv = True
        # Texts longer than this many tokens are truncated (None: the model's own limit, if any).
        self.max_text_length: int | None = None
        self.name_or_path = name_or_path or getattr(model, "name_or_path", "")
        self.head = self._check_head(head)

    # --- what a family implements --------------------------------------------------------------------

    @classmethod
    def load(cls, name_or_path: str, head: str, device="cpu", dtype: torch.dtype = torch.float32) -> "Scorer":
        """The transformers class `architecture` with the checkpoint's tokenizer and (PIL) image processor."""
        import transformers

        model = load_pretrained(getattr(transformers, cls.architecture), name_or_path, device, dtype)
        processor = Processor(pil_image_processor(name_or_path),
                              load_component(transformers.AutoTokenizer.from_pretrained, name_or_path, "tokenizer"))
        return cls(model, processor, head, name_or_path)

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Pixel values (n, 3, H, W), float32 on the CPU, of the images converted to RGB as a viewer shows them."""
        rgb = [to_rgb(im) for im in images]
        return self.processor.image_processor(images=rgb, return_tensors="pt").pixel_values.float()

    def encode(self, pixels: torch.Tensor) -> Any:
        """Image features for `score`; whatever they are, their first dimension is the image."""
        raise NotImplementedError

    # --- the interface ----------------------------------------------------------------------------------

    @property
    def higher_is_better(self) -> bool:
        return self.HEADS[self.head]

    @property
    def heads(self) -> dict[str, bool]:
        return dict(self.HEADS)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def on_device(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixel values on the model's device and dtype; from pinned memory the copy overlaps with compute."""
        return pixels.to(self.device, self.dtype, non_blocking=True)

    def with_head(self, head: str) -> "Scorer":
        """The same loaded model scoring with another head (no copy of the weights)."""
        other = copy.copy(self)
        other.head = self._check_head(head)
        return other

    def too_long(self, texts: Sequence[str]) -> list[int]:
        """Indexes of the texts longer than the model reads, for families that do not truncate them."""
        return []

    def preprocess_config(self) -> dict:
        """What determines `preprocess`; two scorers with equal configs can share pixel values."""
        return self.processor.image_processor.to_dict()

    def score(self, features, texts: Sequence[str], text_index: torch.Tensor, image_index: torch.Tensor,
              head: str | None = None) -> torch.Tensor:
        """Scores (n_pairs,) float32 of pairs (texts[text_index[p]], image image_index[p]) by `head`."""
        head = self._check_head(head or self.head)
        with torch.no_grad():
            return getattr(self, f"_{head}")(features, list(texts), text_index.to(self.device),
                                             image_index.to(self.device)).float()

    def score_heads(self, features, texts: Sequence[str], text_index: torch.Tensor, image_index: torch.Tensor,
                    heads: Sequence[str]) -> dict[str, torch.Tensor]:
        """Scores of the same pairs by several heads, sharing the work they have in common (e.g. ITM logits)."""
        for head in heads:
            self._check_head(head)
        with torch.no_grad():
            scores = self._score_heads(features, list(texts), text_index.to(self.device),
                                       image_index.to(self.device), list(heads))
        return {head: scores[head].float() for head in heads}

    def _score_heads(self, features, texts, t, i, heads) -> dict[str, torch.Tensor]:
        return {head: getattr(self, f"_{head}")(features, texts, t, i) for head in heads}

    # --- contrastive heads: embeddings once per text and per image, similarity as a product -------------

    def text_embeddings(self, texts: Sequence[str]) -> torch.Tensor:
        """Normalized projected text embeddings (n_texts, dim), for families with a contrastive head."""
        raise NotImplementedError

    def image_embeddings(self, features) -> torch.Tensor:
        """Normalized projected image embeddings (n_images, dim) or (n_images, queries, dim)."""
        raise NotImplementedError

    def similarity(self, text_embeddings: torch.Tensor, image_embeddings: torch.Tensor) -> torch.Tensor:
        """Cosine similarity (n_texts, n_images) of normalized embeddings."""
        return text_embeddings.float() @ image_embeddings.float().t()

    def _contrastive(self, features, texts, t, i):
        return self.similarity(self.text_embeddings(texts), self.image_embeddings(features))[t, i]

    def score_matrix(self, features, texts: Sequence[str], head: str | None = None) -> torch.Tensor:
        """Every text against every image: (n_texts, n_images) float32."""
        n_images = images_in(features)
        t, i = all_pairs(len(texts), n_images, device=self.device)
        return self.score(features, texts, t, i, head).view(len(texts), n_images)

    def __call__(self, images: Sequence[Image.Image], texts: Sequence[str]) -> torch.Tensor:
        return self.score_matrix(self.encode(self.preprocess(images)), texts)

    def _check_head(self, head: str) -> str:
        if head not in self.HEADS:
            raise InputError(f"{self.display_name} ({self.family}) has no '{head}' head; its heads are "
                             f"{', '.join(self.HEADS)}")
        return head

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name_or_path!r}, head={self.head!r})"



class LogLikelihoodHeads:
    """The heads `clm_exact` (log P(T|I)) and `clm_exact_mean` (per scored token) of a captioning scorer, from
    one forward of its `_log_likelihood(features, texts, t, i) -> (summed log-probabilities, tokens summed)`."""

    def _score_heads(self, features, texts, t, i, heads):
        scores = {}
        if {"clm_exact", "clm_exact_mean"} & set(heads):  # one forward serves both
            total, count = self._log_likelihood(features, texts, t, i)
            scores = {"clm_exact": total, "clm_exact_mean": total / count}
        others = [h for h in heads if h not in scores]
        return {**scores, **super()._score_heads(features, texts, t, i, others)}

    def _clm_exact(self, features, texts, t, i):
        return self._log_likelihood(features, texts, t, i)[0]

    def _clm_exact_mean(self, features, texts, t, i):
        total, count = self._log_likelihood(features, texts, t, i)
        return total / count


def images_in(features) -> int:
    """The number of images in features: a tensor, or a tuple of tensors whose first dimension is the image, or an
    object whose length is it (scoring/vlm.py)."""
    if isinstance(features, torch.Tensor):
        return features.shape[0]
    return images_in(features[0]) if isinstance(features, tuple) else len(features)


def load_pretrained(model_cls, name_or_path: str, device, dtype):
    """`model_cls.from_pretrained` in eval mode without gradients, with a one-line error for a bad path."""
    from safetensors import SafetensorError

    try:
        model = model_cls.from_pretrained(name_or_path, dtype=dtype)
    except OSError as e:
        raise gated_checkpoint(name_or_path, e) or InputError(
            f"cannot load {model_cls.__name__} from '{name_or_path}': pass a hub id or a folder saved with "
            f"save_pretrained ({first_line(e)})") from None
    except SafetensorError as e:
        raise unreadable_weights(name_or_path, e) from None
    return model.to(device).eval().requires_grad_(False)


def unreadable_weights(name_or_path: str, e: Exception) -> InputError:
    """The one line for a weights file that is truncated or damaged (safetensors cannot read it)."""
    return InputError(f"the weights of '{name_or_path}' cannot be read ({first_line(e)}): download or save the "
                      f"checkpoint again")


def pil_image_processor(name_or_path: str):
    """The checkpoint's image processor with the PIL backend: the same resize whether or not torchvision is there."""
    from transformers import AutoImageProcessor

    return load_component(lambda p: AutoImageProcessor.from_pretrained(p, backend="pil"), name_or_path,
                          "image processor")


def load_component(loader, name_or_path: str, what: str):
    """A tokenizer or image processor from the checkpoint, with a one-line error when it is missing."""
    try:
        return loader(name_or_path)
    except (OSError, ValueError, TypeError) as e:
        raise gated_checkpoint(name_or_path, e) or InputError(
            f"cannot load the {what} of '{name_or_path}': the folder or hub repo needs the files save_pretrained "
            f"writes for it ({first_line(e)})") from None
