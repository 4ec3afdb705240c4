"""Experiment 3: likelihood ratios P(T|I) / P(T'|I) from BLIP's captioning head, with T' from DistilRoBERTa.

Both ideas at once: the image-conditioned likelihood of experiment 1 and the word-swap normalization of
experiment 2. Since P(T|I) / P(T'|I) = P(T,I) / P(T',I), the ratio asks how much more the image
supports T than the same words in another plausible order.
- as published: ratio of the label-smoothed losses loss(T) / loss(T'), lower is better, published T';
- exact: log P(T|I) - log P(T'|I) (summed token log-probabilities), with the improved whole-word T'.
The contrastive and ITM rows of the published table are quoted from experiment 1, not recomputed.
--clm-model takes a BLIP or BLIP-2 captioning checkpoint; BLIP-2 has only the exact rows.

    python experiment3.py                    # full Winoground on a GPU
"""

from evaluation import report
from evaluation.cli import experiment_parser, main_with_clean_errors
from evaluation.experiment import WinogroundRun
from evaluation.report import Method
from evaluation.runs import example_records
from perturb.swap import IMPROVED, PUBLISHED, SwapCache, count_without_swap, find_swaps, load_mlm, swap_fields
from perturb.swap import swapped_or_same
from scoring.batching import grid_pairs, grid_texts

METHODS = [
    Method("clm", "P(T given I) from {model} causal-LM head (as published)", higher_is_better=False,
           published_image=29.00, model="clm", head="clm"),
    Method("clm_exact", "log P(T given I) from {model} causal-LM head (exact)", model="clm", head="clm_exact"),
    Method("clm_ratio", "DistilRoBERTa + {model} CLM head score ratios (as published)", higher_is_better=False,
           published_image=50.25, model="clm", head="clm"),
    Method("clm_exact_ratio", "Improved T' + {model} log P(T given I) - log P(T' given I) (exact)", model="clm",
           head="clm_exact"),
]
REFERENCES = [report.BLIP_CONTRASTIVE, report.BLIP_ITM, report.PALI, report.VQ2, report.RANDOM_CHANCE,
              report.HUMANS]
COMPARISONS = [("clm_ratio", "clm"), ("clm_exact_ratio", "clm_exact"), ("clm_exact_ratio", "clm_ratio")]


def main():
    args = experiment_parser("experiment3", __doc__.splitlines()[0], ("clm", "mlm")).parse_args()
    run = WinogroundRun(args, "experiment3")
    swap_cache = SwapCache(args.swap_cache)
    clm = run.load_scorer("clm", args.clm_model, "clm_exact")
    mlm, mlm_tokenizer = load_mlm(args.mlm_model, run.device, run.dtype)
    rows = run.rows(METHODS)
    published_rows = "clm" in clm.heads  # BLIP's label-smoothed loss; BLIP-2 has only log P(T|I)

    def score(batch):
        captions = batch.captions
        swaps = {m: find_swaps(mlm, mlm_tokenizer, captions, m, args.seed, cache=swap_cache)
                 for m in (PUBLISHED, IMPROVED)}
        swap_cache.save()
        t, i = grid_pairs(len(batch), 4)  # caption_0, caption_1, T'_0, T'_1 x 2 images
        features = clm.encode(batch.pixels_for(clm))

        T, swapped = slice(0, 2), slice(2, 4)  # [example, text, image]
        texts = grid_texts(captions, swapped_or_same(captions, swaps[IMPROVED]))
        log_p = clm.score(features, texts, t, i, "clm_exact").view(-1, 4, 2)
        scores = {"clm_exact": log_p[:, T], "clm_exact_ratio": log_p[:, T] - log_p[:, swapped]}
        if published_rows:
            texts = grid_texts(captions, swapped_or_same(captions, swaps[PUBLISHED]))
            loss = clm.score(features, texts, t, i, "clm").view(-1, 4, 2)
            scores |= {"clm": loss[:, T], "clm_ratio": loss[:, T] / loss[:, swapped]}
        return example_records(batch.examples, scores, swap_fields(swaps))

    run.score(score)
    records = run.finish()
    no_swap = count_without_swap(records)
    run.report(records, rows, REFERENCES, COMPARISONS, extra={"captions_without_swap": no_swap},
               notes=[f"\nCaptions with nothing to swap (T' = T): {no_swap[PUBLISHED]} published, "
                      f"{no_swap[IMPROVED]} improved; word swaps in {args.swap_cache}"])


if __name__ == "__main__":
    main_with_clean_errors(main)
