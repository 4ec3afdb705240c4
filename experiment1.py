"""Experiment 1: is P(T|I) from BLIP's captioning head a better match score than its contrastive and ITM heads?

For every Winoground example, each caption is scored against each image by
- the contrastive head (cosine similarity) and the ITM head (match logit; log P(match), exact),
- the causal-LM head: the published label-smoothed loss (lower is better) and log P(T|I), exact.
Each image is encoded once per model; see scoring/blip.py for the arithmetic.

    python experiment1.py                    # full Winoground on a GPU
    python experiment1.py --limit 20 --device cpu
"""

import time

import torch
from tqdm import tqdm

from scoring import blip, report
from scoring.cli import experiment_parser, main_with_clean_errors, run_config
from scoring.data import load_winoground
from scoring.report import Method
from scoring.runs import RunLog, example_records, split_on_oom

METHODS = [
    Method("contrastive", "BLIP contrastive head", published_image=16.00),
    Method("itm", "BLIP ITM head", published_image=24.25),
    Method("itm_logprob", "BLIP ITM head, log P(match) (exact)"),
    Method("clm", "P(T given I) from BLIP causal-LM head (as published)", higher_is_better=False,
           published_image=29.00),
    Method("clm_exact", "log P(T given I) from BLIP causal-LM head (exact)"),
]
REFERENCES = [report.RANDOM_CHANCE, report.HUMANS]
COMPARISONS = [("clm", "itm"), ("clm", "contrastive"), ("clm_exact", "clm")]


def main():
    args = experiment_parser("experiment1", __doc__.splitlines()[0], ("clm", "itm")).parse_args()
    config = run_config(args, "experiment1")
    device, dtype = torch.device(args.device), blip.DTYPES[args.dtype]
    start = time.time()

    data = load_winoground(args.data, args.limit)
    log = RunLog(args.out, config)
    itm_model, itm_processor = blip.load_retrieval_model(args.itm_model, device, dtype)
    clm_model, clm_processor = blip.load_captioning_model(args.clm_model, device, dtype)
    # BLIP-large checkpoints share their image preprocessing; resize each image once when they do.
    same_pixels = itm_processor.image_processor.to_dict() == clm_processor.image_processor.to_dict()

    def score(examples):
        images = [ex[f"image_{i}"] for ex in examples for i in (0, 1)]
        captions = [ex[f"caption_{c}"] for ex in examples for c in (0, 1)]
        t, i = blip.grid_pairs(len(examples), 2, device=device)  # 4 (caption, image) pairs per example

        pixels = blip.pixel_values(itm_processor, images, device, dtype)
        embeds = blip.encode_images(itm_model, pixels)
        similarity = blip.contrastive_similarity(itm_model, itm_processor.tokenizer, embeds, captions)[t, i]
        itm = blip.itm_logits(itm_model, itm_processor.tokenizer, embeds, captions, t, i)

        if not same_pixels:
            pixels = blip.pixel_values(clm_processor, images, device, dtype)
        embeds = blip.encode_images(clm_model, pixels)
        loss = blip.clm_published_loss(clm_model, clm_processor.tokenizer, embeds, captions, t, i)
        log_p = blip.clm_log_likelihood(clm_model, clm_processor.tokenizer, embeds, captions, t, i)

        scores = {"contrastive": similarity, "itm": itm[:, 1], "itm_logprob": blip.itm_log_prob(itm),
                  "clm": loss, "clm_exact": log_p}
        return example_records(examples, {k: v.view(-1, 2, 2) for k, v in scores.items()})

    pending = log.pending_batches(data, args.batch_size)
    with tqdm(total=len(data), initial=len(data) - sum(map(len, pending)), unit="example") as bar:
        for rows in pending:
            log.append(split_on_oom(score, [data[k] for k in rows]))
            bar.update(len(rows))

    records = log.finish(data["id"])
    table = report.report_run(log.out_dir, config, records, METHODS, REFERENCES, COMPARISONS)
    print(f"\nExperiment 1 on {len(records)} Winoground examples ({args.data})\n\n{table}")
    print(f"\nResults in {log.out_dir}; wall time {time.time() - start:.1f} s")


if __name__ == "__main__":
    main_with_clean_errors(main)
