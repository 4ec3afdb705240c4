"""What experiment 5's prior rows cost: its scoring with the caption priors over null images against without them.

At BLIP-large shape (random weights, speed/throughput.py) on Winoground-shaped examples, with a cold prior
cache and T' already searched (both paths read the same swaps): the path without priors computes every
term of experiment 5's rows that meets a real image (log P(T|I) and its per-token mean, the published
loss, ITM, contrastive, each on T and the T' its rows divide by, and DistilRoBERTa's PLL); the path with
priors adds, per run, the K null images' encodings for both models and, per caption, its K pairs with
them for log P(T|I), ITM log P(match) and the contrastive head, whose keys and values are projected once
per null image (scoring/shared_kv.py). The K null-image encodings are a per-run cost, so the ratio is
also projected to a full Winoground run (--project-examples) from the measured per-example and per-run
parts. FLOPs are counted with torch's FlopCounterMode.

    python speed/priors.py --examples 2                              # CPU
    python speed/priors.py --examples 64 --device cuda --dtype bfloat16
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

from throughput import build_models, synthetic_examples  # noqa: E402
from timing import fastest_rounds  # noqa: E402

import experiment5  # noqa: E402
from evaluation.batches import Batch, preprocess_key  # noqa: E402
from evaluation.rows import MLM, NULL  # noqa: E402
from evaluation.terms import caption_priors, row_terms  # noqa: E402
from perturb.swap import SEARCHES, find_swaps  # noqa: E402
from scoring.batching import DTYPES  # noqa: E402
from scoring.blip import BlipCaptioningScorer, BlipRetrievalScorer  # noqa: E402
from scoring.priors import PriorCache, fill_priors, null_pixels  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--null-images", type=int, default=3)
    p.add_argument("--project-examples", type=int, default=400, help="the run size the ratio is projected to")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    p.add_argument("--repeats", type=int, default=2, help="alternating rounds; each path keeps its fastest")
    args = p.parse_args()
    device, dtype = torch.device(args.device), DTYPES[args.dtype]

    with tempfile.TemporaryDirectory() as folder:
        clm, itm, processor, mlm, mlm_tokenizer = build_models(Path(folder), device, dtype)
    scorers = {"clm": BlipCaptioningScorer(clm, processor, "clm_exact", "blip-large-shaped"),
               "itm": BlipRetrievalScorer(itm, processor, "contrastive", "blip-large-shaped")}
    roles = {*scorers, MLM}
    rows = [r for r in experiment5.ROWS if not r.cross_validated and all(t.model in roles for t in r.terms)
            and all(t.head in (scorers[t.model].heads if t.model in scorers else ("pll", "gate")) for t in r.terms)]
    without = [r for r in rows if all(t.image != NULL for t in r.terms)]
    examples = synthetic_examples(args.examples)
    batches = []
    for first in range(0, len(examples), args.batch_size):
        part = examples[first:first + args.batch_size]
        images = [ex[f"image_{i}"] for ex in part for i in range(2)]
        pixels = {preprocess_key(s): s.preprocess(images) for s in scorers.values()}
        captions = [ex[f"caption_{c}"] for ex in part for c in range(2)]
        swaps = {s: find_swaps(mlm, mlm_tokenizer, captions, s) for s in SEARCHES}
        records = [{k: v for k, v in ex.items() if not k.startswith("image")} for ex in part]
        batches.append((Batch(records, pixels, torch.arange(len(images)).view(-1, 2)), swaps))
    captions = sorted({ex[f"caption_{c}"] for ex in examples for c in range(2)})

    def score(selected, prior_of):
        return [row_terms(scorers, (mlm, mlm_tokenizer), batch, selected, swaps, prior_of) for batch, swaps in batches]

    def null_features():  # per run: the K null images through both vision towers
        return {role: s.encode(null_pixels(s, args.null_images, 0)) for role, s in scorers.items()}

    nulls = null_features()

    def prior_texts():  # per caption, cold cache: its K pairs with the null images, for each prior head
        cache = PriorCache(None)
        for role, heads in {"clm": ["clm_exact"], "itm": ["itm_logprob", "contrastive"]}.items():
            fill_priors(scorers[role], nulls[role], captions, heads, 0, cache)
        return cache

    def with_priors():  # the whole path: null images encoded, every caption's prior computed, then scoring
        return score(rows, caption_priors(scorers, rows, captions, args.null_images, 0, PriorCache(None)))

    paths = {"without": lambda: score(without, {}), "null": null_features, "texts": prior_texts, "with": with_priors}
    best = fastest_rounds(paths, device, args.repeats)
    flops = {}
    for name, path in paths.items():
        with FlopCounterMode(display=False) as counter:
            path()
        flops[name] = counter.get_total_flops()
    seconds = {name: best[name][0] for name in paths}

    n, e = args.project_examples, len(examples)

    def projected(cost):  # the per-run null images once, the rest per example, at n examples
        return (cost["without"] / e * n + cost["null"] + cost["texts"] / e * n) / (cost["without"] / e * n)

    print(f"{e} examples, batch {args.batch_size}, K = {args.null_images}, {args.device} {args.dtype}; rows with "
          f"priors: {', '.join(r.key for r in rows if r not in without)}")
    print("| part | seconds | GFLOP | seconds / path without priors | FLOP / path without priors |")
    print("|---|---:|---:|---:|---:|")
    for name, what in (("without", "experiment 5 scoring without prior rows"),
                       ("null", "per run: K null images through both vision towers"),
                       ("texts", f"per caption: {len(captions)} captions x K null images, 3 prior heads"),
                       ("with", "experiment 5 scoring with prior rows, cold prior cache")):
        print(f"| {what} | {seconds[name]:.2f} | {flops[name] / 1e9:.1f} | {seconds[name] / seconds['without']:.3f} | "
              f"{flops[name] / flops['without']:.3f} |")
    print(f"\nWith prior rows / without, projected to {n} examples (the per-run part once): "
          f"{projected(seconds):.3f}x by time, {projected(flops):.3f}x by FLOP count (target: at most 1.15x).")


if __name__ == "__main__":
    main()
