"""A finished run's report on a grid benchmark other than Winoground: each row's official metrics with bootstrap
intervals, breakdowns by the benchmark's grouping fields, paired differences, results.json and the tables.

A benchmark's official metrics are not all means of per-example flags (ARO's macro accuracy, What'sUp's
pair and set accuracy), so the intervals resample examples and recompute the metrics on each resample
(1,000 seeded resamples); a paired difference resamples the same examples for both rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from evaluation.records import score_grid
from evaluation.rows import Row
from reports.results import library_versions, write_results

RESAMPLES = 1000


def report_grid(out_dir: Path, config: Mapping, records: Sequence[Mapping], rows: Sequence[Row], grid,
                comparisons: Sequence[tuple[str, str]] = (), extra: Mapping | None = None,
                details: Mapping[str, Mapping] | None = None, references: Mapping[str, Mapping] | None = None) -> str:
    """Every row's results over the records, written to results.json; returns the Markdown to print.

    `details[row]` is added to that row's results (e.g. its cross-validated alphas); `references` are quoted
    beside the benchmark's own.
    """
    scores = {row.key: score_grid(records, row.key) for row in rows}
    fields = {f: np.array([r[f] for r in records]) for f in grid.fields}
    indices = np.random.default_rng(config.get("seed", 0)).integers(0, len(records), (RESAMPLES, len(records)))
    results = {row.key: {**row_results(row, scores[row.key], fields, grid, indices), **(details or {}).get(row.key, {})}
               for row in rows}
    by_key = {row.key: row for row in rows}
    compared = [compare(by_key[a], by_key[b], scores, fields, grid, indices) for a, b in comparisons]
    write_results(out_dir, {"config": dict(config), "versions": library_versions(), "benchmark": grid.name,
                            "primary": grid.primary, "n_examples": len(records), "methods": results,
                            "comparisons": compared, "references": {**(grid.references or {}), **(references or {})},
                            **(extra or {})})
    return tables(json.loads((Path(out_dir) / "results.json").read_text()))


def _subset(fields: Mapping[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[index] for k, v in fields.items()}


def _json(value: float) -> float | None:
    """A metric for results.json: None where it is undefined (e.g. no attribute pair reaches 25 examples)."""
    return None if value is None or np.isnan(value) else value


def row_results(row: Row, scores: np.ndarray, fields: Mapping, grid, indices: np.ndarray) -> dict:
    values = {m: _json(v) for m, v in grid.metrics(scores, row.higher_is_better, fields).items()}
    resampled = [grid.metrics(scores[idx], row.higher_is_better, _subset(fields, idx)) for idx in indices]
    # A resample can miss a small group (a category, a relation): its metrics are left out of that resample.
    intervals = {}
    for m in values:
        drawn = np.array([r.get(m, np.nan) for r in resampled], dtype=np.float64)
        drawn = drawn[~np.isnan(drawn)]
        intervals[m] = [round(float(v), 2) for v in np.percentile(drawn, [2.5, 97.5])] if len(drawn) else None
    breakdown = {}
    for field, column in fields.items():
        for value in sorted(set(column.tolist())):
            mask = np.flatnonzero(column == value)
            metrics = grid.metrics(scores[mask], row.higher_is_better, _subset(fields, mask))
            breakdown[f"{field}={value}"] = {"n": int(len(mask)), **{m: _json(v) for m, v in metrics.items()}}
    return {"label": row.label, "higher_is_better": row.higher_is_better, **values, "interval95": intervals,
            "breakdown": breakdown}


def compare(a: Row, b: Row, scores: Mapping[str, np.ndarray], fields: Mapping, grid, indices: np.ndarray) -> dict:
    """Row a minus row b on the benchmark's primary metric, paired bootstrap over the same examples."""
    def value(row, idx):
        return grid.metrics(scores[row.key][idx], row.higher_is_better, _subset(fields, idx))[grid.primary]

    everything = np.arange(len(next(iter(scores.values()))))
    differences = np.array([value(a, idx) - value(b, idx) for idx in indices], dtype=np.float64)
    differences = differences[~np.isnan(differences)]
    interval = [round(float(v), 2) for v in np.percentile(differences, [2.5, 97.5])] if len(differences) else None
    return {"a": a.key, "b": b.key, grid.primary: {"difference": _json(round(value(a, everything) -
                                                                             value(b, everything), 2)),
                                                   "interval95": interval}}


def tables(results: Mapping) -> str:
    """Rows by metrics with 95% intervals, the quoted rows, and the paired differences, in Markdown."""
    rows, primary = results["methods"], results["primary"]
    first = next(iter(rows.values()))
    metrics = [primary, *(m for m in first["interval95"] if m != primary)]
    lines = ["| Row | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]
    for row in rows.values():
        lines.append(f"| {row['label']} | " + " | ".join(_cell(row[m], row["interval95"][m]) for m in metrics) + " |")
    for label, quoted in results["references"].items():
        lines.append(f"| *{label}* (reference) | " + " | ".join(f"{quoted[m]:.2f}" if m in quoted else "-"
                                                                 for m in metrics) + " |")
    if results["comparisons"]:
        lines += ["", f"Paired bootstrap differences of {primary} (95% intervals):", "", "| A minus B | " + primary +
                  " |", "|---|---:|"]
        for c in results["comparisons"]:
            d = c[primary]
            lines.append(f"| {rows[c['a']]['label']} minus {rows[c['b']]['label']} | "
                         f"{_cell(d['difference'], d['interval95'], '+.2f')} |")
    return "\n".join(lines)


def _cell(value: float | None, interval: list | None, spec: str = ".2f") -> str:
    if value is None:
        return "-"
    return f"{value:{spec}}" + (f" [{interval[0]:{spec}}, {interval[1]:{spec}}]" if interval else "")
