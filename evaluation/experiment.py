"""What every Winoground experiment script shares: set-up from its flags, the resumable scoring loop,
and the final report. A script keeps only its own idea: its rows and their score arithmetic.

    run = WinogroundRun(args, "experiment1")
    itm = run.load_scorer("itm", args.itm_model, "contrastive")
    rows = run.rows(METHODS)                     # the rows the loaded checkpoints can compute
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

from evaluation import report
from evaluation.cli import run_config
from evaluation.loader import Batch, preprocess_key, winoground_batches
from evaluation.report import Method, Reference
from evaluation.runs import RunLog, split_on_oom
from evaluation.winoground import load_winoground
from scoring import Scorer, load_scorer
from scoring.batching import DTYPES

# The published numbers were computed with BLIP checkpoints; other families' rows show none.
PUBLISHED_FAMILIES = ("blip-retrieval", "blip-captioning")


class WinogroundRun:
    """One experiment's run: its data, device, output folder, loaded checkpoints and timer."""

    def __init__(self, args: argparse.Namespace, experiment: str):
        self.args, self.experiment = args, experiment
        self.start = time.time()
        self.device, self.dtype = torch.device(args.device), DTYPES[args.dtype]
        self.data = load_winoground(args.data, args.limit)
        self.log = RunLog(args.out, run_config(args, experiment))
        self.scorers: dict[str, Scorer] = {}

    def load_scorer(self, role: str, name_or_path: str, head: str) -> Scorer:
        """Load a checkpoint for a role ("itm", "clm"), checking that it has `head`."""
        scorer = load_scorer(name_or_path, head, self.device, self.dtype)
        self.scorers[role] = scorer
        return scorer

    def rows(self, methods: Sequence[Method]) -> list[Method]:
        """The methods the loaded checkpoints can compute, labelled with their family's name."""
        rows = []
        for m in methods:
            scorer = self.scorers[m.model]
            if m.head in scorer.heads:
                published = m.published_image if scorer.family in PUBLISHED_FAMILIES else None
                rows.append(dataclasses.replace(m, label=m.label.format(model=scorer.display_name),
                                                published_image=published))
        return rows

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

    def report(self, records: Sequence[dict], rows: Sequence[Method], references: Sequence[Reference] = (),
               comparisons: Sequence[tuple[str, str]] = (), extra: Mapping | None = None,
               notes: Sequence[str] = ()) -> None:
        """Write results.json and print the tables, the checkpoint behind each row, notes and wall time."""
        keys = {m.key for m in rows}
        comparisons = [(a, b) for a, b in comparisons if a in keys and b in keys]
        models = {role: {"name_or_path": s.name_or_path, "family": s.family} for role, s in self.scorers.items()}
        table = report.report_run(self.log.out_dir, self.log.config, records, rows, references, comparisons,
                                  extra={"models": models, **(extra or {})})
        number = self.experiment.removeprefix("experiment")
        print(f"\nExperiment {number} on {len(records)} Winoground examples ({self.args.data})")
        for role, s in self.scorers.items():
            role_rows = ", ".join(m.key for m in rows if m.model == role)
            print(f"- rows {role_rows}: --{role}-model {s.name_or_path} ({s.display_name}, {s.family})")
        print(f"\n{table}")
        for line in notes:
            print(line)
        print(f"\nResults in {self.log.out_dir}; wall time {time.time() - self.start:.1f} s")
