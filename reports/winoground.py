"""A finished Winoground run's report: each row's results, paired differences, results.json and the tables.

`report_run` reads every row's scores from the records, computes Text / Image / Group with bootstrap
intervals and per-group breakdowns (`row_results`) and paired differences (`compare`), writes
results.json, and returns the Markdown to print (`tables`, which a finished run also prints from its
results.json): the computed rows beside reference rows (numbers quoted from papers, never computed
here), the breakdowns and the differences.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from benchmarks.reference import Reference
from benchmarks.winoground import KINDS, correct, example_groups, percentages
from evaluation.records import score_grid
from evaluation.rows import Row
from reports import stats
from reports.results import library_versions, write_results


def report_run(out_dir: Path, config: Mapping, records: Sequence[Mapping], rows: Sequence[Row],
               references: Sequence[Reference] = (), comparisons: Sequence[tuple[str, str]] = (),
               extra: Mapping | None = None, details: Mapping[str, Mapping] | None = None) -> str:
    """Every row's results over the records, written to results.json; returns the Markdown to print.

    `details[row]` is added to that row's results (e.g. its cross-validated alphas).
    """
    scores = {row.key: score_grid(records, row.key) for row in rows}
    groups = example_groups([r["tag"] for r in records], [r["secondary_tag"] for r in records],
                            [r["num_main_preds"] for r in records])
    seed = config.get("seed", 0)
    results = {row.key: {**row_results(row, scores[row.key], groups, seed), **(details or {}).get(row.key, {})}
               for row in rows}
    by_key = {row.key: row for row in rows}
    compared = [compare(by_key[a], by_key[b], scores, seed) for a, b in comparisons]
    write_results(out_dir, {
        "config": dict(config),
        "versions": library_versions(),
        "n_examples": len(records),
        "methods": results,
        "comparisons": compared,
        "references": [vars(r) for r in references],
        **(extra or {}),
    })
    return tables(read_results(out_dir))


def read_results(out_dir: Path) -> dict:
    return json.loads((Path(out_dir) / "results.json").read_text())


def tables(results: Mapping) -> str:
    """The Markdown a finished run prints, from its results.json: rows and references, breakdowns, differences."""
    rows, compared = results["methods"], results["comparisons"]
    references = [Reference(**r) for r in results["references"]]
    parts = [markdown_table(rows, references), "Per-group Text/Image/Group:", breakdown_table(rows)]
    if compared:
        parts += ["Paired bootstrap differences (95% intervals):", comparison_table(compared, rows)]
    return "\n\n".join(parts)


def row_results(row: Row, scores: np.ndarray, groups: Mapping[str, np.ndarray], seed: int = 0) -> dict:
    """Scores, 95% bootstrap intervals and per-group breakdown of one row, as JSON-ready data."""
    flags = correct(scores, row.higher_is_better)
    intervals = {k: stats.bootstrap_interval(flags[k], seed=seed) for k in KINDS}
    return {
        "label": row.label,
        "higher_is_better": row.higher_is_better,
        "published_image": row.published_image,
        **percentages(flags),
        "interval95": {k: [iv.low, iv.high] for k, iv in intervals.items()},
        "breakdown": breakdown(flags, groups),
    }


def breakdown(flags: Mapping[str, np.ndarray], groups: Mapping[str, np.ndarray]) -> dict[str, dict]:
    """Text / Image / Group percentages and example count within each group."""
    out = {}
    for name, mask in groups.items():
        if mask.any():
            out[name] = {"n": int(mask.sum()), **percentages({k: flags[k][mask] for k in KINDS})}
    return out


def compare(a: Row, b: Row, scores: Mapping[str, np.ndarray], seed: int = 0) -> dict:
    """Paired bootstrap of row a minus row b for each of Text, Image, Group."""
    fa = correct(scores[a.key], a.higher_is_better)
    fb = correct(scores[b.key], b.higher_is_better)
    out = {"a": a.key, "b": b.key}
    for k in KINDS:
        d = stats.paired_bootstrap(fa[k], fb[k], seed=seed)
        out[k] = {"difference": d.difference, "interval95": [d.interval.low, d.interval.high]}
    return out


# --- the printed tables ----------------------------------------------------------------------------------

def _cell(value: float | None, interval: Sequence[float] | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if interval is None else f"{value:.2f} [{interval[0]:.2f}, {interval[1]:.2f}]"


def markdown_table(results: Mapping[str, dict], references: Sequence[Reference] = ()) -> str:
    """Computed rows (with 95% intervals) then reference rows, with the published Image score beside each."""
    lines = ["| Row | Text | Image | Group | Published Image |", "|---|---:|---:|---:|---:|"]
    for s in results.values():
        iv = s["interval95"]
        lines.append(f"| {s['label']} | {_cell(s['text'], iv['text'])} | {_cell(s['image'], iv['image'])} | "
                     f"{_cell(s['group'], iv['group'])} | {_cell(s['published_image'])} |")
    for r in references:
        lines.append(f"| *{r.label}* (reference) | {_cell(r.text)} | {_cell(r.image)} | {_cell(r.group)} | "
                     f"{_cell(r.published_image)} |")
    return "\n".join(lines)


def breakdown_table(results: Mapping[str, dict]) -> str:
    """One line per row, one column per group, each cell Text/Image/Group."""
    names = list(dict.fromkeys(g for s in results.values() for g in s["breakdown"]))
    lines = ["| Row | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for s in results.values():
        cells = []
        for g in names:
            b = s["breakdown"].get(g)
            cells.append("-" if b is None else f"{b['text']:.1f}/{b['image']:.1f}/{b['group']:.1f} (n={b['n']})")
        lines.append(f"| {s['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparison_table(comparisons: Sequence[dict], results: Mapping[str, dict]) -> str:
    lines = ["| A minus B | Text | Image | Group |", "|---|---:|---:|---:|"]
    for c in comparisons:
        cells = [f"{c[k]['difference']:+.2f} [{c[k]['interval95'][0]:+.2f}, {c[k]['interval95'][1]:+.2f}]"
                 for k in KINDS]
        lines.append(f"| {results[c['a']]['label']} minus {results[c['b']]['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
