"""Pairs per second of a generative VLM scorer: each image's prefix shared by its captions, against every pair whole.

Builds random-weight models with real checkpoints' shapes, nothing downloaded:
  llava-1.5-7b:    CLIP ViT-L/14 at 336 px (576 image tokens), Vicuna-7B (32 layers, width 4096);
  qwen2.5-vl-7b:   Qwen2.5-VL's 32-block vision tower on 640 x 480 images (about 400 image tokens), Qwen2.5-7B
                   (28 layers, width 3584, 4 key-value heads, vocabulary 152064).
For C captions per image (2 and 16) over N images it times `scorer.score` (log P(T | image, caption prompt)),
after the images are encoded, by three paths:
  shared:    one prefix forward per image, the image's captions one batch of suffixes over its cache;
  whole:     each pair's whole sequence, the image's pairs one batch (scorer.share_image_kv = False);
  per pair:  each pair's whole sequence, one forward per pair (the plain transformers way).
It prints pairs/s, the language model's tokens/s and the fraction of the chip's bfloat16 rate those tokens use
(2 FLOPs per parameter per token; attention not counted). Target: shared at least 5x per pair at C = 16.

    python speed/vlm.py                          # on a GPU: both models, bfloat16
    python speed/vlm.py --tiny --device cpu --dtype float32    # the mechanics on a CPU, in a minute
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "speed"))
sys.path.insert(0, str(ROOT / "tests"))

from fixtures import CHATML_TEMPLATE, LLAVA_TEMPLATE, vlm_tokenizer  # noqa: E402
from timing import fastest_rounds  # noqa: E402

from scoring.batching import DTYPES  # noqa: E402
from scoring.vlm import LlavaScorer, Qwen25VLScorer, image_only_processors  # noqa: E402

# Dense bfloat16 rate of the chips this is run on, in FLOP/s.
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12}
WORDS = "a the dog cat person tree house sky grass cup red blue green small big left of on under next to".split()


def llava(tiny: bool):
    from transformers import CLIPImageProcessorPil, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    tok = vlm_tokenizer(["<pad>", "<s>", "</s>", "<image>"], pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                        image_token="<image>", bos_first=True)
    side, patch = 336, 14  # 576 image tokens, also with --tiny
    vision = (dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4) if tiny else
              dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16))
    text = (dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4) if tiny else
            dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32))
    config = LlavaConfig(vision_config=dict(model_type="clip_vision_model", image_size=side, patch_size=patch, **vision),
                         text_config=dict(model_type="llama", vocab_size=32064, max_position_embeddings=4096,
                                          pad_token_id=0, bos_token_id=1, eos_token_id=2, **text),
                         image_token_id=tok.convert_tokens_to_ids("<image>"))
    processor = LlavaProcessor(CLIPImageProcessorPil(size={"shortest_edge": side},
                                                     crop_size={"height": side, "width": side}),
                               tok, patch_size=patch, vision_feature_select_strategy="default",
                               num_additional_image_tokens=1, chat_template=LLAVA_TEMPLATE)
    return LlavaScorer, LlavaForConditionalGeneration, config, processor


def qwen(tiny: bool):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2VLImageProcessorPil

    tok = vlm_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                         "<|image_pad|>", "<|video_pad|>"], pad_token="<|endoftext|>", eos_token="<|im_end|>")
    ids = tok.convert_tokens_to_ids
    vision = (dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=4, out_hidden_size=64,
                   fullatt_block_indexes=[1]) if tiny else
              dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=3584,
                   fullatt_block_indexes=[7, 15, 23, 31]))
    text = (dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, rope_parameters={"rope_type": "default", "rope_theta": 1e6,
                                                         "mrope_section": [2, 3, 3]}) if tiny else
            dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                 num_key_value_heads=4, rope_parameters={"rope_type": "default", "rope_theta": 1e6,
                                                         "mrope_section": [16, 24, 24]}))
    config = Qwen2_5_VLConfig(text_config=dict(model_type="qwen2_5_vl_text", vocab_size=152064,
                                               max_position_embeddings=32768, eos_token_id=ids("<|im_end|>"),
                                               pad_token_id=ids("<|endoftext|>"), bos_token_id=None, **text),
                              vision_config=dict(patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                                                 window_size=112, **vision),
                              image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
                              vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"))
    pixels = 12845056  # Qwen2.5-VL's own max_pixels
    processor = image_only_processors()["Qwen2_5_VLProcessor"](
        Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=pixels, patch_size=14, merge_size=2,
                                 temporal_patch_size=2), tok,
        chat_template=CHATML_TEMPLATE.replace("{{ IMAGE }}", "<|vision_start|><|image_pad|><|vision_end|>"))
    return Qwen25VLScorer, Qwen2_5_VLForConditionalGeneration, config, processor


MODELS = {"llava-1.5-7b": llava, "qwen2.5-vl-7b": qwen}


def build(name: str, tiny: bool, device: torch.device, dtype: torch.dtype):
    scorer_cls, model_cls, config, processor = MODELS[name](tiny)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            torch.manual_seed(0)
            model = model_cls(config)
    finally:
        torch.set_default_dtype(previous)
    return scorer_cls(model.eval().requires_grad_(False), processor, "clm_exact", name)


def captions(n: int, rng: np.random.Generator) -> list[str]:
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(8, 14)))) for _ in range(n)]


def language_model_parameters(scorer) -> int:
    language = getattr(scorer.model.model, "language_model")
    return sum(p.numel() for p in language.parameters()) + scorer.model.lm_head.weight.numel()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--images", type=int, default=8, help="images per timed call")
    p.add_argument("--captions", default="2,16", help="captions per image")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="bfloat16", choices=sorted(DTYPES))
    p.add_argument("--tiny", action="store_true", help="small widths and depths at the real image token counts, "
                                                       "to check the mechanics on a CPU")
    args = p.parse_args()
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    chip = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = next((rate for key, rate in PEAK_BF16.items() if key in chip), None)
    rng = np.random.default_rng(0)
    side = (640, 480)
    images = [Image.fromarray(rng.integers(0, 256, size=(side[1], side[0], 3), dtype=np.uint8))
              for _ in range(args.images)]
    print(f"{chip}, {args.dtype}, {args.images} images of {side[0]} x {side[1]}, fastest of {args.repeats} rounds\n")
    print("| model | captions per image | path | pairs/s | x per pair | LM tokens/s | of bf16 peak |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for name in args.models.split(","):
        scorer = build(name, args.tiny, device, dtype)
        params = language_model_parameters(scorer)
        features = scorer.encode(scorer.preprocess(images))
        image_tokens = [len(t) for t in features.inputs.tokens]
        for per_image in map(int, args.captions.split(",")):
            texts = captions(per_image * args.images, rng)
            t = torch.arange(len(texts))
            i = torch.arange(args.images).repeat_interleave(per_image)
            pieces = scorer.pieces(texts, "clm_exact")
            prefix = [len(pieces[0].prefix) - 1 + n for n in image_tokens]
            suffix = [len(p.target) for p in pieces]
            tokens = {"shared": sum(prefix) + sum(suffix),
                      "whole": sum(prefix[k] for k in i.tolist()) + sum(suffix)}
            tokens["per pair"] = tokens["whole"]

            def run(share: bool, one_per_forward: bool):
                scorer.share_image_kv, scorer.memory_limit = share, (1 if one_per_forward else None)
                features.prefixes.clear()
                return scorer.score(features, texts, t, i)

            paths = {"shared": lambda: run(True, False), "whole": lambda: run(False, False),
                     "per pair": lambda: run(False, True)}
            best = fastest_rounds(paths, device, args.repeats)
            scores = {k: v[1].float().cpu() for k, v in best.items()}
            worst = max((scores[k] - scores["per pair"]).abs().max().item() for k in scores)
            for path, (seconds, _) in best.items():
                rate = tokens[path] / seconds
                share = f"{100 * 2 * params * rate / peak:.1f}%" if peak else "-"
                print(f"| {name} | {per_image} | {path} | {len(texts) / seconds:,.1f} | "
                      f"{best['per pair'][0] / seconds:.1f} | {rate:,.0f} | {share} |")
            print(f"| {name} | {per_image} | largest difference from per pair | {worst:.2e} | | | |")
        scorer = features = None  # free the model before the next is built
        if device.type == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
