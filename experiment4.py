"""Experiment 4: do likelihoods and score ratios re-rank real retrieval? Flickr30K 1K and COCO 5K test splits.

The write-up's open question. A first stage ranks every caption against every image by contrastive
similarity (--first-stage-model, default the --itm-model checkpoint). For each query, an image in text
retrieval and a caption in image retrieval, the top --k candidates are re-scored by each row of
--methods and re-sorted; the rest keep their first-stage order. Rows (evaluation/rerank.py):
  itc                first stage alone
  itm_blip           BLIP's own protocol: ITM match logit with [ENC] first + first-stage similarity
  itm, clm, clm_exact                                   single heads (SPEC 4 and 5)
  contrastive_ratio, itm_ratio, clm_ratio               the write-up's ratios with the published T'
  clm_exact_ratio, itm_exact_ratio                      log-ratios with the improved T'
Recall@1, 5, 10 both ways (BLIP's definitions) with 95% bootstrap intervals over queries, and paired
differences against itc and itm_blip. Captions are cleaned as BLIP's evaluation cleans them, and
BLIP checkpoints read at most 35 text tokens, as in BLIP's protocol.

    python experiment4.py                                              # Flickr30K 1K, k = 16
    python experiment4.py --data nlphuji/mscoco_2014_5k_test_image_text_retrieval --k 256 --methods itc,itm_blip
"""

import time

from tqdm import tqdm

from evaluation import rerank
from evaluation.cli import main_with_clean_errors, retrieval_parser, run_config
from evaluation.report import library_versions
from evaluation.retrieval import RECALL_KS, first_stage_order, load_retrieval
from perturb.swap import SwapCache, load_mlm
from scoring import load_scorer
from scoring.batching import DTYPES
from scoring.errors import InputError


def main():
    args = retrieval_parser(__doc__.splitlines()[0]).parse_args()
    start = time.time()
    rows = rerank.parse_methods(args.methods)
    if args.k < 1:
        raise InputError(f"--k must be at least 1, got {args.k}")
    dtype = DTYPES[args.dtype]
    data = load_retrieval(args.data, args.image_root, args.limit)
    config = run_config(args, "experiment4")
    store = rerank.PairStore(args.out, config)

    first_stage_model = args.first_stage_model or args.itm_model
    first = load_scorer(first_stage_model, "contrastive", args.device, dtype)
    terms = list(dict.fromkeys(t for row in rows for t in row.terms))  # (model role, head, text) pair scores
    heads = {role: head for role, head, _ in reversed(terms)}
    scorers = {role: load_scorer(getattr(args, f"{role}_model"), head, args.device, dtype)
               for role, head in heads.items()}
    for scorer in [first, *scorers.values()]:
        if scorer.family == "blip-retrieval":
            scorer.max_text_length = 35  # BLIP's retrieval protocol tokenizes with max_length=35
    texts = {rerank.T: data.captions}
    variants = {text for _, _, text in terms} - {rerank.T}
    if variants:  # T' of every caption, searched once and cached with experiments 2 and 3
        mlm, mlm_tokenizer = load_mlm(args.mlm_model, args.device, dtype)
        texts |= rerank.swapped_captions(mlm, mlm_tokenizer, data.captions, variants, args.seed,
                                         SwapCache(args.swap_cache))

    similarity = rerank.first_stage(first, data.images, data.captions, args.batch_size, args.workers,
                                    store.out_dir / "first_stage.npz")
    depth = max(args.k, max(RECALL_KS))
    text_order = first_stage_order(similarity.T, depth)  # per image, its captions
    image_order = first_stage_order(similarity, depth)  # per caption, its images
    pairs = rerank.candidate_pairs(text_order[:, :args.k], image_order[:, :args.k])
    scores = {}
    if terms:
        with tqdm(total=len(rerank.image_ranges(len(data.images), args.batch_size)), unit="image batch") as bar:
            n_batches = rerank.score_pairs(scorers, terms, texts, data.images, pairs, store, args.batch_size,
                                           args.workers, args.pair_batch_size, bar)
        scores = store.load(n_batches, pairs)

    evaluation = rerank.evaluate(rows, similarity, text_order, image_order, args.k, pairs, scores,
                                 data.caption_image, data.image_captions)
    models = {"first_stage": first, **scorers}
    table = rerank.report(store.out_dir, rows, evaluation, seed=args.seed, extra={
        "config": config, "versions": library_versions(), "k": args.k, "first_stage_model": first_stage_model,
        "models": {role: {"name_or_path": s.name_or_path, "family": s.family} for role, s in models.items()},
        "counts": {"images": len(data.images), "captions": len(data.captions),
                   "pairs_scored": len(pairs) if terms else 0}})
    print(f"\nExperiment 4 on {args.data}: {len(data.images)} images, {len(data.captions)} captions, k = {args.k}, "
          f"first stage {first_stage_model} ({first.family})\n\n{table}")
    print(f"\nResults in {store.out_dir} (results.json, queries.jsonl); wall time {time.time() - start:.1f} s")


if __name__ == "__main__":
    main_with_clean_errors(main)
