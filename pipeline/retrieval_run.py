"""What a retrieval re-ranking script needs around its rows: set-up from its flags, both stages with
their stored results, and the final report. The script keeps its rows and its idea.

    run = RetrievalRun(args, "experiment4", rows)    # flags checked, data read, run bound to data and models
    if not run.already_finished():       # else: the same inputs as a finished run, its tables printed
        run.load_scorers()               # the first stage and one checkpoint per role the rows need
        run.report(run.rerank())         # T', first stage, pair scores (resumable), re-ranking; results
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from benchmarks.retrieval import (
    RECALL_KS,
    check_retrieval_images,
    first_stage_order,
    load_retrieval,
    retrieval_fingerprint,
)
from evaluation.cli import Interrupted
from evaluation.first_stage import SIMILARITY, candidate_pairs, check_first_stage_cache, first_stage, image_ranges
from evaluation.pair_scores import PairStore, score_pairs
from evaluation.reranking import Evaluation, evaluate
from evaluation.rows import Row, T, terms_of
from evaluation.runs import check_config
from evaluation.swaps import search_every_caption
from perturb.swap import SEARCHES, SwapCache, load_mlm, swapped_or_same
from pipeline.setup import RunSetup
from reports import retrieval
from reports.results import library_versions, read_results
from scoring import Scorer, load_scorer


class RetrievalRun:
    """One re-ranking run: its data, device, output folder, loaded checkpoints and timer."""

    def __init__(self, args: argparse.Namespace, experiment: str, rows: Sequence[Row]):
        self.setup = RunSetup.from_flags(args, experiment)  # pipeline/setup.py, as for every run
        self.args, self.experiment, self.rows, self.ranks = args, experiment, list(rows), self.setup.ranks
        self.device, self.dtype = self.setup.device, self.setup.dtype
        self.data = load_retrieval(args.data, args.image_root, args.limit, check=False)
        self.terms = [t for t in terms_of(rows) if t != SIMILARITY]  # scored per candidate pair
        self.out_dir = Path(args.out)
        models = {f"{role}_model": path for role, path in self._models().items()}
        self.lock, self.config = self.setup.bind(self.out_dir, retrieval_fingerprint(self.data), models,
                                                 lambda config: check_config(self.out_dir, config))
        self.store = PairStore(self.out_dir)
        self.scorers: dict[str, Scorer] = {}

    def _models(self) -> dict[str, str]:
        """The checkpoint of each role the rows need: the first stage, the terms' models, the masked LM for T'."""
        models = {"first_stage": self.args.first_stage_model or self.args.itm_model}
        models |= {t.role: getattr(self.args, f"{t.role}_model") for t in self.terms}
        if any(t.text != T for t in self.terms):
            models["mlm"] = self.args.mlm_model
        return models

    def already_finished(self) -> bool:
        """True when the folder holds the finished run of these same inputs: its tables are printed and
        nothing needs loading."""
        results_file = self.out_dir / "results.json"
        if results_file.exists():
            self._print(read_results(self.out_dir), "printed from its results.json; nothing was recomputed")
            return True
        return False

    def _check_before_models(self) -> None:
        """Every image file, and the caches the run will read (first stage, T'), before any model loads."""
        check_retrieval_images(self.data)
        check_first_stage_cache(self.out_dir / "first_stage.npz", len(self.data.images), len(self.data.captions))
        if any(t.text != T for t in self.terms) and self.args.swap_cache:
            SwapCache(self.args.swap_cache)

    def load_scorers(self) -> None:
        """The first stage's checkpoint and one per role the rows' terms need, each read as the protocol reads
        texts (BLIP's retrieval checkpoints: at most 35 tokens). Every image file and cache is checked first."""
        self.ranks.first(self._check_before_models)
        models = self._models()
        self.scorers["first_stage"] = load_scorer(models["first_stage"], SIMILARITY.head, self.device, self.dtype)
        heads = {t.role: t.head for t in reversed(self.terms)}  # a head each role must have
        for role, head in heads.items():
            self.scorers[role] = load_scorer(models[role], head, self.device, self.dtype)
        for scorer in self.scorers.values():
            scorer.max_text_length = scorer.retrieval_text_length

    def rerank(self) -> Evaluation:
        """Both stages: T' where rows need it, the first stage, every candidate pair scored by every term
        (stored per batch of images), and each row's re-ranking of both tasks. Ctrl-C ends the run with one
        line saying how much is saved."""
        try:
            return self._rerank()
        except KeyboardInterrupt:
            batches = range(len(image_ranges(len(self.data.images), self.args.batch_size)))
            done = sum(self.store.done(b) for b in batches)
            raise Interrupted(f"T' found so far are in {self.args.swap_cache} and {done} of {len(batches)} image "
                              f"batches of pair scores in {self.store.folder}; run the same command again to continue "
                              f"from there") from None

    def _rerank(self) -> Evaluation | None:
        args, data, terms, rows = self.args, self.data, self.terms, self.rows
        texts = {T: data.captions, **self._swapped({t.text for t in terms} - {T})}
        similarity = first_stage(self.scorers["first_stage"], data.images, data.captions, args.batch_size,
                                 args.workers, self.out_dir / "first_stage.npz", ranks=self.ranks)
        depth = max(args.k, max(RECALL_KS))
        text_order = first_stage_order(similarity.T, depth)  # per image, its captions
        image_order = first_stage_order(similarity, depth)  # per caption, its images
        self.pairs = candidate_pairs(text_order[:, :args.k], image_order[:, :args.k])
        pair_scores = {}
        if terms:
            with tqdm(total=len(image_ranges(len(data.images), args.batch_size)), unit="image batch",
                      disable=not self.ranks.main) as bar:
                n_batches = score_pairs(self.scorers, terms, texts, data.images, self.pairs, self.store,
                                        args.batch_size, args.workers, args.pair_batch_size, bar, self.ranks)
            self.ranks.barrier()  # every rank's batches are stored
            if not self.ranks.main:  # rank 0 evaluates and reports
                return None
            pair_scores = self.store.load(n_batches, self.pairs)
        return evaluate(rows, similarity, text_order, image_order, args.k, self.pairs, pair_scores,
                        data.caption_image, data.image_captions)

    def report(self, evaluation: Evaluation) -> None:
        """Write queries.jsonl and results.json, and print the tables, the checkpoints and the wall time (rank 0)."""
        if not self.ranks.main:
            return
        args, data = self.args, self.data
        models = {role: {"name_or_path": s.name_or_path, "family": s.family} for role, s in self.scorers.items()}
        retrieval.report(self.out_dir, self.rows, evaluation, seed=args.seed, extra={
            "config": self.config, "versions": library_versions(), "k": args.k,
            "first_stage_model": self._models()["first_stage"], "models": models,
            "counts": {"images": len(data.images), "captions": len(data.captions),
                       "pairs_scored": len(self.pairs) if self.terms else 0}})
        self._print(read_results(self.out_dir))

    def _print(self, results: dict, note: str = "") -> None:
        if not self.ranks.main:
            return
        counts, first = results["counts"], results["models"]["first_stage"]
        print(f"\nExperiment {self.experiment.removeprefix('experiment')} on {self.args.data}: {counts['images']} "
              f"images, {counts['captions']} captions, k = {results['k']}, first stage {first['name_or_path']} "
              f"({first['family']})" + (f": {note}" if note else "") +
              f"\n\n{retrieval.table(results['rows'], results['comparisons'])}")
        print(f"\nResults in {self.out_dir} (results.json, queries.jsonl); wall time {self.setup.seconds():.1f} s")

    def _swapped(self, searches: set[str]) -> dict[str, list[str]]:
        """T' of every caption for each search (T' = T where none exists), cached with experiments 2 and 3."""
        if not searches:
            return {}
        mlm = load_mlm(self.args.mlm_model, self.device, self.dtype)
        captions = self.data.captions
        found = search_every_caption(mlm, captions, [s for s in SEARCHES if s in searches], self.args.seed,
                                     self.args.swap_cache, self.ranks)
        return {s: swapped_or_same(captions, swaps) for s, swaps in found.items()}
