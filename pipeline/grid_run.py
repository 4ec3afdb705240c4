"""What every grid experiment script shares: set-up from its flags, the resumable scoring loop over a
benchmark's grids (Winoground by default, any of benchmarks.GRIDS with --benchmark), and the final report.
A script keeps only its own idea: its rows.

    run = GridRun(args, "experiment1")           # flags checked, data read, run bound to data and models
    if not run.already_finished():               # else: same inputs as a finished run; its table, nothing loaded
        rows = run.prepare(ROWS)                 # checkpoints loaded; the rows they can compute; T' and priors
        run.report(run.score_rows(rows), rows, COMPARISONS)   # results.json, tables, wall time

Each batch's terms (the scores the rows combine) come from evaluation/terms.py, the same path for every
experiment. A run is bound to what it scored: its config.json holds the flags and the fingerprints of the
data and of every checkpoint (common/fingerprints.py), and a later run with the same --out must match them
all.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import time
from typing import Callable, Mapping, Sequence

import datasets
import torch
from tqdm import tqdm

from benchmarks import GRIDS
from benchmarks.data import data_fingerprint
from common.errors import InputError
from common.fingerprints import checkpoint_fingerprint
from evaluation.batches import Batch, grid_batches, preprocess_key
from evaluation.cli import Interrupted, fix_threads, run_config, validate
from evaluation.cross_validation import cross_validated_rows
from evaluation.distributed import init_ranks
from evaluation.records import count_without_swap, example_records
from evaluation.rows import MLM, MLM_HEADS, NULL, Row, Term
from evaluation.runs import RunLog, lock_folder, split_on_oom
from evaluation.swaps import search_every_caption
from evaluation.terms import caption_priors, row_terms
from perturb.swap import GATED, IMPROVED, PUBLISHED, SEARCHES, Swap, load_mlm
from reports import grids
from reports.results import read_results
from scoring import FAMILIES, Scorer, load_scorer
from scoring.batching import DTYPES
from scoring.priors import PriorCache

# The head each role's checkpoint is loaded with (a scorer scores any of its heads; this one must exist).
ROLE_HEADS = {"clm": "clm_exact", "itm": "contrastive", "vqa": "vqa"}


def model_flags(args: argparse.Namespace) -> dict[str, str]:
    """The checkpoints a script's flags name: {"clm_model": path, ...}."""
    return {k: v for k, v in vars(args).items() if k.endswith("_model") and v}


class GridRun:
    """One experiment's run on a grid benchmark: its data, device, output folder, loaded checkpoints and timer."""

    def __init__(self, args: argparse.Namespace, experiment: str):
        validate(args)
        fix_threads()  # the same bits on a loaded machine (evaluation/cli.py)
        self.args, self.experiment = args, experiment
        self.grid = GRIDS[args.benchmark]
        self.start = time.time()
        self.ranks = init_ranks(torch.device(args.device))  # one process, or this rank of a torchrun launch
        self.device, self.dtype = self.ranks.device(torch.device(args.device)), DTYPES[args.dtype]
        self.data = self.grid.load(args.data or self.grid.default_source, args.image_root, args.limit)
        images, self.n_captions = self.grid.shape
        self.image_columns = [f"image_{i}" for i in range(images)]
        fingerprints = {"data": data_fingerprint(self.data, self.image_columns),
                        **{k: checkpoint_fingerprint(v) for k, v in model_flags(args).items()}}
        config = {**run_config(args, experiment), "fingerprints": fingerprints}
        # Rank 0 holds the folder and checks (or writes) config.json before the other ranks read the folder.
        held = self.ranks.first(lambda: (lock_folder(args.out), RunLog(args.out, config, self.ranks)))
        self.lock, self.log = held or (None, RunLog(args.out, config, self.ranks))
        self.scorers: dict[str, Scorer] = {}
        self.mlm = None
        self.scoring_seconds: float | None = None
        self.found_swaps: dict[str, dict[str, Swap]] = {}  # search -> caption -> T'
        self.prior_of: dict[tuple[str, str], dict[str, float]] = {}  # (role, head) -> caption -> prior
        self.row_details: dict[str, dict] = {}  # what finish() adds to a row's results (cross-validated alphas)
        self.published: dict[str, dict] = {}  # row -> {metric: value} the original write-up gave (Grid.published)

    def already_finished(self) -> bool:
        """True when this folder holds the finished run of these same inputs; then its tables are printed, and
        nothing needs loading."""
        if self.log.finished:
            self._print(read_results(self.log.out_dir), "printed from its results.json; nothing was recomputed")
            return True
        return False

    def load_scorer(self, role: str, name_or_path: str, head: str) -> Scorer:
        """Load a checkpoint for a role ("itm", "clm"), checking that it has `head` and reads every caption."""
        scorer = load_scorer(name_or_path, head, self.device, self.dtype)
        columns = [f"caption_{c}" for c in range(self.n_captions)]
        captions = [(ex["id"], c, ex[f"caption_{c}"]) for ex in self.data.select_columns(["id", *columns])
                    for c in range(self.n_captions)]
        too_long = scorer.too_long([text for _, _, text in captions])
        if too_long:
            example, c, text = captions[too_long[0]]
            raise InputError(f"caption_{c} of example {example} is longer than {scorer.display_name} "
                             f"({name_or_path}) reads ({text[:40]!r}...): shorten it ({len(too_long)} caption(s) "
                             f"in all)")
        self.scorers[role] = scorer
        return scorer

    def prepare(self, rows: Sequence[Row]) -> list[Row]:
        """Load every checkpoint the script's --<role>-model flags name (an empty name leaves that role out) and
        return the rows they can compute, after finding what those rows need before any example is scored: T' of
        every caption by each search they use (from the --swap-cache, or searched now: evaluation/swaps.py), and
        every caption's prior over null images (`priors`). Every image file is checked first, before any model
        loads (benchmarks/grids.py)."""
        self.ranks.first(lambda: self.grid.check(self.data))
        for role, head in ROLE_HEADS.items():
            if getattr(self.args, f"{role}_model", None):
                self.load_scorer(role, getattr(self.args, f"{role}_model"), head)
        if getattr(self.args, "mlm_model", None):
            self.mlm = load_mlm(self.args.mlm_model, self.device, self.dtype)
        rows = self.rows(rows)
        terms = {t for row in rows for t in row.terms}
        searches = [s for s in SEARCHES if any(t.text == s for t in terms) or (s == GATED and Term(MLM, "gate") in terms)]
        if searches:
            captions = self.distinct_captions()
            found = search_every_caption(self.mlm, captions, searches, self.args.seed, self.args.swap_cache,
                                         self.ranks)
            self.found_swaps = {search: dict(zip(captions, swaps)) for search, swaps in found.items()}
        if any(t.image == NULL for t in terms):
            self.priors(rows)
        return rows

    def rows(self, rows: Sequence[Row]) -> list[Row]:
        """The rows the loaded checkpoints can compute, labelled with their family's name."""
        computable = []
        for row in rows:
            if all(self._has_head(t) for t in row.terms):
                first = self.scorers.get(row.terms[0].role)
                label = row.label.format(model=first.display_name) if first else row.label
                computable.append(dataclasses.replace(row, label=label))
                published = self.grid.published_numbers(row.key, first.family) if first else None
                if published:
                    self.published[row.key] = published
        return computable

    def _has_head(self, term: Term) -> bool:
        if term.role == MLM:
            return self.mlm is not None and term.head in MLM_HEADS
        return term.role in self.scorers and term.head in self.scorers[term.role].heads

    def swaps(self, captions: Sequence[str]) -> dict[str, list[Swap]]:
        """T' of each caption by each search `load_mlm` was given."""
        return {search: [found[c] for c in captions] for search, found in self.found_swaps.items()}

    def distinct_captions(self) -> list[str]:
        """Every caption of the data once, sorted: the order in which T' and priors are computed."""
        columns = [f"caption_{c}" for c in range(self.n_captions)]
        return sorted({text for column in columns for text in self.data[column]})

    def priors(self, rows: Sequence[Row]) -> None:
        """Every caption's prior under each head whose NULL term the rows use, from --prior-cache or computed now
        over --null-images noise images (evaluation/terms.py)."""
        captions = self.distinct_captions()
        cache = self.ranks.fill_together(PriorCache(self.args.prior_cache), lambda cache, share: caption_priors(
            self.scorers, rows, captions, self.args.null_images, self.args.seed, cache, share=share))
        self.prior_of = caption_priors(self.scorers, rows, captions, self.args.null_images, self.args.seed, cache)
        cache.save()

    def score_rows(self, rows: Sequence[Row]) -> list[dict]:
        """Score every unfinished batch by the rows and return every example's record (`finish`).

        A batch's terms, the scores each row combines, come from one call per model and set of texts
        (evaluation/terms.py); rows whose alpha is cross-validated are scored once every example is in.
        """
        per_batch = [row for row in rows if not row.cross_validated]

        def score_batch(batch: Batch) -> list[dict]:
            swaps = self.swaps(batch.captions)
            terms = row_terms(self.scorers, self.mlm, batch, per_batch, swaps, self.prior_of)
            return self.records(batch.examples, {row.key: row.scores(terms) for row in per_batch}, swaps)

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
        pending = self.ranks.share(pending)  # under torchrun: this rank's batches
        preprocessors = {preprocess_key(s): s.preprocess for s in self.scorers.values()}
        batches = grid_batches(self.data, pending, preprocessors, self.args.workers,
                               pin_memory=self.device.type == "cuda", n_images=len(self.image_columns))
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

    def records(self, examples: Sequence[dict], scores: Mapping[str, torch.Tensor],
                swaps: Mapping[str, Sequence[Swap]]) -> list[dict]:
        """examples.jsonl records of a batch, with the benchmark's grouping fields (evaluation/records.py)."""
        return example_records(examples, scores, swaps, self.grid.fields)

    def report(self, records: Sequence[dict], rows: Sequence[Row], comparisons: Sequence[tuple[str, str]] = (),
               quoted: Mapping[str, Mapping] | None = None, extra: Mapping | None = None) -> None:
        """Write results.json and print the tables, the checkpoint behind each row, notes and wall time.

        Beside the benchmark's own quoted rows (`Grid.references`) stand `quoted[benchmark]` ({label: {metric:
        value}}), the rows a script quotes on that benchmark. Where the run searched T', results.json also says how
        many captions had nothing to swap. `extra` is written to results.json as it is. Under torchrun, rank 0
        reports.
        """
        if not self.ranks.main:
            return
        keys = {row.key for row in rows}
        comparisons = [(a, b) for a, b in comparisons if a in keys and b in keys]
        models = {role: {"name_or_path": s.name_or_path, "family": s.family,
                         "rows": [row.key for row in rows if role in row.roles]} for role, s in self.scorers.items()}
        extra = {"models": models, **(extra or {})}
        if self.found_swaps:
            extra["captions_without_swap"] = count_without_swap(records)
        grids.report_grid(self.log.out_dir, self.log.config, records, rows, self.grid, comparisons, self.published,
                          (quoted or {}).get(self.grid.name), extra, self.row_details)
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
        print(f"\nResults in {self.log.out_dir}; wall time {time.time() - self.start:.1f} s{loop}")
