"""What a retrieval re-ranking script needs around its rows: set-up from its flags, both stages with
their stored results, and the final report. The script keeps its rows and its idea.

    run = RetrievalRun(args, "experiment4")
    run.load_scorers(rows)               # the first stage and one checkpoint per role the rows need
    evaluation = run.rerank(rows)        # T', first stage, pair scores (resumable), re-ranking
    run.report(rows, evaluation)         # queries.jsonl, results.json, printed tables, wall time
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Sequence

import torch
from tqdm import tqdm

from benchmarks.retrieval import RECALL_KS, first_stage_order, load_retrieval
from common.errors import InputError
from evaluation.cli import run_config
from evaluation.first_stage import SIMILARITY, candidate_pairs, first_stage, image_ranges
from evaluation.pair_scores import PairStore, score_pairs
from evaluation.reranking import Evaluation, evaluate
from evaluation.rows import Row, T, Term, terms_of
from evaluation.runs import check_config
from perturb.swap import SEARCHES, SwapCache, find_swaps, load_mlm, swapped_or_same
from reports import retrieval
from reports.results import library_versions
from scoring import Scorer, load_scorer
from scoring.batching import DTYPES


class RetrievalRun:
    """One re-ranking run: its data, device, output folder, loaded checkpoints and timer."""

    def __init__(self, args: argparse.Namespace, experiment: str):
        if args.k < 1:
            raise InputError(f"--k must be at least 1, got {args.k}")
        self.args, self.experiment = args, experiment
        self.start = time.time()
        self.device, self.dtype = torch.device(args.device), DTYPES[args.dtype]
        self.data = load_retrieval(args.data, args.image_root, args.limit)
        self.out_dir = Path(args.out)
        self.config = check_config(self.out_dir, run_config(args, experiment))
        self.store = PairStore(self.out_dir)
        self.scorers: dict[str, Scorer] = {}

    @property
    def first_stage_model(self) -> str:
        return self.args.first_stage_model or self.args.itm_model

    def load_scorers(self, rows: Sequence[Row]) -> None:
        """The first stage's checkpoint and one per role the rows' terms need, each read as the protocol reads
        texts (BLIP's retrieval checkpoints: at most 35 tokens)."""
        self.scorers["first_stage"] = load_scorer(self.first_stage_model, SIMILARITY.head, self.device, self.dtype)
        heads = {t.model: t.head for t in reversed(self._pair_terms(rows))}  # a head each role must have
        for role, head in heads.items():
            self.scorers[role] = load_scorer(getattr(self.args, f"{role}_model"), head, self.device, self.dtype)
        for scorer in self.scorers.values():
            scorer.max_text_length = scorer.retrieval_text_length

    def rerank(self, rows: Sequence[Row]) -> Evaluation:
        """Both stages: T' where rows need it, the first stage, every candidate pair scored by every term
        (stored per batch of images), and each row's re-ranking of both tasks."""
        args, data = self.args, self.data
        terms = self._pair_terms(rows)
        texts = {T: data.captions, **self._swapped({t.text for t in terms} - {T})}
        similarity = first_stage(self.scorers["first_stage"], data.images, data.captions, args.batch_size,
                                 args.workers, self.out_dir / "first_stage.npz")
        depth = max(args.k, max(RECALL_KS))
        text_order = first_stage_order(similarity.T, depth)  # per image, its captions
        image_order = first_stage_order(similarity, depth)  # per caption, its images
        self.pairs = candidate_pairs(text_order[:, :args.k], image_order[:, :args.k])
        pair_scores = {}
        if terms:
            with tqdm(total=len(image_ranges(len(data.images), args.batch_size)), unit="image batch") as bar:
                n_batches = score_pairs(self.scorers, terms, texts, data.images, self.pairs, self.store,
                                        args.batch_size, args.workers, args.pair_batch_size, bar)
            pair_scores = self.store.load(n_batches, self.pairs)
        return evaluate(rows, similarity, text_order, image_order, args.k, self.pairs, pair_scores,
                        data.caption_image, data.image_captions)

    def report(self, rows: Sequence[Row], evaluation: Evaluation) -> None:
        """Write queries.jsonl and results.json, and print the tables, the checkpoints and the wall time."""
        args, data, first = self.args, self.data, self.scorers["first_stage"]
        models = {role: {"name_or_path": s.name_or_path, "family": s.family} for role, s in self.scorers.items()}
        table = retrieval.report(self.out_dir, rows, evaluation, seed=args.seed, extra={
            "config": self.config, "versions": library_versions(), "k": args.k,
            "first_stage_model": self.first_stage_model, "models": models,
            "counts": {"images": len(data.images), "captions": len(data.captions),
                       "pairs_scored": len(self.pairs) if self._pair_terms(rows) else 0}})
        print(f"\nExperiment {self.experiment.removeprefix('experiment')} on {args.data}: {len(data.images)} images, "
              f"{len(data.captions)} captions, k = {args.k}, first stage {self.first_stage_model} ({first.family})"
              f"\n\n{table}")
        print(f"\nResults in {self.out_dir} (results.json, queries.jsonl); wall time {time.time() - self.start:.1f} s")

    def _pair_terms(self, rows: Sequence[Row]) -> list[Term]:
        """The terms scored per candidate pair: all but the first-stage similarity, which the first stage gives."""
        return [t for t in terms_of(rows) if t != SIMILARITY]

    def _swapped(self, searches: set[str], chunk: int = 256) -> dict[str, list[str]]:
        """T' of every caption for each search (T' = T where none exists), searched in chunks and cached with
        experiments 2 and 3, so a killed search keeps what it found."""
        if not searches:
            return {}
        mlm, tokenizer = load_mlm(self.args.mlm_model, self.device, self.dtype)
        cache, captions, out = SwapCache(self.args.swap_cache), self.data.captions, {}
        for search in (s for s in SEARCHES if s in searches):
            swaps = []
            for n in range(0, len(captions), chunk):
                swaps += find_swaps(mlm, tokenizer, captions[n:n + chunk], search, self.args.seed, cache=cache)
                cache.save()
            out[search] = swapped_or_same(captions, swaps)
        return out
