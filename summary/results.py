"""Finished result folders as summarize.py reads them.

A result folder is what an experiment script writes to its --out: `results.json` (config, every row's
scores and intervals, comparisons) and `examples.jsonl` (per-example scores). `load_result` reads one, in
the current schema whichever release wrote it (reports/results.py), and gives a folder whose run is
unfinished a one-line message with the command that finishes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from benchmarks import GRIDS
from common.errors import InputError
from evaluation.records import SCHEMA, current_name, upgraded_record
from reports.results import read_results
from reports.retrieval import RETRIEVAL


@dataclass
class Result:
    folder: Path
    results: dict
    records: list[dict]  # examples.jsonl (Winoground) or queries.jsonl (retrieval)

    @property
    def retrieval(self) -> bool:
        """A re-ranking run: its results count images and captions, not grid examples."""
        return self.benchmark == RETRIEVAL

    @property
    def benchmark(self) -> str:
        """The grid benchmark the run scored, or "retrieval"."""
        return self.results["benchmark"]

    @property
    def experiment(self) -> str:
        return self.results["config"]["experiment"]

    @property
    def rows(self) -> dict[str, dict]:
        return self.results["rows"]


def load_result(folder: str | Path) -> Result:
    """A finished result folder; InputError (one line) for a folder that holds no finished run."""
    folder = Path(folder)
    results_file, config_file, examples_file = (folder / n for n in ("results.json", "config.json", "examples.jsonl"))
    if not results_file.exists():
        if config_file.exists():
            experiment = json.loads(config_file.read_text()).get("experiment", "the experiment")
            if (folder / "pairs").is_dir():  # re-ranking keeps its pair scores there
                done = f"{len(list((folder / 'pairs').glob('batch_*.npz')))} image batches of pair scores"
            else:
                done = f"{examples_file.read_text().count(chr(10)) if examples_file.exists() else 0} examples scored"
            raise InputError(f"{folder} holds an unfinished {experiment} run ({done}, no "
                             f"results.json): run `python {experiment}.py --out {folder}` with its other "
                             f"arguments again to finish it")
        raise InputError(f"{folder} has no results.json: run an experiment with `--out {folder}` first, e.g. "
                         f"`python experiment1.py --out {folder}`")
    try:
        results = read_results(folder)
        experiment = results["config"]["experiment"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        raise InputError(f"cannot read {results_file} ({type(e).__name__}: {e}): run the experiment again with "
                         f"that --out") from None
    retrieval = results.get("benchmark") == RETRIEVAL
    if retrieval:
        examples_file = folder / "queries.jsonl"
    try:
        records = [json.loads(line) for line in examples_file.read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read {examples_file} ({type(e).__name__}): run the experiment again with that "
                         f"--out") from None
    written = results.get("written_schema", results["schema"])  # the names its records were written with
    if retrieval:
        records = [{**q, "scores": {current_name(k): v for k, v in q["scores"].items()}}
                   if written < SCHEMA and isinstance(q, dict) and isinstance(q.get("scores"), dict) else q
                   for q in records]
    else:
        records = [upgraded_record(r, written) if isinstance(r, dict) else r for r in records]
    (_check_retrieval if retrieval else _check)(results, records, folder)
    result = Result(folder, results, records)
    if not result.retrieval and result.benchmark not in GRIDS:
        raise InputError(f"{results_file} names the benchmark {result.benchmark!r}, which this code does not know "
                         f"(known: {', '.join(GRIDS)}): run the experiment again with that --out")
    return result


# What summarize.py reads of a grid run's results.json, and of each row in it (beside the benchmark's metrics).
RESULT_KEYS = ("config", "benchmark", "primary", "compared", "n_examples", "rows", "comparisons", "references")
ROW_KEYS = ("label", "higher_is_better", "interval95", "breakdown")


def _check(results: dict, records: list[dict], folder: Path) -> None:
    """Refuse results that do not fit together: missing keys, or examples.jsonl of another run."""
    redo = f"run the experiment again with --out {folder}"
    missing = [k for k in RESULT_KEYS if k not in results]
    rows = results.get("rows") if isinstance(results.get("rows"), dict) else {}
    keys = ROW_KEYS + (results["primary"],) if isinstance(results.get("primary"), str) else ROW_KEYS
    missing += [f"rows.{key}.{k}" for key, row in rows.items() for k in keys if not isinstance(row, dict) or k not in row]
    if missing:
        raise InputError(f"{folder}/results.json lacks {', '.join(missing[:3])}: it was not written by this code or "
                         f"was edited; {redo}")
    if len(records) != results["n_examples"]:
        raise InputError(f"{folder}/examples.jsonl holds {len(records)} examples but results.json counts "
                         f"{results['n_examples']}: the two files are of different runs; {redo}")
    rows = [k for k in results["rows"] if any(k not in r for r in records)]
    if rows:
        raise InputError(f"{folder}/examples.jsonl lacks the scores of row {rows[0]}: the two files are of "
                         f"different runs; {redo}")


RETRIEVAL_KEYS = ("config", "k", "counts", "rows", "comparisons", "references")


def _check_retrieval(results: dict, queries: list[dict], folder: Path) -> None:
    """Refuse a queries.jsonl that is not the one results.json was computed from."""
    redo = f"run experiment4.py again with --out {folder}"
    missing = [k for k in RETRIEVAL_KEYS if k not in results]
    if missing:
        raise InputError(f"{folder}/results.json lacks {', '.join(missing)}: it was not written by this code or was "
                         f"edited; {redo}")
    counts, k = results["counts"], results["k"]
    expected = [("text_retrieval", q) for q in range(counts["images"])] + \
               [("image_retrieval", q) for q in range(counts["captions"])]
    if [(q.get("task"), q.get("query")) for q in queries] != expected:
        raise InputError(f"{folder}/queries.jsonl holds {len(queries)} queries, not the {len(expected)} of "
                         f"results.json ({counts['images']} images, {counts['captions']} captions): the two files "
                         f"are of different runs; {redo}")
    for q in queries:
        size = min(k, counts["captions"] if q["task"] == "text_retrieval" else counts["images"])
        if len(q["candidates"]) != size or any(len(q["scores"].get(r, [])) != size for r in results["rows"]):
            raise InputError(f"{folder}/queries.jsonl: {q['task']} query {q['query']} lacks the candidates or "
                             f"scores of results.json (k = {k}, rows {', '.join(results['rows'])}); {redo}")
