"""Generative vision-language models (image-text-to-text) as scorers, each image's prefix run once for all its texts.

A checkpoint of LLaVA-1.5, LLaVA-OneVision, Qwen2.5-VL, PaliGemma or Idefics3 / SmolVLM, loaded through
transformers' `AutoModelForImageTextToText` and its processor (those that also process videos, without their
video processor), scores a (text, image) pair as the log-probability of some tokens given the image and a
prompt (InstructBLIP, whose Q-Former reads the prompt, is scoring/instructblip.py):
- `clm_exact`: log P(T | image, caption prompt), the caption as the model's answer to the family's caption
  prompt (`CAPTION_PROMPT`), rendered by the checkpoint's chat template; the caption's tokens and the end token
  (the tokenizer's eos, which the model emits after an answer) are summed. `clm_exact_mean` divides by their
  number.
- `vqa`: VQAScore (Lin et al., ECCV 2024) as log P(answer | image, question about T), the answer's tokens summed,
  with t2v_metrics' question and answer for the family (`VQA_QUESTION`, `VQA_ANSWER`).
The caption and the answer are tokenized on their own, as the model generates them after the prompt; the
question is tokenized with the prompt around it, as the processor tokenizes a whole conversation.

The image tokens and the prompt up to where the texts differ (the start of the caption; for `vqa`, the start of
T inside the question) form a prefix that every text of the image shares. It runs once per image, keeping its
keys and values (scoring/shared_kv.py `shared_prefix`); then all the texts of that image are one batch of
suffixes over that cache. The first scored token is predicted by the prefix's last position. PaliGemma attends
to its whole prompt both ways, so a question that holds T changes the image tokens themselves: its `vqa` runs
each pair whole, sharing only the vision tower's output. `share_image_kv = False` runs every pair whole, the
plain forward the tests and the speed script compare with.

`preprocess` runs the processor on each image alone (in the data workers), keeping its image tensors and the
token ids its image placeholder expands to; `encode` runs the vision tower once per image; prefixes are kept
in the features, so the texts, their T' and their priors scored over the same features share them. What is
kept, and how many texts one forward takes, is sized from the model's shape (`memory_budget`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Sequence

import torch
from PIL import Image

from common.errors import InputError
from common.images import to_rgb
from scoring.base import LogLikelihoodHeads, Scorer, load_component, load_pretrained
from scoring.batching import right_pad, summed_log_probs
from scoring.priors import NULL_IMAGE_SIDE
from scoring.shared_kv import shared_prefix

# Where the text goes in a rendered prompt; no tokenizer or chat template meets it in real text.
SLOT = "\u2063TEXT\u2063"


@dataclass
class ImageInputs:
    """What a checkpoint's processor made of each image: its image tensors (pixel values and, per family, grid
    sizes or masks) and the token ids its image placeholder expands to. Indexing by image keeps those images."""
    pixels: list[dict[str, torch.Tensor]]
    tokens: list[torch.Tensor]

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, index) -> "ImageInputs":
        keep = torch.arange(len(self))[index].reshape(-1).tolist()
        return ImageInputs([self.pixels[k] for k in keep], [self.tokens[k] for k in keep])

    def pin_memory(self) -> "ImageInputs":
        return ImageInputs([{k: v.pin_memory() for k, v in p.items()} for p in self.pixels], self.tokens)

    def noise(self, n_images: int, seed: int) -> "ImageInputs":
        """n images laid out as the first, every pixel value standard normal noise, image k's from seed + k
        (the null images of scoring/priors.py)."""
        template = self.pixels[0]
        pixels = [{**template, "pixel_values": torch.randn(template["pixel_values"].shape, dtype=torch.float32,
                                                           generator=torch.Generator().manual_seed(seed + k))}
                  for k in range(n_images)]
        return ImageInputs(pixels, [self.tokens[0]] * n_images)


@dataclass
class Prefix:
    """One image's prefix after one forward: its cache, the logits of its last position, its length and the
    position the first text token takes."""
    cache: Any
    last_logits: torch.Tensor
    length: int
    next_position: int


@dataclass
class ImageFeatures:
    """Encoded images: the vision tower's output per image, the processor's inputs, and the prefixes (by image and
    prompt) kept so far, the oldest dropped once they would hold more than `keep_bytes`."""
    encoded: list[Any]
    inputs: ImageInputs
    keep_bytes: int
    prefixes: OrderedDict = field(default_factory=OrderedDict)  # (image, prompt) -> (prefix, its bytes)

    def __len__(self) -> int:
        return len(self.encoded)

    def keep(self, key: tuple[int, str], prefix: Prefix, size: int) -> None:
        held = sum(bytes_ for _, bytes_ in self.prefixes.values())
        while self.prefixes and held + size > self.keep_bytes:
            held -= self.prefixes.popitem(last=False)[1][1]
        self.prefixes[key] = (prefix, size)


@dataclass
class Pieces:
    """A pair's token ids: `prefix` (shared by every text of the head), `context` (conditions, not scored) and
    `target` (scored). `prefix_text` keys the prefix's cache."""
    prefix_text: str
    prefix: list[int]
    context: list[int]
    target: list[int]


class VisionLanguageScorer(LogLikelihoodHeads, Scorer):
    """The shared machinery. A family sets the class variables below and, where its model or processor differs,
    overrides `render` (the prompt), `model_inputs` (image inputs of the forward), `positions` (of the prefix and
    after it), `suffix_inputs` or `whole_inputs`."""
    HEADS = {"clm_exact": True, "clm_exact_mean": True, "vqa": True}
    LOG_LIKELIHOOD_HEADS = frozenset({"clm_exact", "vqa"})
    VQA_QUESTION: ClassVar[str]
    VQA_ANSWER: ClassVar[str]
    CAPTION_PROMPT: ClassVar[str]
    # The prompt is attended both ways with the image (PaliGemma): a prompt holding T changes the image's tokens.
    BIDIRECTIONAL_PROMPT: ClassVar[bool] = False
    # Whether the tokenizer adds its start token to a rendered prompt (False where the prompt writes it).
    ADD_SPECIAL_TOKENS: ClassVar[bool] = True

    # The checkpoint's processor class, where it also processes videos: loaded without its video processor
    # (`image_only_processors`), which these scores never use and which transformers cannot build without
    # torchvision.
    VIDEO_PROCESSOR_CLASS: ClassVar[str | None] = None

    @classmethod
    def load(cls, name_or_path, head, device="cpu", dtype=torch.float32):
        import transformers

        if cls.VIDEO_PROCESSOR_CLASS:
            loader = image_only_processors()[cls.VIDEO_PROCESSOR_CLASS].from_pretrained
        else:
            loader = transformers.AutoProcessor.from_pretrained
        processor = load_component(loader, name_or_path, "processor")
        model = load_pretrained(transformers.AutoModelForImageTextToText, name_or_path, device, dtype)
        scorer = cls(model, processor, head, name_or_path)
        scorer.render(SLOT)  # a missing chat template is named now, not after the data is read
        return scorer

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    # --- the prompt ---------------------------------------------------------------------------------------------

    def render(self, question: str) -> str:
        """The conversation up to the answer: the user's turn with the image and `question`, the assistant's turn
        opened, as the checkpoint's chat template writes it (the processor adds the image tokens)."""
        if not getattr(self.processor, "chat_template", None):
            raise InputError(f"'{self.name_or_path}' has no chat template, which {self.display_name} needs to put the "
                             f"image and the question in its conversation: use a checkpoint whose processor has one "
                             f"(chat_template.jinja)")
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        return self.tokenizer.apply_chat_template(messages, chat_template=self.processor.chat_template,
                                                  add_generation_prompt=True, tokenize=False)

    def pieces(self, texts: Sequence[str], head: str) -> list[Pieces]:
        """Each text's prefix, context and target ids under `head`."""
        eos = self.tokenizer.eos_token_id
        if head == "vqa":
            rendered = self.render(self.VQA_QUESTION.format(SLOT))
            before, after = rendered.split(SLOT)
            answer = self._plain_ids(self.VQA_ANSWER)
            if self.BIDIRECTIONAL_PROMPT:  # nothing after the image is shared: the whole prompt is context
                return [Pieces(rendered, [], self._joined_ids(before + text + after), answer) for text in texts]
            return [Pieces(before, *self._split_ids(before, text + after), answer) for text in texts]
        if eos is None:
            raise InputError(f"the tokenizer of '{self.name_or_path}' has no eos token, which ends a caption's "
                             f"log-probability: save the checkpoint with its tokenizer_config.json")
        rendered = self.render(self.CAPTION_PROMPT)
        prefix = self._joined_ids(rendered)
        return [Pieces(rendered, prefix, [], self._plain_ids(text) + [eos]) for text in texts]

    def _plain_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _joined_ids(self, text: str) -> list[int]:
        """The ids of a rendered prompt as the processor's tokenizer call makes them (with the start token the
        tokenizer adds, unless the prompt writes it), the image placeholder still one token."""
        return self.tokenizer(text, add_special_tokens=self.ADD_SPECIAL_TOKENS)["input_ids"]

    def _split_ids(self, before: str, rest: str) -> tuple[list[int], list[int]]:
        """(ids of `before`, ids `rest` adds after it) from one tokenization of the whole, as the processor makes
        it; a tokenizer that merges across the boundary is named rather than scored on other tokens."""
        whole = self._joined_ids(before + rest)
        start = self._joined_ids(before)
        if whole[:len(start)] != start:
            raise InputError(f"the tokenizer of '{self.name_or_path}' merges the end of the prompt "
                             f"{before[-20:]!r} with the text that follows: the prompt cannot be shared per image")
        return start, whole[len(start):]

    # --- images -------------------------------------------------------------------------------------------------

    def preprocess(self, images: Sequence[Image.Image]) -> ImageInputs:
        """Each image through the processor alone (no padding shared between images), as RGB."""
        pixels, tokens = [], []
        for image in images:
            inputs = self.processor(images=[to_rgb(image)], text=[self.processor.image_token], return_tensors="pt",
                                    add_special_tokens=False)
            pixels.append({k: (v.float() if v.is_floating_point() else v) for k, v in inputs.items()
                           if k not in TEXT_KEYS})
            tokens.append(inputs["input_ids"][0])
        return ImageInputs(pixels, tokens)

    @property
    def image_token_id(self) -> int:
        return self.tokenizer.convert_tokens_to_ids(self.processor.image_token)

    def preprocess_config(self) -> dict:
        return {"processor": self.processor.to_dict(), "family": self.family}

    def encode(self, inputs: ImageInputs) -> ImageFeatures:
        """The vision tower (and projector) once per image, one image per call: images differ in token count."""
        encoded = []
        with torch.no_grad():
            for pixels in inputs.pixels:
                on_device = {k: self._on_device(v) for k, v in pixels.items()}
                encoded.append(self.model.get_image_features(**on_device, return_dict=True))
        return ImageFeatures(encoded, inputs, self.memory_budget() // 2)

    def _on_device(self, tensor: torch.Tensor) -> torch.Tensor:
        if tensor.is_floating_point():
            return tensor.to(self.device, self.dtype, non_blocking=True)
        return tensor.to(self.device, non_blocking=True)

    # --- a family's model inputs --------------------------------------------------------------------------------

    def expand(self, ids: list[int], image_tokens: torch.Tensor) -> torch.Tensor:
        """The prompt's ids with its one image placeholder replaced by the image's tokens."""
        image_token = self.image_token_id
        at = [k for k, token in enumerate(ids) if token == image_token]
        if len(at) != 1:
            raise InputError(f"the prompt of '{self.name_or_path}' holds {len(at)} image placeholders "
                             f"({self.processor.image_token}), not one: check its chat template")
        return torch.cat([torch.tensor(ids[:at[0]]), image_tokens, torch.tensor(ids[at[0] + 1:])]).long()

    def model_inputs(self, ids: torch.Tensor, images: list[int], features: ImageFeatures) -> dict:
        """What the model's forward takes beside ids and mask for rows `ids` (n, length) holding images `images`."""
        encoded = [features.encoded[k] for k in images]
        return {"mm_encoder_outputs": {"image": combined(encoded)}}

    def positions(self, ids: torch.Tensor, image: int, features: ImageFeatures) -> tuple[torch.Tensor | None, int]:
        """Position ids for one prefix (None: the model's own 0, 1, ...) and the position its next token takes."""
        return None, ids.shape[-1]

    # --- memory -------------------------------------------------------------------------------------------------

    # Bytes this scorer may hold beyond the weights, half for kept prefixes and half for one forward's per-text
    # tensors. None: half of what the weights leave of the GPU's memory (the rest stays for activations, the
    # allocator and other models), or of 16 GiB on the CPU.
    memory_limit: int | None = None

    def memory_budget(self, total_memory: int | None = None) -> int:
        if self.memory_limit:
            return self.memory_limit
        if total_memory is None:
            total_memory = (torch.cuda.get_device_properties(self.device).total_memory
                            if self.device.type == "cuda" else 16 << 30)
        return max(1 << 30, (total_memory - self.weight_bytes) // 2)

    @cached_property
    def weight_bytes(self) -> int:
        return sum(p.numel() * p.element_size() for p in self.model.parameters())

    def _text_config(self):
        return self.model.config.get_text_config()

    def cache_bytes_per_token(self) -> int:
        """The keys and values one token leaves in every layer."""
        cfg = self._text_config()
        heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        return 2 * cfg.num_hidden_layers * heads * head_dim * self.dtype.itemsize

    def texts_per_forward(self, prefix_length: int, suffix_length: int) -> int:
        """How many texts one suffix forward takes, from the model's shape: each holds one layer's keys and values
        over prefix and suffix (the layers reuse one buffer), its logits in float32 and their log-probabilities,
        and its MLP activations."""
        cfg = self._text_config()
        per_text = (self.cache_bytes_per_token() // cfg.num_hidden_layers * (prefix_length + suffix_length)
                    + suffix_length * (2 * 4 * cfg.vocab_size + 3 * cfg.intermediate_size * self.dtype.itemsize))
        return max(1, self.memory_budget() // 2 // per_text)

    # --- scoring ------------------------------------------------------------------------------------------------

    def too_long(self, texts):
        """Texts whose prompt, text and answer overflow the language model's positions, with the image tokens of
        a 448 x 448 image (what every image gets where the count is fixed)."""
        blank = self.preprocess([Image.new("RGB", (NULL_IMAGE_SIDE, NULL_IMAGE_SIDE))])
        room = self.model.config.get_text_config().max_position_embeddings - len(blank.tokens[0])
        pieces = self.pieces(texts, "vqa" if self.head == "vqa" else "clm_exact")
        return [n for n, p in enumerate(pieces) if len(p.prefix) - 1 + len(p.context) + len(p.target) > room]

    def _log_likelihood(self, features, texts, t, i):
        return self._sum_targets(features, self.pieces(texts, "clm_exact"), t, i)

    def _vqa(self, features, texts, t, i):
        return self._sum_targets(features, self.pieces(texts, "vqa"), t, i)[0]

    def _sum_targets(self, features: ImageFeatures, pieces: list[Pieces], t, i) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed log-probabilities of each pair's target tokens, and their number."""
        total = torch.empty(len(t), dtype=torch.float32, device=self.device)
        count = torch.tensor([len(pieces[k].target) for k in t.tolist()], dtype=torch.float32, device=self.device)
        shared = self.share_image_kv and bool(pieces[0].prefix)
        for image in torch.unique(i).tolist():
            rows = (i == image).nonzero().view(-1)
            batch = [pieces[k] for k in t[rows].tolist()]
            length = max(len(p.context) + len(p.target) for p in batch)
            prefix = len(batch[0].prefix) + len(features.inputs.tokens[image])
            step = self.texts_per_forward(prefix if shared else 0, length + (0 if shared else prefix))
            for start in range(0, len(batch), step):
                part = batch[start:start + step]
                total[rows[start:start + step]] = (self._over_prefix(features, image, part) if shared
                                                   else self._whole(features, image, part))
        return total, count

    def _prefix(self, features: ImageFeatures, image: int, piece: Pieces) -> Prefix:
        """The image's prefix for this prompt, run once and kept in the features (while they have room)."""
        key = (image, piece.prefix_text)
        if key not in features.prefixes:
            ids = self.expand(piece.prefix, features.inputs.tokens[image]).to(self.device)[None]
            position_ids, next_position = self.positions(ids, image, features)
            out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids), position_ids=position_ids,
                             use_cache=True, logits_to_keep=1, **self.model_inputs(ids, [image], features),
                             **self.whole_inputs(ids, [ids.shape[1]]))  # a row whose target starts past its end
            prefix = Prefix(out.past_key_values, out.logits[0, -1].float(), ids.shape[1], next_position)
            features.keep(key, prefix, ids.shape[1] * self.cache_bytes_per_token())
            return prefix
        return features.prefixes[key][0]

    def _over_prefix(self, features: ImageFeatures, image: int, batch: list[Pieces]) -> torch.Tensor:
        """One image's pairs as a batch of suffixes (context and target) over its shared prefix."""
        prefix = self._prefix(features, image, batch[0])
        suffixes = [p.context + p.target for p in batch]
        ids, mask = right_pad(suffixes, self.tokenizer.pad_token_id or 0, self.device)
        n, width = ids.shape
        attention = torch.cat([mask.new_ones(n, prefix.length), mask], dim=1)
        positions = (prefix.next_position + torch.arange(width, device=self.device)).expand(n, -1)
        names = [f"language model layer {k} self-attention" for k in range(len(prefix.cache.layers))]
        # Suffix token k is predicted by position k - 1, the first by the prefix's last position: logits are made
        # only from the position before the earliest target on (a question's tokens are context, not scored).
        first = max(min(len(p.context) for p in batch) - 1, 0)
        with shared_prefix(prefix.cache, names) as cache:
            out = self.model(input_ids=ids, attention_mask=attention, position_ids=positions, past_key_values=cache,
                             use_cache=True, logits_to_keep=width - first, **self.suffix_inputs(ids))
        scored = self._spans([len(p.context) for p in batch], [len(p.target) for p in batch], width)
        if first:
            return summed_log_probs(out.logits[:, :-1], ids[:, first + 1:], scored[:, first + 1:])
        first_token = prefix.last_logits.log_softmax(-1)[ids[:, 0]] * scored[:, 0]
        return first_token + summed_log_probs(out.logits[:, :-1], ids[:, 1:], scored[:, 1:])

    def suffix_inputs(self, ids: torch.Tensor) -> dict:
        """What the model's forward takes for a batch of suffixes beside ids, mask, positions and cache."""
        return {}

    def _whole(self, features: ImageFeatures, image: int, batch: list[Pieces]) -> torch.Tensor:
        """One image's pairs each run whole (prefix, context and target), the vision tower's output shared."""
        rows = [self.expand(p.prefix + p.context, features.inputs.tokens[image]).tolist() + p.target for p in batch]
        ids, mask = right_pad(rows, self.tokenizer.pad_token_id or 0, self.device)
        starts = [len(row) - len(p.target) for row, p in zip(rows, batch)]  # where each row's target begins
        inputs = self.model_inputs(ids, [image] * len(batch), features)
        first = min(starts) - 1  # the earliest position that predicts a target: logits are made from there on
        out = self.model(input_ids=ids, attention_mask=mask, use_cache=False, logits_to_keep=ids.shape[1] - first,
                         **inputs, **self.whole_inputs(ids, starts))
        scored = self._spans(starts, [len(p.target) for p in batch], ids.shape[1])
        return summed_log_probs(out.logits[:, :-1], ids[:, first + 1:], scored[:, first + 1:])

    def whole_inputs(self, ids: torch.Tensor, starts: list[int]) -> dict:
        """What the model's forward takes for whole rows beside ids, mask and the image inputs; row r's target
        begins at starts[r]."""
        return {}

    def _spans(self, starts: list[int], lengths: list[int], width: int) -> torch.Tensor:
        """(rows, width) 1 over each row's scored tokens, lengths[r] from starts[r], else 0."""
        scored = torch.zeros((len(starts), width), dtype=torch.long, device=self.device)
        for row, (start, length) in enumerate(zip(starts, lengths)):
            scored[row, start:start + length] = 1
        return scored


def image_only_processors() -> dict[str, type]:
    """The processors of the families whose processor also handles videos, without the video processor.

    transformers builds a processor from the sub-processors its `__init__` names and passes it the saved settings
    its `__init__` takes by name, so each subclass repeats its parent's arguments but `video_processor`. Each
    checks on construction that only the image processor and the tokenizer were asked for, since it leans on
    that rule.
    """
    from transformers import LlavaOnevisionProcessor, Qwen2_5_VLProcessor

    def check(processor):
        if processor.get_attributes() != ["image_processor", "tokenizer"]:
            raise RuntimeError(f"{type(processor).__name__} without its video processor still expects "
                               f"{processor.get_attributes()} under this transformers release")

    class Qwen25VLImageProcessing(Qwen2_5_VLProcessor):
        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)
            check(self)

    class LlavaOnevisionImageProcessing(LlavaOnevisionProcessor):
        def __init__(self, image_processor=None, tokenizer=None, num_image_tokens=None,
                     vision_feature_select_strategy=None, chat_template=None, image_token="<image>",
                     video_token="<video>", vision_aspect_ratio="anyres_max_9", **kwargs):
            super().__init__(image_processor, tokenizer, None, num_image_tokens, vision_feature_select_strategy,
                             chat_template, image_token, video_token, vision_aspect_ratio, **kwargs)
            check(self)

    return {"Qwen2_5_VLProcessor": Qwen25VLImageProcessing, "LlavaOnevisionProcessor": LlavaOnevisionImageProcessing}


TEXT_KEYS = ("input_ids", "attention_mask", "token_type_ids", "mm_token_type_ids")


def combined(outputs: list) -> Any:
    """The vision-tower outputs of several images (each from its own call) as one call over them all would give:
    pooled features concatenated along the image (a tensor) or chained (a tuple or list of per-image tensors)."""
    first = outputs[0]
    pooled = [o.pooler_output for o in outputs]
    if isinstance(first.pooler_output, torch.Tensor):
        merged = torch.cat(pooled, dim=0)
    else:
        merged = type(first.pooler_output)(x for p in pooled for x in p)
    return type(first)(pooler_output=merged)


class LlavaScorer(VisionLanguageScorer):
    """LLaVA-1.5 (llava-hf/llava-1.5-7b-hf): CLIP ViT-L/14-336, 576 image tokens, Vicuna."""
    family = "llava"
    display_name = "LLaVA"
    model_type = "llava"
    architecture = "LlavaForConditionalGeneration"
    # t2v_metrics, t2v_metrics/models/vqascore_models/llava_model.py (commit 10d549b), lines 10-11.
    VQA_QUESTION = 'Does this figure show "{}"? Please answer yes or no.'
    VQA_ANSWER = "Yes"
    # LLaVA-1.5's own prompt for short captions (its COCO and Flickr30K caption evaluations).
    CAPTION_PROMPT = "Provide a one-sentence caption for the provided image."


class LlavaOnevisionScorer(VisionLanguageScorer):
    """LLaVA-OneVision (llava-hf/llava-onevision-qwen2-7b-ov-hf): SigLIP, image tiles by size, Qwen2."""
    family = "llava-onevision"
    display_name = "LLaVA-OneVision"
    model_type = "llava_onevision"
    architecture = "LlavaOnevisionForConditionalGeneration"
    # t2v_metrics, t2v_metrics/models/vqascore_models/llavaov_model.py (commit 10d549b), lines 101-102.
    VQA_QUESTION = 'Does this image show "{}"? Answer the question with Yes or No'
    VQA_ANSWER = "Yes"
    CAPTION_PROMPT = LlavaScorer.CAPTION_PROMPT
    VIDEO_PROCESSOR_CLASS = "LlavaOnevisionProcessor"


class Qwen25VLScorer(VisionLanguageScorer):
    """Qwen2.5-VL (Qwen/Qwen2.5-VL-7B-Instruct): image tokens by image size, 3-D (M-RoPE) positions."""
    family = "qwen2.5-vl"
    display_name = "Qwen2.5-VL"
    model_type = "qwen2_5_vl"
    architecture = "Qwen2_5_VLForConditionalGeneration"
    # t2v_metrics, t2v_metrics/models/vqascore_models/qwen2vl_model.py (commit 6ecb74f), lines 173-174.
    VQA_QUESTION = 'Does this figure show "{}"? Please answer Yes or No.'
    VQA_ANSWER = "Yes"
    CAPTION_PROMPT = LlavaScorer.CAPTION_PROMPT
    VIDEO_PROCESSOR_CLASS = "Qwen2_5_VLProcessor"

    def model_inputs(self, ids, images, features):
        grids = torch.cat([features.inputs.pixels[k]["image_grid_thw"] for k in images]).to(self.device)
        return {**super().model_inputs(ids, images, features), "image_grid_thw": grids,
                "mm_token_type_ids": (ids == self.image_token_id).int()}

    def positions(self, ids, image, features):
        """Image tokens take (time, row, column) positions and text after them continues from the largest."""
        grid = features.inputs.pixels[image]["image_grid_thw"].to(self.device)
        positions, _ = self.model.model.get_rope_index(ids, mm_token_type_ids=(ids == self.image_token_id).int(),
                                                       image_grid_thw=grid, attention_mask=torch.ones_like(ids))
        return positions, int(positions.max()) + 1


class PaliGemmaScorer(VisionLanguageScorer):
    """PaliGemma (google/paligemma-3b-mix-224): SigLIP, 256 image tokens, Gemma; image and prompt attended both
    ways, no chat template: `<image>... <bos>prompt\\n`, then the answer."""
    family = "paligemma"
    display_name = "PaliGemma"
    model_type = "paligemma"
    architecture = "PaliGemmaForConditionalGeneration"
    # t2v_metrics, t2v_metrics/models/vqascore_models/paligemma_model.py (commit 6ecb74f), lines 92-93.
    VQA_QUESTION = 'Does this figure show "{}"? Please answer Yes or No.'
    VQA_ANSWER = "Yes"
    # PaliGemma's own task prefix for English captions.
    CAPTION_PROMPT = "caption en"
    BIDIRECTIONAL_PROMPT = True
    ADD_SPECIAL_TOKENS = False  # the prompt below writes its <bos> itself, after the image, as the processor does

    def render(self, question):
        return f"{self.processor.image_token}{self.tokenizer.bos_token}{question}\n"

    def preprocess(self, images):
        inputs = super().preprocess(images)
        image = self.image_token_id
        return ImageInputs(inputs.pixels, [ids[ids == image] for ids in inputs.tokens])

    def suffix_inputs(self, ids):
        return {"token_type_ids": torch.ones_like(ids)}

    def whole_inputs(self, ids, starts):
        # 0 marks the prompt, attended both ways with the image; the answer (1) is causal.
        types = torch.zeros_like(ids)
        for row, start in enumerate(starts):
            types[row, start:] = 1
        return {"token_type_ids": types}

    def positions(self, ids, image, features):
        return None, ids.shape[-1] + 1  # PaliGemma counts positions from 1


class Idefics3Scorer(VisionLanguageScorer):
    """Idefics3 (HuggingFaceM4/Idefics3-8B-Llama3) and SmolVLM (HuggingFaceTB/SmolVLM-Instruct, whose checkpoints
    are Idefics3's classes): SigLIP tiles of the image plus a global view, a Llama-style language model."""
    family = "idefics3"
    display_name = "Idefics3"
    model_type = "idefics3"
    architecture = "Idefics3ForConditionalGeneration"
    # Not in t2v_metrics: the VQAScore paper's question and answer (as for LLaVA-1.5).
    VQA_QUESTION = LlavaScorer.VQA_QUESTION
    VQA_ANSWER = LlavaScorer.VQA_ANSWER
    CAPTION_PROMPT = LlavaScorer.CAPTION_PROMPT
