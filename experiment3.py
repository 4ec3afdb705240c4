"""Experiment 3: likelihood ratios P(T|I) / P(T'|I) from BLIP's captioning head, with T' from DistilRoBERTa.

Both ideas at once: the image-conditioned likelihood of experiment 1 and the word-swap normalization of
experiment 2. Since P(T|I) / P(T'|I) = P(T,I) / P(T',I), the ratio asks how much more the image
supports T than the same words in another plausible order.
- as published: ratio of the label-smoothed losses loss(T) / loss(T'), lower is better, published T';
- exact: log P(T|I) - log P(T'|I) (summed token log-probabilities), with the improved whole-word T'.
The contrastive and ITM rows of the published table are quoted from experiment 1 (Winoground's `Grid.quoted`),
not recomputed.
--clm-model takes a BLIP or BLIP-2 captioning checkpoint or a generative VLM (e.g. llava-hf/llava-1.5-7b-hf,
Qwen/Qwen2.5-VL-7B-Instruct); those have only the exact rows.

    python experiment3.py                    # full Winoground on a GPU
"""

from evaluation.cli import experiment_parser, main_with_clean_errors
from evaluation.rows import Row, Term, difference, ratio
from perturb.swap import IMPROVED, PUBLISHED
from pipeline.grid_run import GridRun

ROWS = [
    Row("clm", "P(T given I) from {model} causal-LM head (as published)", (Term("clm", "clm"),),
        higher_is_better=False),
    Row("clm_exact", "log P(T given I) from {model} causal-LM head (exact)", (Term("clm", "clm_exact"),)),
    Row("clm_ratio", "DistilRoBERTa + {model} CLM head score ratios (as published)",
        (Term("clm", "clm"), Term("clm", "clm", PUBLISHED)), ratio, higher_is_better=False),
    Row("clm_ratio_improved", "Improved T' + {model} log P(T given I) - log P(T' given I) (exact)",
        (Term("clm", "clm_exact"), Term("clm", "clm_exact", IMPROVED)), difference),
]
COMPARISONS = [("clm_ratio", "clm"), ("clm_ratio_improved", "clm_exact"), ("clm_ratio_improved", "clm_ratio")]


def main():
    args = experiment_parser("experiment3", __doc__.splitlines()[0], ("clm", "mlm")).parse_args()
    run = GridRun(args, "experiment3")
    if not run.already_finished():  # else: the same inputs as a finished run in --out; its tables, nothing loaded
        rows = run.prepare(ROWS)  # BLIP-2 has only log P(T|I), so only the exact rows
        run.report(run.score_rows(rows), rows, COMPARISONS)


if __name__ == "__main__":
    main_with_clean_errors(main)
