"""Experiment 5: which normalization removes the language prior? T' ratios, P(T)-prior normalization and blind rows.

The write-up divides a match score by the score of a word-swapped caption T'. VisualGPTScore (Lin et al.,
ICML 2024) divides by the caption's marginal instead: log P(T|I) - alpha log P(T), with P(T) averaged
over null images of Gaussian noise (scoring/priors.py) and alpha = 1 (PMI) or chosen by 5-fold
cross-validation (evaluation/cross_validation.py). Here both, for every head, beside rows that never see
the image: the head's prior alone (`_null`) and DistilRoBERTa's pseudo-log-likelihood of T (`mlm_pll`).
- captioning model (--clm-model): log P(T|I), its per-token mean, its T' ratio, the original repository's
  gated ratio (perturb/swap.py, `gated`), PMI, cross-validated alpha, log P(T);
- model with a contrastive head (--itm-model): the same for log P(match) (its gated ratio on the raw
  logit) and for the contrastive similarity;
- VQAScore of a BLIP-2 captioning model or a generative VLM (--vqa-model; "" leaves it out), its T' ratio
  and PMI. --clm-model and --vqa-model both take generative VLMs (LLaVA-1.5, LLaVA-OneVision, Qwen2.5-VL,
  PaliGemma, Idefics3/SmolVLM, InstructBLIP).
No caption-prior normalization can change an image-only comparison (Winoground's image score, MMVP):
both sides share the caption. A T' ratio can, since T' meets the same image (README).

    python experiment5.py                                  # Winoground on a GPU
    python experiment5.py --benchmark sugarcrepe --data sugar-crepe/data --image-root val2017
"""

from evaluation.cli import experiment_parser, main_with_clean_errors, prior_flags
from evaluation.rows import MLM, NULL, Row, Term, difference, gated_ratio, prior_normalized
from perturb.swap import GATED, IMPROVED
from pipeline.grid_run import GridRun

GATE = Term(MLM, "gate")  # 1 where the gated search kept its T'


def head_rows(prefix: str, raw_key: str, role: str, head: str, what: str, gated_head: str | None = None,
              gated_higher_is_better: bool = True, tuned: bool = True) -> list[Row]:
    """One head's rows: raw, T' ratio, the gated ratio (of `gated_head`), PMI, and with `tuned` the
    cross-validated alpha and the prior alone."""
    raw, prior = Term(role, head), Term(role, head, image=NULL)
    rows = [Row(raw_key, f"{{model}} {what}", (raw,)),
            Row(f"{prefix}_ratio_improved", f"Improved T' + {{model}} {what}, T' ratio",
                (raw, Term(role, head, IMPROVED)), difference)]
    if gated_head:
        rows.append(Row(f"{prefix}_ratio_gated", f"Gated T' + {{model}} {gated_head} ratio (original repository)",
                        (Term(role, gated_head), Term(role, gated_head, GATED), GATE), gated_ratio,
                        higher_is_better=gated_higher_is_better))
    rows.append(Row(f"{prefix}_pmi", f"{{model}} {what} - prior (alpha = 1, PMI)", (raw, prior), prior_normalized))
    if tuned:
        rows += [Row(f"{prefix}_prior_cv", f"{{model}} {what} - alpha * prior (alpha by 5-fold CV)", (raw, prior),
                     prior_normalized, cross_validated=True),
                 Row(f"{prefix}_null", f"{{model}} {what} prior over noise images (blind)", (prior,))]
    return rows


CLM = head_rows("clm", "clm_exact", "clm", "clm_exact", "log P(T given I)", "clm", gated_higher_is_better=False)
ROWS = [
    CLM[0],
    Row("clm_exact_mean", "{model} log P(T given I) per token (length-normalized)", (Term("clm", "clm_exact_mean"),)),
    *CLM[1:],
    Row("mlm_pll", "DistilRoBERTa pseudo-log-likelihood of T (blind)", (Term(MLM, "pll"),)),
    *head_rows("itm", "itm_logprob", "itm", "itm_logprob", "ITM log P(match)", "itm"),
    *head_rows("contrastive", "contrastive", "itm", "contrastive", "contrastive similarity", "contrastive"),
    *head_rows("vqa", "vqa", "vqa", "vqa", "VQAScore log P(yes)", tuned=False),
]
RAW = {"clm": "clm_exact", "itm": "itm_logprob", "contrastive": "contrastive", "vqa": "vqa"}  # prefix -> raw row
# Every normalized row against its raw row, and each prior normalization against the T' ratio.
COMPARISONS = ([(f"{prefix}_{kind}", raw) for prefix, raw in RAW.items()
                for kind in ("ratio_improved", "ratio_gated", "pmi", "prior_cv")]
               + [(f"{prefix}_{kind}", f"{prefix}_ratio_improved") for prefix in RAW for kind in ("pmi", "prior_cv")])


def main():
    parser = prior_flags(experiment_parser("experiment5", __doc__.splitlines()[0], ("clm", "itm", "vqa", "mlm")))
    args = parser.parse_args()
    run = GridRun(args, "experiment5")
    if run.already_finished():  # the same inputs as a finished run in --out: its tables, nothing loaded
        return
    rows = run.prepare(ROWS)  # with every caption's prior, once per run, before any example is scored
    records = run.score_rows(rows)
    # The figure (summarize.py): each tuned row's metric against alpha, with these rows as horizontal lines.
    keys = {row.key for row in rows}
    figure = {f"{p}_prior_cv": [k for k in (f"{p}_ratio_improved", f"{p}_ratio_gated", f"{p}_null", "mlm_pll")
                                if k in keys] for p in RAW if f"{p}_prior_cv" in keys}
    run.report(records, rows, COMPARISONS, extra={"alpha_figure": figure})


if __name__ == "__main__":
    main_with_clean_errors(main)
