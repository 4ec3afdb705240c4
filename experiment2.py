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

from evaluation import report
from evaluation.cli import experiment_parser, main_with_clean_errors
from evaluation.experiment import WinogroundRun
from evaluation.report import Method
from evaluation.runs import example_records
from perturb.swap import IMPROVED, PUBLISHED, SwapCache, count_without_swap, find_swaps, load_mlm, swap_fields
from perturb.swap import swapped_or_same
from scoring.batching import grid_pairs, grid_texts

METHODS = [
    Method("contrastive", "{model} contrastive head", published_image=13.50, model="itm", head="contrastive"),
    Method("itm", "{model} ITM head", published_image=24.25, model="itm", head="itm"),
    Method("contrastive_ratio", "DistilRoBERTa + {model} contrastive head score ratios (as published)",
           published_image=52.00, model="itm", head="contrastive"),
    Method("itm_ratio", "DistilRoBERTa + {model} ITM head score ratios (as published)", published_image=32.75,
           model="itm", head="itm"),
    Method("contrastive_exact_ratio", "Improved T' + {model} contrastive similarity differences (exact)",
           model="itm", head="contrastive"),
    Method("itm_exact_ratio", "Improved T' + {model} ITM log P(match) differences (exact)", model="itm",
           head="itm_logprob"),
    Method("itm_enc_exact_ratio", "Improved T' + {model} ITM log P(match) with [ENC] first, differences (exact)",
           model="itm", head="itm_enc"),
]
REFERENCES = [report.PALI, report.VQ2, report.RANDOM_CHANCE, report.HUMANS]
COMPARISONS = [("contrastive_ratio", "contrastive"), ("itm_ratio", "itm"),
               ("contrastive_exact_ratio", "contrastive_ratio"), ("itm_exact_ratio", "itm_ratio"),
               ("itm_enc_exact_ratio", "itm_exact_ratio")]


def main():
    args = experiment_parser("experiment2", __doc__.splitlines()[0], ("itm", "mlm")).parse_args()
    run = WinogroundRun(args, "experiment2")
    swap_cache = SwapCache(args.swap_cache)
    itm = run.load_scorer("itm", args.itm_model, "contrastive")
    mlm, mlm_tokenizer = load_mlm(args.mlm_model, run.device, run.dtype)
    rows = run.rows(METHODS)
    heads = sorted({m.head for m in rows})

    def score(batch):
        captions = batch.captions
        swaps = {m: find_swaps(mlm, mlm_tokenizer, captions, m, args.seed, cache=swap_cache)
                 for m in (PUBLISHED, IMPROVED)}
        swap_cache.save()
        # Six texts per example: caption_0, caption_1, their published T', their improved T'.
        texts = grid_texts(captions, *(swapped_or_same(captions, swaps[m]) for m in (PUBLISHED, IMPROVED)))
        t, i = grid_pairs(len(batch), 6)
        s = {h: v.view(-1, 6, 2) for h, v in itm.score_heads(itm.encode(batch.pixels_for(itm)), texts, t, i,
                                                              heads).items()}

        T, published, improved = slice(0, 2), slice(2, 4), slice(4, 6)  # [example, text, image]
        combine = {  # row -> how its head's scores of T and T' make the row's score
            "contrastive": lambda x: x[:, T], "itm": lambda x: x[:, T],
            "contrastive_ratio": lambda x: x[:, T] / x[:, published],
            "itm_ratio": lambda x: x[:, T] / x[:, published],
            "contrastive_exact_ratio": lambda x: x[:, T] - x[:, improved],
            "itm_exact_ratio": lambda x: x[:, T] - x[:, improved],
            "itm_enc_exact_ratio": lambda x: x[:, T] - x[:, improved],
        }
        scores = {m.key: combine[m.key](s[m.head]) for m in rows}
        return example_records(batch.examples, scores, swap_fields(swaps))

    run.score(score)
    records = run.finish()
    no_swap = count_without_swap(records)
    run.report(records, rows, REFERENCES, COMPARISONS, extra={"captions_without_swap": no_swap},
               notes=[f"\nCaptions with nothing to swap (T' = T): {no_swap[PUBLISHED]} published, "
                      f"{no_swap[IMPROVED]} improved; word swaps in {args.swap_cache}"])


if __name__ == "__main__":
    main_with_clean_errors(main)
