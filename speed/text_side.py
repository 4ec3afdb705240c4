"""Pairs per second on the text side at BLIP-large shape: cross-attention keys and values shared vs recomputed.

Re-ranking and the ratio experiments score several texts against each image. Each (text, image) pair
cross-attends to the image's 577 tokens in every layer of the ITM encoder and of the captioning
decoder; projecting those tokens to keys and values costs about 22 GFLOPs per pair at BLIP-large shape,
several times the text's own cost. This prints pairs per second for ITM (log P(match)) and for CLM
(log P(T|I)) with m texts per image, computing those keys and values once per image ("shared",
scoring/shared_kv.py) against once per pair ("recomputed"), and checks the scores agree.

    python speed/text_side.py                              # CPU, m = 1, 8, 16
    python speed/text_side.py --device cuda --dtype bfloat16 --texts-per-image 8 32 128
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import WORDS, build_models, synthetic_examples  # noqa: E402
from timing import fastest_rounds  # noqa: E402

from scoring.batching import DTYPES  # noqa: E402
from scoring.blip import BlipCaptioningScorer, BlipRetrievalScorer  # noqa: E402


def texts_for(n: int, seed: int = 0) -> list[str]:
    g = torch.Generator().manual_seed(seed)
    return [" ".join(WORDS[k] for k in torch.randint(len(WORDS), (int(torch.randint(6, 14, (1,), generator=g)),),
                                                      generator=g)) for _ in range(n)]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=2)
    p.add_argument("--texts-per-image", type=int, nargs="+", default=[1, 8, 16])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    p.add_argument("--repeats", type=int, default=3,
                   help="time each path this many times, alternating, and keep its fastest")
    args = p.parse_args()
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    with tempfile.TemporaryDirectory() as tmp:
        clm, itm, processor, _, _ = build_models(Path(tmp), device, dtype)
    scorers = {"ITM log P(match)": BlipRetrievalScorer(itm, processor, "itm_logprob"),
               "CLM log P(T|I)": BlipCaptioningScorer(clm, processor, "clm_exact")}
    images = [ex[f"image_{i}"] for ex in synthetic_examples((args.images + 1) // 2) for i in (0, 1)][:args.images]
    print(f"BLIP-large shape, {args.images} images, {device}, {args.dtype}, torch threads {torch.get_num_threads()}, "
          f"fastest of {args.repeats} alternating runs")
    print("| head | texts per image | pairs | recomputed pairs/s | shared pairs/s | speed-up | max abs difference | "
          "GFLOP per pair, recomputed | GFLOP per pair, shared |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, scorer in scorers.items():
        features = scorer.encode(scorer.preprocess(images))
        scorer.score(features, texts_for(2), torch.tensor([0, 1]), torch.tensor([0, 0]))  # warm-up
        for m in args.texts_per_image:
            texts = texts_for(m * args.images, seed=m)
            # Pairs grouped by image, as re-ranking scores them: image k with its m texts.
            image_index = torch.arange(args.images).repeat_interleave(m)
            text_index = torch.arange(m * args.images)

            def score(share: bool) -> torch.Tensor:
                scorer.share_image_kv = share
                return scorer.score(features, texts, text_index, image_index)

            runs = fastest_rounds({share: lambda share=share: score(share) for share in (False, True)}, device,
                                  args.repeats)
            seconds = {share: s for share, (s, _) in runs.items()}
            scores = {share: out for share, (_, out) in runs.items()}
            difference = (scores[True] - scores[False]).abs().max().item()
            pairs = len(text_index)
            flops = {}
            for share in (False, True):  # counted in a separate pass: counting slows the run
                scorer.share_image_kv = share
                with FlopCounterMode(display=False) as counter:
                    scorer.score(features, texts, text_index, image_index)
                flops[share] = counter.get_total_flops() / pairs / 1e9
            print(f"| {name} | {m} | {pairs} | {pairs / seconds[False]:.2f} | {pairs / seconds[True]:.2f} | "
                  f"{seconds[False] / seconds[True]:.2f} | {difference:.1e} | {flops[False]:.2f} | {flops[True]:.2f} |")


if __name__ == "__main__":
    main()
