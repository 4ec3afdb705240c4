"""Experiment 1: is P(T|I) from BLIP's captioning head a better match score than its contrastive and ITM heads?

For every Winoground example, each caption is scored against each image by
- the contrastive head (cosine similarity) and the ITM head (match logit; log P(match), exact; and
  log P(match) with [ENC] first, as BLIP computed ITM in training),
- the causal-LM head: the published label-smoothed loss (lower is better) and log P(T|I), exact.
Each image is encoded once per model. --itm-model takes any checkpoint with a contrastive head (BLIP,
BLIP-2, CLIP, SigLIP) and --clm-model a BLIP or BLIP-2 captioning one or a generative VLM (LLaVA-1.5,
LLaVA-OneVision, Qwen2.5-VL, PaliGemma, Idefics3/SmolVLM, InstructBLIP: log P(T | image, caption prompt));
rows a checkpoint cannot compute are left out. See scoring/ for the arithmetic.

    python experiment1.py                    # full Winoground on a GPU
    python experiment1.py --limit 20 --device cpu
"""

from evaluation.cli import experiment_parser, main_with_clean_errors
from evaluation.rows import Row, Term
from pipeline.grid_run import GridRun

ROWS = [
    Row("contrastive", "{model} contrastive head", (Term("itm", "contrastive"),)),
    Row("itm", "{model} ITM head", (Term("itm", "itm"),)),
    Row("itm_logprob", "{model} ITM head, log P(match) (exact)", (Term("itm", "itm_logprob"),)),
    Row("itm_enc_logprob", "{model} ITM head with [ENC] first, log P(match) (exact)", (Term("itm", "itm_enc_logprob"),)),
    Row("clm", "P(T given I) from {model} causal-LM head (as published)", (Term("clm", "clm"),),
        higher_is_better=False),
    Row("clm_exact", "log P(T given I) from {model} causal-LM head (exact)", (Term("clm", "clm_exact"),)),
]
COMPARISONS = [("clm", "itm"), ("clm", "contrastive"), ("clm_exact", "clm"), ("itm_enc_logprob", "itm_logprob")]


def main():
    args = experiment_parser("experiment1", __doc__.splitlines()[0], ("clm", "itm")).parse_args()
    run = GridRun(args, "experiment1")
    if not run.already_finished():  # else: the same inputs as a finished run in --out; its tables, nothing loaded
        rows = run.prepare(ROWS)
        run.report(run.score_rows(rows), rows, COMPARISONS)


if __name__ == "__main__":
    main_with_clean_errors(main)
