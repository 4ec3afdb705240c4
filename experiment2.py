"""Experiment 2: score ratios s(T,I) / s(T',I) against a word-swapped caption T' found with DistilRoBERTa.

A caption's own wording makes some captions score high on every image. Dividing by the score of T',
the same words in a plausible other order, cancels that prior. For the contrastive and ITM heads:
- as published: plain ratios of the cosine similarity / of the raw match logit, with the published T';
- exact: differences of similarity / of log P(match) (log-ratios), with the improved whole-word T',
  also for log P(match) with [ENC] first.
T' = T for a caption with nothing to swap (counted in the output). See perturb/swap.py for T'.
--itm-model takes any checkpoint with a contrastive head; rows it cannot compute are left out.

    python experiment2.py                    # full Winoground on a GPU
"""

from evaluation.cli import experiment_parser, main_with_clean_errors
from evaluation.rows import Row, Term, difference, ratio
from perturb.swap import IMPROVED, PUBLISHED
from pipeline.grid_run import GridRun

ROWS = [
    Row("contrastive", "{model} contrastive head", (Term("itm", "contrastive"),)),
    Row("itm", "{model} ITM head", (Term("itm", "itm"),)),
    Row("contrastive_ratio", "DistilRoBERTa + {model} contrastive head score ratios (as published)",
        (Term("itm", "contrastive"), Term("itm", "contrastive", PUBLISHED)), ratio),
    Row("itm_ratio", "DistilRoBERTa + {model} ITM head score ratios (as published)",
        (Term("itm", "itm"), Term("itm", "itm", PUBLISHED)), ratio),
    Row("contrastive_ratio_improved", "Improved T' + {model} contrastive similarity differences (exact)",
        (Term("itm", "contrastive"), Term("itm", "contrastive", IMPROVED)), difference),
    Row("itm_ratio_improved", "Improved T' + {model} ITM log P(match) differences (exact)",
        (Term("itm", "itm_logprob"), Term("itm", "itm_logprob", IMPROVED)), difference),
    Row("itm_enc_ratio_improved", "Improved T' + {model} ITM log P(match) with [ENC] first, differences (exact)",
        (Term("itm", "itm_enc_logprob"), Term("itm", "itm_enc_logprob", IMPROVED)), difference),
]
COMPARISONS = [("contrastive_ratio", "contrastive"), ("itm_ratio", "itm"),
               ("contrastive_ratio_improved", "contrastive_ratio"), ("itm_ratio_improved", "itm_ratio"),
               ("itm_enc_ratio_improved", "itm_ratio_improved")]


def main():
    args = experiment_parser("experiment2", __doc__.splitlines()[0], ("itm", "mlm")).parse_args()
    run = GridRun(args, "experiment2")
    if not run.already_finished():  # else: the same inputs as a finished run in --out; its tables, nothing loaded
        rows = run.prepare(ROWS)  # each row's head meets the T' it divides by (one call per model and texts)
        run.report(run.score_rows(rows), rows, COMPARISONS)


if __name__ == "__main__":
    main_with_clean_errors(main)
