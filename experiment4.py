"""Experiment 4: do likelihoods and score ratios re-rank real retrieval? Flickr30K 1K and COCO 5K test splits.

The write-up's open question. A first stage ranks every caption against every image by contrastive
similarity (--first-stage-model, default the --itm-model checkpoint). For each query, an image in text
retrieval and a caption in image retrieval, the top --k candidates are re-scored by each row of
--rows and re-sorted; the rest keep their first-stage order. Rows (ROWS below):
  itc                first stage alone
  itm_blip           BLIP's own protocol: ITM match logit with [ENC] first + first-stage similarity
  itm, clm, clm_exact                                   single heads, as published and exact
  contrastive_ratio, itm_ratio, clm_ratio               the write-up's ratios with the published T'
  clm_ratio_improved, itm_ratio_improved                      log-ratios with the improved T'
Recall@1, 5, 10 both ways (BLIP's definitions) with 95% bootstrap intervals over queries, and paired
differences against itc and itm_blip. Captions are cleaned as BLIP's evaluation cleans them, and
BLIP checkpoints read at most 35 text tokens, as in BLIP's protocol. --clm-model also takes a generative
VLM (LLaVA-1.5, Qwen2.5-VL, ...), whose rows are clm_exact and clm_ratio_improved.

    python experiment4.py                                              # Flickr30K 1K, k = 16
    python experiment4.py --data nlphuji/mscoco_2014_5k_test_image_text_retrieval --k 256 --rows itc,itm_blip
"""

from evaluation.cli import main_with_clean_errors, retrieval_parser
from evaluation.first_stage import SIMILARITY
from evaluation.rows import Row, Term, difference, ratio, select, total
from perturb.swap import IMPROVED, PUBLISHED
from pipeline.retrieval_run import RetrievalRun

ROWS = {r.key: r for r in [
    Row("itc", "first stage: contrastive similarity", (SIMILARITY,)),
    Row("itm_blip", "BLIP's protocol: ITM match logit with [ENC] first + first-stage similarity",
        (Term("itm", "itm_enc"), SIMILARITY), total),
    Row("itm", "ITM match logit ([CLS] first, as published)", (Term("itm", "itm"),)),
    Row("clm", "captioning loss (as published)", (Term("clm", "clm"),), higher_is_better=False),
    Row("clm_exact", "log P(T given I) (exact)", (Term("clm", "clm_exact"),)),
    Row("contrastive_ratio", "contrastive similarity ratio, published T'",
        (Term("itm", "contrastive"), Term("itm", "contrastive", PUBLISHED)), ratio),
    Row("itm_ratio", "ITM logit ratio, published T'", (Term("itm", "itm"), Term("itm", "itm", PUBLISHED)), ratio),
    Row("clm_ratio", "captioning loss ratio, published T'", (Term("clm", "clm"), Term("clm", "clm", PUBLISHED)),
        ratio, higher_is_better=False),
    Row("clm_ratio_improved", "log P(T given I) - log P(T' given I), improved T'",
        (Term("clm", "clm_exact"), Term("clm", "clm_exact", IMPROVED)), difference),
    Row("itm_ratio_improved", "log P(match) difference, improved T'",
        (Term("itm", "itm_logprob"), Term("itm", "itm_logprob", IMPROVED)), difference),
]}
# What a plain `python experiment4.py` computes: the first stage, BLIP's protocol, and the single heads.
DEFAULT_ROWS = ("itc", "itm_blip", "itm", "clm", "clm_exact")


def main():
    args = retrieval_parser(__doc__.splitlines()[0], ROWS, DEFAULT_ROWS).parse_args()
    rows = select(ROWS, args.rows, always=["itc"])  # the first stage is always a row
    run = RetrievalRun(args, "experiment4", rows)
    if run.already_finished():  # the same inputs as a finished run in --out: its tables, nothing loaded
        return
    run.load_scorers()
    run.report(run.rerank())


if __name__ == "__main__":
    main_with_clean_errors(main)
