"""What every grid experiment script shares: set-up from its flags, the resumable scoring loop over a
benchmark's grids (Winoground by default, any of benchmarks.GRIDS with --benchmark), and the final report.
A script keeps only its own idea: its rows.

    run = GridRun(args, "experiment1")           # flags checked, data read, run bound to data and models
    if not run.already_finished():               # else: same inputs as a finished run; its table, nothing loaded
        rows = run.prepare(ROWS)                 # checkpoints loaded; the rows they can compute; T' and priors
        run.report(run.score_rows(rows), rows, COMPARISONS)   # results.json, tables, wall time

The steps, each with one job: `RunSetup` (pipeline/setup.py: flags, threads, ranks, the folder bound to the
inputs), `load_models` (the checkpoints the flags name, by role), `Models.computable` (the rows they can
compute), `find_needs` (T' of every caption and every caption's prior, before any example), the scoring loop
(`GridRun.score`, resumable through evaluation/runs.py) and the report (reports/grids.py). Each batch's terms
(the scores the rows combine) come from evaluation/terms.py, the same path for every experiment.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import datasets
from tqdm import tqdm

from benchmarks import GRIDS, Grid
from benchmarks.data import example_fingerprints
from common.errors import InputError
from evaluation.batches import Batch, grid_batches, preprocess_key
from evaluation.cli import Interrupted
from evaluation.cross_validation import cross_validated_rows
from evaluation.distributed import Ranks
from evaluation.records import count_without_swap, example_records
from evaluation.rows import MLM, MLM_HEADS, NULL, Row, Term
from evaluation.runs import RunLog, split_on_oom
from evaluation.swaps import search_every_caption
from evaluation.terms import caption_priors, row_terms
from perturb.swap import GATED, IMPROVED, PUBLISHED, SEARCHES, Swap, SwapCache, load_mlm
from pipeline.setup import RunSetup, model_flags
from reports import grids
from reports.results import read_results
from scoring import FAMILIES, Scorer, load_scorer
from scoring.priors import PriorCache

# The head each role's checkpoint is loaded with (a scorer scores any of its heads; this one must exist).
ROLE_HEADS = {"clm": "clm_exact", "itm": "contrastive", "vqa": "vqa"}


@dataclass
class Models:
    """The checkpoints a run loaded: a scorer per role ("itm", "clm", "vqa") and the masked LM (role "mlm") that
    searches T', None when not loaded."""
    scorers: dict[str, Scorer] = field(default_factory=dict)
    mlm: tuple | None = None  # (model, tokenizer)

    def has_head(self, term: Term) -> bool:
        if term.role == MLM:
            return self.mlm is not None and term.head in MLM_HEADS
        return term.role in self.scorers and term.head in self.scorers[term.role].heads

    def computable(self, rows: Sequence[Row]) -> list[Row]:
        """The rows these models can compute, labelled with the family of their first term's model."""
        out = []
        for row in rows:
            if all(self.has_head(t) for t in row.terms):
                first = self.scorers.get(row.terms[0].role)
                out.append(dataclasses.replace(row, label=row.label.format(model=first.display_name) if first
                                               else row.label))
        return out

    def published(self, rows: Sequence[Row], grid: Grid) -> dict[str, dict]:
        """{row: {metric: value}} the original write-up published for rows computed by its model families."""
        return {row.key: numbers for row in rows if row.terms[0].role in self.scorers
                and (numbers := grid.published_numbers(row.key, self.scorers[row.terms[0].role].family))}


def load_models(args: argparse.Namespace, setup: RunSetup, captions: Sequence[tuple[int, int, str]]) -> Models:
    """Every checkpoint the flags name (--<role>-model; an empty name leaves the role out), each scorer checked to
    read every caption ((example id, caption index, text)) whole."""
    models = Models()
    for role, head in ROLE_HEADS.items():
        name_or_path = getattr(args, f"{role}_model", None)
        if not name_or_path:
            continue
        scorer = load_scorer(name_or_path, head, setup.device, setup.dtype)
        too_long = scorer.too_long([text for _, _, text in captions])
        if too_long:
            example, c, text = captions[too_long[0]]
            raise InputError(f"caption_{c} of example {example} is longer than {scorer.display_name} "
                             f"({name_or_path}) reads ({text[:40]!r}...): shorten it ({len(too_long)} caption(s) "
                             f"in all)")
        models.scorers[role] = scorer
    if getattr(args, "mlm_model", None):
        models.mlm = load_mlm(args.mlm_model, setup.device, setup.dtype)
    return models


def open_caches(args: argparse.Namespace) -> None:
    """Read the --swap-cache and --prior-cache files the flags name, so that a damaged one is named before any
    model loads (common/cache.py)."""
    if getattr(args, "swap_cache", None):
        SwapCache(args.swap_cache)
    if getattr(args, "prior_cache", None):
        PriorCache(args.prior_cache)


@dataclass
class Needs:
    """What the rows need before any example is scored: T' of every caption by each search they use, and every
    caption's prior under each (role, head) whose NULL term they use."""
    swaps: dict[str, dict[str, Swap]] = field(default_factory=dict)  # search -> caption -> T'
    priors: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)  # (role, head) -> caption -> prior

    def swaps_of(self, captions: Sequence[str]) -> dict[str, list[Swap]]:
        """T' of each caption by each search."""
        return {search: [found[c] for c in captions] for search, found in self.swaps.items()}


def find_needs(models: Models, rows: Sequence[Row], captions: Sequence[str], args: argparse.Namespace,
               ranks: Ranks) -> Needs:
    """T' from the --swap-cache or searched now (evaluation/swaps.py), priors from the --prior-cache or computed
    now over --null-images noise images (evaluation/terms.py); each once per run, shared by the ranks."""
    needs = Needs()
    terms = {t for row in rows for t in row.terms}
    searches = [s for s in SEARCHES if any(t.text == s for t in terms) or (s == GATED and Term(MLM, "gate") in terms)]
    if searches:
        found = search_every_caption(models.mlm, captions, searches, args.seed, args.swap_cache, ranks)
        needs.swaps = {search: dict(zip(captions, swaps)) for search, swaps in found.items()}
    if any(t.image == NULL for t in terms):
        cache = ranks.fill_together(PriorCache(args.prior_cache), lambda cache, share: caption_priors(
            models.scorers, rows, captions, args.null_images, args.seed, cache, share=share))
        needs.priors = caption_priors(models.scorers, rows, captions, args.null_images, args.seed, cache)
        cache.save()
    return needs


class GridRun:
    """One experiment's run on a grid benchmark: its set-up, data, output folder, models and what its rows need."""

    def __init__(self, args: argparse.Namespace, experiment: str):
        self.setup = RunSetup.from_flags(args, experiment)
        self.args, self.experiment, self.ranks = args, experiment, self.setup.ranks
        self.grid = GRIDS[args.benchmark]
        self.data = self.grid.load(args.data or self.grid.default_source, args.image_root, args.limit)
        images, self.n_captions = self.grid.shape
        self.image_columns = [f"image_{i}" for i in range(images)]
        # Each example is bound to its inputs: a rerun after an edit keeps every unchanged example (runs.py).
        self.inputs = dict(zip(self.data["id"], example_fingerprints(self.data, self.image_columns)))
        self.lock, self.log = self.setup.bind(args.out, None, model_flags(args),
                                              lambda config: RunLog(args.out, config, self.ranks, self.inputs))
        self.models, self.needs = Models(), Needs()
        self.scoring_seconds: float | None = None
        self.row_details: dict[str, dict] = {}  # what finish() adds to a row's results (cross-validated alphas)

    def already_finished(self) -> bool:
        """True when this folder holds the finished run of these same inputs; then its tables are printed, and
        nothing needs loading."""
        if self.log.finished:
            self._print(read_results(self.log.out_dir), "printed from its results.json; nothing was recomputed")
            return True
        return False

    def prepare(self, rows: Sequence[Row]) -> list[Row]:
        """Check every image file (benchmarks/grids.py), load every checkpoint the script's flags name, and
        return the rows they can compute, after finding what those rows need (`find_needs`)."""
        self.ranks.first(lambda: self.grid.check(self.data))
        open_caches(self.args)
        columns = [f"caption_{c}" for c in range(self.n_captions)]
        captions = [(ex["id"], c, ex[f"caption_{c}"]) for ex in self.data.select_columns(["id", *columns])
                    for c in range(self.n_captions)]
        self.models = load_models(self.args, self.setup, captions)
        rows = self.models.computable(rows)
        self.needs = find_needs(self.models, rows, self.distinct_captions(), self.args, self.ranks)
        return rows

    def distinct_captions(self) -> list[str]:
        """Every caption of the data once, sorted: the order in which T' and priors are computed."""
        columns = [f"caption_{c}" for c in range(self.n_captions)]
        return sorted({text for column in columns for text in self.data[column]})

    def score_rows(self, rows: Sequence[Row]) -> list[dict]:
        """Score every unfinished batch by the rows and return every example's record (`finish`).

        A batch's terms, the scores each row combines, come from one call per model and set of texts
        (evaluation/terms.py); rows whose alpha is cross-validated are scored once every example is in.
        """
        per_batch = [row for row in rows if not row.cross_validated]

        def score_batch(batch: Batch) -> list[dict]:
            swaps = self.needs.swaps_of(batch.captions)
            terms = row_terms(self.models.scorers, self.models.mlm, batch, per_batch, swaps, self.needs.priors)
            scores = {row.key: row.scores(terms) for row in per_batch}
            inputs = [self.inputs[ex["id"]] for ex in batch.examples]
            return example_records(batch.examples, scores, swaps, self.grid.fields, inputs)  # evaluation/records.py

        self.score(score_batch)
        return self.finish(rows)

    def score(self, score_batch: Callable[[Batch], list[dict]]) -> None:
        """Score every unfinished batch of examples, appending each batch's records as it finishes.

        Images are decoded and preprocessed (once per distinct preprocessing of the loaded scorers) in
        --workers processes while the model scores the batch before. Ctrl-C ends the run with one line
        saying how much is saved.
        """
        # Examples that share an image (SugarCrepe's COCO images) are batched together: it is encoded once.
        first_images = self.data.cast_column("image_0", datasets.Image(decode=False))["image_0"]
        boxes = self.data["box_0"] if "box_0" in self.data.column_names else [None] * len(self.data)
        keys = [(im["path"] or hashlib.blake2b(im["bytes"]).hexdigest(), tuple(box) if box else None)
                for im, box in zip(first_images, boxes)]
        pending = self.log.pending_batches(self.data, self.args.batch_size, keys)
        done = len(self.data) - sum(map(len, pending))
        counts = self.log.resume_counts()
        if counts["kept"] or counts["stale"]:
            self._resume_note(done, counts)
        pending = self.ranks.share(pending)  # under torchrun: this rank's batches
        preprocessors = {preprocess_key(s): s.preprocess for s in self.models.scorers.values()}
        batches = grid_batches(self.data, pending, preprocessors, self.args.workers,
                               pin_memory=self.setup.device.type == "cuda", n_images=len(self.image_columns))
        started = time.time()
        try:
            with tqdm(total=len(self.data), initial=done, unit="example", disable=not self.ranks.main) as bar:
                for batch in batches:
                    self.log.append(split_on_oom(score_batch, batch))
                    # Rank 0's progress stands for every rank's.
                    bar.update(min(len(batch) * self.ranks.world, bar.total - bar.n))
            self.scoring_seconds = time.time() - started
        except KeyboardInterrupt:
            raise Interrupted(f"{self.log.saved()} of {len(self.data)} examples are saved in {self.log.out_dir}; "
                              f"run the same command again to continue from there") from None

    def _resume_note(self, kept: int, counts: Mapping[str, int]) -> None:
        """Say what a rerun keeps (`kept` examples are not scored again) and scores; a results.json of inputs that
        changed since is removed before any scoring."""
        if not self.ranks.main:
            return
        stale_results = self.log.out_dir / "results.json"
        if stale_results.exists():  # of the examples before the edit: the run writes the new one when it ends
            stale_results.unlink()
        # An unchanged example in a batch that is scored again is scored with it: the batches stay those of an
        # uninterrupted run, so its scores come out the same bits.
        along = len(self.data) - kept - counts["stale"] - counts["new"]
        print(f"Resuming {self.log.out_dir}: {kept} example(s) kept, {counts['stale']} scored again as their inputs "
              f"changed since" + (f" ({along} unchanged one(s) with them in their batches)" if along else "")
              + f", {counts['new']} new", flush=True)

    def finish(self, rows: Sequence[Row] = ()) -> list[dict]:
        """Every example's record, in data order (examples.jsonl is rewritten in that order), with the scores of
        the rows whose alpha is cross-validated over every example (evaluation/cross_validation.py)."""
        def complete(records):
            records, self.row_details = cross_validated_rows(records, rows, self.grid, self.args.seed)
            return records
        self.ranks.barrier()  # every rank has appended its last batch
        if not self.ranks.main:  # rank 0 merges and reports
            return []
        return self.log.finish(self.data["id"], complete)

    def report(self, records: Sequence[dict], rows: Sequence[Row], comparisons: Sequence[tuple[str, str]] = (),
               extra: Mapping | None = None) -> None:
        """Write results.json and print the tables, the checkpoint behind each row, notes and wall time.

        Beside the rows stand the benchmark's quoted rows (`Grid.references`, and `Grid.quoted` of this experiment)
        and, for rows of the families the original write-up used, its published numbers (`Grid.published`). Where
        the run searched T', results.json also says how many captions had nothing to swap. `extra` is written to
        results.json as it is. Under torchrun, rank 0 reports.
        """
        if not self.ranks.main:
            return
        keys = {row.key for row in rows}
        comparisons = [(a, b) for a, b in comparisons if a in keys and b in keys]
        models = {role: {"name_or_path": s.name_or_path, "family": s.family,
                         "rows": [row.key for row in rows if role in row.roles]}
                  for role, s in self.models.scorers.items()}
        extra = {"models": models, **(extra or {})}
        if self.needs.swaps:
            extra["captions_without_swap"] = count_without_swap(records)
        published = self.models.published(rows, self.grid)
        grids.report_grid(self.log.out_dir, self.log.config, records, rows, self.grid, comparisons, published,
                          (self.grid.quoted or {}).get(self.experiment), extra, self.row_details)
        self._print(read_results(self.log.out_dir))

    def _print(self, results: Mapping, note: str = "") -> None:
        if not self.ranks.main:
            return
        number = self.experiment.removeprefix("experiment")
        data = self.args.data or self.grid.default_source
        print(f"\nExperiment {number} on {results['n_examples']} {self.grid.title} examples ({data})"
              + (f": {note}" if note else ""))
        for role, m in results["models"].items():
            name = FAMILIES[m["family"]].display_name
            print(f"- rows {', '.join(m['rows'])}: --{role}-model {m['name_or_path']} ({name}, {m['family']})")
        print(f"\n{grids.tables(results)}")
        no_swap = results.get("captions_without_swap")
        if no_swap:
            names = {PUBLISHED: "published", IMPROVED: "improved", GATED: "gated (gate closed: plain score)"}
            counts = ", ".join(f"{n} {names[search]}" for search, n in no_swap.items())
            print(f"\nCaptions with nothing to swap (T' = T): {counts}; word swaps in {self.args.swap_cache}")
        loop = f", {self.scoring_seconds:.1f} s of it in the scoring loop" if self.scoring_seconds is not None else ""
        print(f"\nResults in {self.log.out_dir}; wall time {self.setup.seconds():.1f} s{loop}")
