"""Finished result folders as summarize.py reads them.

A result folder is what an experiment script writes to its --out: `results.json` (config, every row's
scores and intervals, comparisons) and `examples.jsonl` (per-example scores). `load_result` reads one,
and gives a folder whose run is unfinished a one-line message with the command that finishes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from common.errors import InputError


@dataclass
class Result:
    folder: Path
    results: dict
    records: list[dict]

    @property
    def experiment(self) -> str:
        return self.results["config"]["experiment"]

    @property
    def methods(self) -> dict[str, dict]:
        return self.results["methods"]


def load_result(folder: str | Path) -> Result:
    """A finished result folder; InputError (one line) for a folder that holds no finished run."""
    folder = Path(folder)
    results_file, config_file, examples_file = (folder / n for n in ("results.json", "config.json", "examples.jsonl"))
    if not results_file.exists():
        if config_file.exists():
            experiment = json.loads(config_file.read_text()).get("experiment", "the experiment")
            done = examples_file.read_text().count("\n") if examples_file.exists() else 0
            raise InputError(f"{folder} holds an unfinished {experiment} run ({done} examples scored, no "
                             f"results.json): run `python {experiment}.py --out {folder}` with its other "
                             f"arguments again to finish it")
        raise InputError(f"{folder} has no results.json: run an experiment with `--out {folder}` first, e.g. "
                         f"`python experiment1.py --out {folder}`")
    try:
        results = json.loads(results_file.read_text())
        records = [json.loads(line) for line in examples_file.read_text().splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read the results in {folder} ({type(e).__name__}): run the experiment again "
                         f"with that --out") from None
    return Result(folder, results, records)
