"""Experiment 2: score ratios s(T,I) / s(T',I) against a word-swapped caption T' found with DistilRoBERTa.

A caption's own wording makes some captions score high on every image. Dividing by the score of T',
the same words in a plausible other order, cancels that prior. For the contrastive and ITM heads:
- as published: plain ratios of the cosine similarity / of the raw match logit, with the published T';
- exact: differences of similarity / of log P(match) (log-ratios), with the improved whole-word T'.
T' = T for a caption with nothing to swap (counted in the output). See perturb/swap.py for T'.

    python experiment2.py                    # full Winoground on a GPU
"""

import time

import torch
from tqdm import tqdm

from perturb.swap import (IMPROVED, PUBLISHED, SwapCache, count_without_swap, find_swaps, load_mlm,
                          swap_fields, swapped_or_same)
from scoring import blip, report
from scoring.cli import experiment_parser, main_with_clean_errors, run_config
from scoring.data import load_winoground
from scoring.report import Method
from scoring.runs import RunLog, example_records, split_on_oom

METHODS = [
    Method("contrastive", "BLIP contrastive head", published_image=16.00),
    Method("itm", "BLIP ITM head", published_image=24.25),
    Method("contrastive_ratio", "DistilRoBERTa + BLIP contrastive head score ratios (as published)",
           published_image=52.00),
    Method("itm_ratio", "DistilRoBERTa + BLIP ITM head score ratios (as published)", published_image=25.00),
    Method("contrastive_exact_ratio", "Improved T' + BLIP contrastive similarity differences (exact)"),
    Method("itm_exact_ratio", "Improved T' + BLIP ITM log P(match) differences (exact)"),
]
REFERENCES = [report.PALI, report.VQ2, report.RANDOM_CHANCE, report.HUMANS]
COMPARISONS = [("contrastive_ratio", "contrastive"), ("itm_ratio", "itm"),
               ("contrastive_exact_ratio", "contrastive_ratio"), ("itm_exact_ratio", "itm_ratio")]


def main():
    args = experiment_parser("experiment2", __doc__.splitlines()[0], ("itm", "mlm")).parse_args()
    config = run_config(args, "experiment2")
    device, dtype = torch.device(args.device), blip.DTYPES[args.dtype]
    start = time.time()

    data = load_winoground(args.data, args.limit)
    log = RunLog(args.out, config)
    swap_cache = SwapCache(args.swap_cache)
    itm_model, itm_processor = blip.load_retrieval_model(args.itm_model, device, dtype)
    mlm, mlm_tokenizer = load_mlm(args.mlm_model, device, dtype)

    def score(examples):
        images = [ex[f"image_{i}"] for ex in examples for i in (0, 1)]
        captions = [ex[f"caption_{c}"] for ex in examples for c in (0, 1)]
        swaps = {m: find_swaps(mlm, mlm_tokenizer, captions, m, args.seed, cache=swap_cache)
                 for m in (PUBLISHED, IMPROVED)}
        swap_cache.save()
        # Six texts per example: caption_0, caption_1, their published T', their improved T'.
        texts = blip.grid_texts(captions, *(swapped_or_same(captions, swaps[m]) for m in (PUBLISHED, IMPROVED)))
        t, i = blip.grid_pairs(len(examples), 6, device=device)

        embeds = blip.encode_images(itm_model, blip.pixel_values(itm_processor, images, device, dtype))
        sim = blip.contrastive_similarity(itm_model, itm_processor.tokenizer, embeds, texts)[t, i].view(-1, 6, 2)
        logits = blip.itm_logits(itm_model, itm_processor.tokenizer, embeds, texts, t, i)
        match, log_p = logits[:, 1].view(-1, 6, 2), blip.itm_log_prob(logits).view(-1, 6, 2)

        T, published, improved = slice(0, 2), slice(2, 4), slice(4, 6)  # [example, text, image]
        scores = {"contrastive": sim[:, T], "itm": match[:, T],
                  "contrastive_ratio": sim[:, T] / sim[:, published],
                  "itm_ratio": match[:, T] / match[:, published],
                  "contrastive_exact_ratio": sim[:, T] - sim[:, improved],
                  "itm_exact_ratio": log_p[:, T] - log_p[:, improved]}
        return example_records(examples, scores, swap_fields(swaps))

    pending = log.pending_batches(data, args.batch_size)
    with tqdm(total=len(data), initial=len(data) - sum(map(len, pending)), unit="example") as bar:
        for rows in pending:
            log.append(split_on_oom(score, [data[k] for k in rows]))
            bar.update(len(rows))

    records = log.finish(data["id"])
    no_swap = count_without_swap(records)
    table = report.report_run(log.out_dir, config, records, METHODS, REFERENCES, COMPARISONS,
                              extra={"captions_without_swap": no_swap})
    print(f"\nExperiment 2 on {len(records)} Winoground examples ({args.data})\n\n{table}")
    print(f"\nCaptions with nothing to swap (T' = T): {no_swap[PUBLISHED]} published, {no_swap[IMPROVED]} improved")
    print(f"Results in {log.out_dir}; word swaps in {args.swap_cache}; wall time {time.time() - start:.1f} s")


if __name__ == "__main__":
    main_with_clean_errors(main)
