"""CLIP (`CLIPModel`): cosine similarity of the projected, normalized image and text embeddings."""

from scoring.dual_encoder import DualEncoderScorer


class ClipScorer(DualEncoderScorer):
    family = "clip"
    display_name = "CLIP"
    model_type = "clip"
    architecture = "CLIPModel"
