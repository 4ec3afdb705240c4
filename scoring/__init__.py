"""Image-text match scores from existing models, behind one interface (see scoring/base.py).

    import scoring
    scorer = scoring.load_scorer("Salesforce/blip-itm-large-coco", "itm", device="cuda")
    scores = scorer(images, texts)            # (len(texts), len(images)) float32
    scorer.higher_is_better                   # True

The family comes from the checkpoint's config (its architecture), so any hub id or local folder of a
supported family works. To add a family, write one module with a `Scorer` subclass and add it to
`FAMILIES` below.
"""

from __future__ import annotations

import torch

from common.errors import InputError, first_line, gated_checkpoint
from scoring.base import Scorer
from scoring.blip import BlipCaptioningScorer, BlipRetrievalScorer
from scoring.blip2 import Blip2CaptioningScorer, Blip2RetrievalScorer
from scoring.clip import ClipScorer
from scoring.instructblip import InstructBlipScorer
from scoring.siglip import SiglipScorer
from scoring.vlm import (
    Idefics3Scorer,
    LlavaOnevisionScorer,
    LlavaScorer,
    PaliGemmaScorer,
    Qwen25VLScorer,
)

FAMILIES: dict[str, type[Scorer]] = {cls.family: cls for cls in (
    BlipRetrievalScorer,
    BlipCaptioningScorer,
    Blip2RetrievalScorer,
    Blip2CaptioningScorer,
    ClipScorer,
    SiglipScorer,
    LlavaScorer,
    LlavaOnevisionScorer,
    Qwen25VLScorer,
    PaliGemmaScorer,
    Idefics3Scorer,
    InstructBlipScorer,
)}


def available_families() -> dict[str, dict[str, bool]]:
    """Every supported family with its heads (head -> higher_is_better)."""
    return {name: dict(cls.HEADS) for name, cls in FAMILIES.items()}


def family_of(name_or_path: str) -> type[Scorer]:
    """The Scorer class for a checkpoint, read from its config's architectures (or model_type)."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(name_or_path)
    except (OSError, ValueError) as e:
        raise gated_checkpoint(name_or_path, e) or InputError(
            f"cannot read the config of '{name_or_path}': pass a hub id or a folder saved with save_pretrained "
            f"({first_line(e)})") from None
    architectures = list(getattr(config, "architectures", None) or [])
    for cls in FAMILIES.values():
        if cls.architecture in architectures:
            return cls
    by_type = [cls for cls in FAMILIES.values() if cls.model_type == config.model_type]
    if not architectures and len(by_type) == 1:
        return by_type[0]
    supported = ", ".join(f"{name} ({cls.architecture})" for name, cls in FAMILIES.items())
    found = f"{config.model_type} ({', '.join(architectures) or 'no architecture named'})"
    raise InputError(f"'{name_or_path}' is a {found} checkpoint, which no scorer supports; supported: {supported}")


def load_scorer(name_or_path: str, head: str, device: str | torch.device = "cpu",
                dtype: torch.dtype = torch.float32) -> Scorer:
    """Load a checkpoint as a Scorer scoring with `head`; `scorer(images, texts)` gives (n_texts, n_images)."""
    cls = family_of(name_or_path)
    if head not in cls.HEADS:
        raise InputError(f"'{name_or_path}' is {cls.display_name} ({cls.family}), which has no '{head}' head; "
                         f"its heads are {', '.join(cls.HEADS)}")
    return cls.load(name_or_path, head, torch.device(device), dtype)


__all__ = ["FAMILIES", "Scorer", "available_families", "family_of", "load_scorer"]
