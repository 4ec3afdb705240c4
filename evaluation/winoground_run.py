"""What every Winoground experiment script shares: set-up from its flags, the resumable scoring loop,
and the final report. A script keeps only its own idea: its rows and which texts each model scores.

    run = WinogroundRun(args, "experiment1")
    itm = run.load_scorer("itm", args.itm_model, "contrastive")
    run.load_mlm(args.mlm_model)                 # for experiments that divide by T' (`run.swaps(captions)`)
    rows = run.rows(ROWS)                        # the rows the loaded checkpoints can compute
    run.score(score_batch)                       # score_batch(batch) -> examples.jsonl records
    run.report(run.finish(), rows, REFERENCES, COMPARISONS)   # results.json, printed tables, wall time
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Callable, Mapping, Sequence

import torch
from tqdm import tqdm

from benchmarks.reference import Reference
from benchmarks.winoground import PUBLISHED_FAMILIES, load_winoground
from evaluation.batches import Batch, preprocess_key, winoground_batches
from evaluation.cli import run_config
from evaluation.records import count_without_swap
from evaluation.rows import Row, T, Term
from evaluation.runs import RunLog, split_on_oom
from perturb.swap import IMPROVED, PUBLISHED, SEARCHES, Swap, SwapCache, find_swaps, load_mlm
from reports.winoground import report_run
from scoring import Scorer, load_scorer
from scoring.batching import DTYPES, grid_pairs, grid_texts


class WinogroundRun:
    """One experiment's run: its data, device, output folder, loaded checkpoints and timer."""

    def __init__(self, args: argparse.Namespace, experiment: str):
        self.args, self.experiment = args, experiment
        self.start = time.time()
        self.device, self.dtype = torch.device(args.device), DTYPES[args.dtype]
        self.data = load_winoground(args.data, args.limit)
        self.log = RunLog(args.out, run_config(args, experiment))
        self.scorers: dict[str, Scorer] = {}
        self.mlm = None

    def load_mlm(self, name_or_path: str) -> None:
        """Load the masked LM that searches T' (`swaps`), with the --swap-cache of earlier searches."""
        self.mlm = load_mlm(name_or_path, self.device, self.dtype)
        self.swap_cache = SwapCache(self.args.swap_cache)

    def load_scorer(self, role: str, name_or_path: str, head: str) -> Scorer:
        """Load a checkpoint for a role ("itm", "clm"), checking that it has `head`."""
        scorer = load_scorer(name_or_path, head, self.device, self.dtype)
        self.scorers[role] = scorer
        return scorer

    def rows(self, rows: Sequence[Row]) -> list[Row]:
        """The rows the loaded checkpoints can compute, labelled with their family's name."""
        computable = []
        for row in rows:
            scorers = [self.scorers[t.model] for t in row.terms]
            if all(t.head in s.heads for t, s in zip(row.terms, scorers)):
                published = row.published_image if scorers[0].family in PUBLISHED_FAMILIES else None
                computable.append(dataclasses.replace(row, label=row.label.format(model=scorers[0].display_name),
                                                      published_image=published))
        return computable

    def swaps(self, captions: Sequence[str]) -> dict[str, list[Swap]]:
        """T' of every caption by each search: from the swap cache, or searched now and added to it."""
        model, tokenizer = self.mlm
        found = {s: find_swaps(model, tokenizer, captions, s, self.args.seed, cache=self.swap_cache) for s in SEARCHES}
        self.swap_cache.save()
        return found

    def score(self, score_batch: Callable[[Batch], list[dict]]) -> None:
        """Score every unfinished batch of examples, appending each batch's records as it finishes.

        Images are decoded and preprocessed (once per distinct preprocessing of the loaded scorers) in
        --workers processes while the model scores the batch before.
        """
        pending = self.log.pending_batches(self.data, self.args.batch_size)
        done = len(self.data) - sum(map(len, pending))
        preprocessors = {preprocess_key(s): s.preprocess for s in self.scorers.values()}
        batches = winoground_batches(self.data, pending, preprocessors, self.args.workers,
                                     pin_memory=self.device.type == "cuda")
        with tqdm(total=len(self.data), initial=done, unit="example") as bar:
            for batch in batches:
                self.log.append(split_on_oom(score_batch, batch))
                bar.update(len(batch))

    def finish(self) -> list[dict]:
        """Every example's record, in data order (examples.jsonl is rewritten in that order)."""
        return self.log.finish(self.data["id"])

    def report(self, records: Sequence[dict], rows: Sequence[Row], references: Sequence[Reference] = (),
               comparisons: Sequence[tuple[str, str]] = (), extra: Mapping | None = None,
               notes: Sequence[str] = ()) -> None:
        """Write results.json and print the tables, the checkpoint behind each row, notes and wall time.

        Where the run searched T', results.json and the notes also say how many captions had nothing to swap.
        """
        if self.mlm is not None:
            no_swap = count_without_swap(records)
            extra = {**(extra or {}), "captions_without_swap": no_swap}
            notes = [*notes, f"\nCaptions with nothing to swap (T' = T): {no_swap[PUBLISHED]} published, "
                             f"{no_swap[IMPROVED]} improved; word swaps in {self.args.swap_cache}"]
        keys = {row.key for row in rows}
        comparisons = [(a, b) for a, b in comparisons if a in keys and b in keys]
        models = {role: {"name_or_path": s.name_or_path, "family": s.family} for role, s in self.scorers.items()}
        table = report_run(self.log.out_dir, self.log.config, records, rows, references, comparisons,
                           extra={"models": models, **(extra or {})})
        number = self.experiment.removeprefix("experiment")
        print(f"\nExperiment {number} on {len(records)} Winoground examples ({self.args.data})")
        for role, s in self.scorers.items():
            role_rows = ", ".join(row.key for row in rows if role in row.models)
            print(f"- rows {role_rows}: --{role}-model {s.name_or_path} ({s.display_name}, {s.family})")
        print(f"\n{table}")
        for line in notes:
            print(line)
        print(f"\nResults in {self.log.out_dir}; wall time {time.time() - self.start:.1f} s")


def term_scores(scorer: Scorer, role: str, features, captions: Sequence[str], heads: Sequence[str],
                swapped: Mapping[str, Sequence[str]] | None = None) -> dict[Term, torch.Tensor]:
    """Every head's scores of the captions (T) and of each T' in `swapped` (search -> one T' per caption).

    One model call scores all of them against the batch's images: per example, the texts are caption_0,
    caption_1, then each search's two T', each against both of the example's images. Each term's scores
    have shape (n_examples, 2, 2), indexed [example, caption, image].
    """
    swapped = dict(swapped or {})
    texts = [T, *swapped]
    t, i = grid_pairs(len(captions) // 2, 2 * len(texts))
    scores = scorer.score_heads(features, grid_texts(captions, *swapped.values()), t, i, heads)
    return {Term(role, head, text): scores[head].view(-1, len(texts), 2, 2)[:, k]
            for head in heads for k, text in enumerate(texts)}
