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
        experiment = results["config"]["experiment"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise InputError(f"cannot read {results_file} ({type(e).__name__}: {e}): run the experiment again with "
                         f"that --out") from None
    if experiment == "experiment4":
        raise InputError(f"{folder} holds an experiment 4 (retrieval) run, which summarize.py does not read yet: "
                         f"its tables are in its results.json and printed by `python experiment4.py --out {folder}`")
    try:
        records = [json.loads(line) for line in examples_file.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read {examples_file} ({type(e).__name__}): run the experiment again with that "
                         f"--out") from None
    _check(results, records, folder)
    return Result(folder, results, records)


# What summarize.py reads of a Winoground results.json, and of each row in it.
RESULT_KEYS = ("config", "n_examples", "methods", "comparisons")
ROW_KEYS = ("label", "higher_is_better", "text", "image", "group", "interval95", "breakdown")


def _check(results: dict, records: list[dict], folder: Path) -> None:
    """Refuse results that do not fit together: missing keys, or examples.jsonl of another run."""
    redo = f"run the experiment again with --out {folder}"
    missing = [k for k in RESULT_KEYS if k not in results]
    missing += [f"methods.{key}.{k}" for key, row in results.get("methods", {}).items() for k in ROW_KEYS
                if k not in row]
    if missing:
        raise InputError(f"{folder}/results.json lacks {', '.join(missing[:3])}: it was not written by this code or "
                         f"was edited; {redo}")
    if len(records) != results["n_examples"]:
        raise InputError(f"{folder}/examples.jsonl holds {len(records)} examples but results.json counts "
                         f"{results['n_examples']}: the two files are of different runs; {redo}")
    rows = [k for k in results["methods"] if any(k not in r for r in records)]
    if rows:
        raise InputError(f"{folder}/examples.jsonl lacks the scores of row {rows[0]}: the two files are of "
                         f"different runs; {redo}")
