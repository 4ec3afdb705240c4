"""Experiment 3: likelihood ratios P(T|I) / P(T'|I) from BLIP's captioning head, with T' from DistilRoBERTa.

Both ideas at once: the image-conditioned likelihood of experiment 1 and the word-swap normalization of
experiment 2. Since P(T|I) / P(T'|I) = P(T,I) / P(T',I), the ratio asks how much more the image
supports T than the same words in another plausible order.
- as published: ratio of the label-smoothed losses loss(T) / loss(T'), lower is better, published T';
- exact: log P(T|I) - log P(T'|I) (summed token log-probabilities), with the improved whole-word T'.
The contrastive and ITM rows of the published table are quoted from experiment 1, not recomputed.

    python experiment3.py                    # full Winoground on a GPU
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
    Method("clm", "P(T given I) from BLIP causal-LM head (as published)", higher_is_better=False,
           published_image=29.00),
    Method("clm_exact", "log P(T given I) from BLIP causal-LM head (exact)"),
    Method("clm_ratio", "DistilRoBERTa + BLIP CLM head score ratios (as published)", higher_is_better=False,
           published_image=50.25),
    Method("clm_exact_ratio", "Improved T' + BLIP log P(T given I) - log P(T' given I) (exact)"),
]
REFERENCES = [report.BLIP_CONTRASTIVE, report.BLIP_ITM, report.PALI, report.VQ2, report.RANDOM_CHANCE,
              report.HUMANS]
COMPARISONS = [("clm_ratio", "clm"), ("clm_exact_ratio", "clm_exact"), ("clm_exact_ratio", "clm_ratio")]


def main():
    args = experiment_parser("experiment3", __doc__.splitlines()[0], ("clm", "mlm")).parse_args()
    config = run_config(args, "experiment3")
    device, dtype = torch.device(args.device), blip.DTYPES[args.dtype]
    start = time.time()

    data = load_winoground(args.data, args.limit)
    log = RunLog(args.out, config)
    swap_cache = SwapCache(args.swap_cache)
    clm_model, clm_processor = blip.load_captioning_model(args.clm_model, device, dtype)
    mlm, mlm_tokenizer = load_mlm(args.mlm_model, device, dtype)

    def score(examples):
        images = [ex[f"image_{i}"] for ex in examples for i in (0, 1)]
        captions = [ex[f"caption_{c}"] for ex in examples for c in (0, 1)]
        swaps = {m: find_swaps(mlm, mlm_tokenizer, captions, m, args.seed, cache=swap_cache)
                 for m in (PUBLISHED, IMPROVED)}
        swap_cache.save()
        t, i = blip.grid_pairs(len(examples), 4, device=device)  # caption_0, caption_1, T'_0, T'_1 x 2 images
        tokenizer = clm_processor.tokenizer

        embeds = blip.encode_images(clm_model, blip.pixel_values(clm_processor, images, device, dtype))
        texts = blip.grid_texts(captions, swapped_or_same(captions, swaps[PUBLISHED]))
        loss = blip.clm_published_loss(clm_model, tokenizer, embeds, texts, t, i).view(-1, 4, 2)
        texts = blip.grid_texts(captions, swapped_or_same(captions, swaps[IMPROVED]))
        log_p = blip.clm_log_likelihood(clm_model, tokenizer, embeds, texts, t, i).view(-1, 4, 2)

        T, swapped = slice(0, 2), slice(2, 4)  # [example, text, image]
        scores = {"clm": loss[:, T], "clm_exact": log_p[:, T],
                  "clm_ratio": loss[:, T] / loss[:, swapped],
                  "clm_exact_ratio": log_p[:, T] - log_p[:, swapped]}
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
    print(f"\nExperiment 3 on {len(records)} Winoground examples ({args.data})\n\n{table}")
    print(f"\nCaptions with nothing to swap (T' = T): {no_swap[PUBLISHED]} published, {no_swap[IMPROVED]} improved")
    print(f"Results in {log.out_dir}; word swaps in {args.swap_cache}; wall time {time.time() - start:.1f} s")


if __name__ == "__main__":
    main_with_clean_errors(main)
