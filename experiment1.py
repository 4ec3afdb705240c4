"""Experiment 1: is P(T|I) from BLIP's captioning head a better match score than its contrastive and ITM heads?

For every Winoground example, each caption is scored against each image by
- the contrastive head (cosine similarity) and the ITM head (match logit; log P(match), exact; and
  log P(match) with [ENC] first, as BLIP computed ITM in training),
- the causal-LM head: the published label-smoothed loss (lower is better) and log P(T|I), exact.
Each image is encoded once per model. --itm-model takes any checkpoint with a contrastive head (BLIP,
BLIP-2, CLIP, SigLIP) and --clm-model a BLIP or BLIP-2 captioning one; rows a checkpoint cannot
compute are left out. See scoring/ for the arithmetic.

    python experiment1.py                    # full Winoground on a GPU
    python experiment1.py --limit 20 --device cpu
"""

from evaluation import report
from evaluation.cli import experiment_parser, main_with_clean_errors
from evaluation.experiment import WinogroundRun
from evaluation.report import Method
from evaluation.runs import example_records
from scoring.batching import grid_pairs

METHODS = [
    Method("contrastive", "{model} contrastive head", published_image=13.50, model="itm", head="contrastive"),
    Method("itm", "{model} ITM head", published_image=24.25, model="itm", head="itm"),
    Method("itm_logprob", "{model} ITM head, log P(match) (exact)", model="itm", head="itm_logprob"),
    Method("itm_enc", "{model} ITM head with [ENC] first, log P(match) (exact)", model="itm", head="itm_enc"),
    Method("clm", "P(T given I) from {model} causal-LM head (as published)", higher_is_better=False,
           published_image=29.00, model="clm", head="clm"),
    Method("clm_exact", "log P(T given I) from {model} causal-LM head (exact)", model="clm", head="clm_exact"),
]
REFERENCES = [report.RANDOM_CHANCE, report.HUMANS]
COMPARISONS = [("clm", "itm"), ("clm", "contrastive"), ("clm_exact", "clm"), ("itm_enc", "itm_logprob")]


def main():
    args = experiment_parser("experiment1", __doc__.splitlines()[0], ("clm", "itm")).parse_args()
    run = WinogroundRun(args, "experiment1")
    itm = run.load_scorer("itm", args.itm_model, "contrastive")
    clm = run.load_scorer("clm", args.clm_model, "clm_exact")
    rows = run.rows(METHODS)
    heads = {role: [m.head for m in rows if m.model == role] for role in ("itm", "clm")}

    def score(batch):  # pixel values come preprocessed, once per distinct preprocessing (BLIP-large: once)
        t, i = grid_pairs(len(batch), 2)  # the 4 (caption, image) pairs of each example
        scores = itm.score_heads(itm.encode(batch.pixels_for(itm)), batch.captions, t, i, heads["itm"])
        scores |= clm.score_heads(clm.encode(batch.pixels_for(clm)), batch.captions, t, i, heads["clm"])
        return example_records(batch.examples, {k: v.view(-1, 2, 2) for k, v in scores.items()})

    run.score(score)
    run.report(run.finish(), rows, REFERENCES, COMPARISONS)


if __name__ == "__main__":
    main_with_clean_errors(main)
