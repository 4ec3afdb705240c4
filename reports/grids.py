"""A finished grid run's report, one for every grid benchmark (Winoground included): each row's official metrics
with bootstrap intervals, breakdowns by the benchmark's groups, paired differences, results.json and the tables.

What differs between benchmarks is data of their `benchmarks.Grid`: the metrics, the groups of the breakdown
(Winoground's tags, SugarCrepe's categories), the metrics two rows are compared on, the numbers a published row
is checked against, and the rows quoted from the literature. The intervals resample examples and recompute the
metrics on each resample (reports/stats.py); a paired difference resamples the same examples for both rows.

results.json (schema 3, reports/results.py) holds: config, versions, benchmark, primary, n_examples, `compared` (the metrics of
the breakdown and the differences), `rows` (per row: label,
higher_is_better, each metric, interval95, breakdown, and `published` where the original write-up gave a number),
comparisons, and `references` ({label: {metric: value}}, quoted, never computed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from evaluation.records import score_grid
from evaluation.rows import Row
from reports import stats
from reports.results import library_versions, read_results, write_results


def report_grid(out_dir: Path, config: Mapping, records: Sequence[Mapping], rows: Sequence[Row], grid,
                comparisons: Sequence[tuple[str, str]] = (), published: Mapping[str, Mapping] | None = None,
                references: Mapping[str, Mapping] | None = None, extra: Mapping | None = None,
                details: Mapping[str, Mapping] | None = None) -> str:
    """Every row's results over the records, written to results.json; returns the Markdown to print.

    `published[row]` holds the numbers the original write-up gave for a row ({metric: value}); `references` are
    quoted beside the benchmark's own (`grid.references`); `details[row]` is added to that row's results (e.g. its
    cross-validated alphas); `extra` is written to results.json as it is.
    """
    scores = {row.key: score_grid(records, row.key) for row in rows}
    fields = {f: np.array([r[f] for r in records]) for f in grid.fields}
    indices = stats.resamples(len(records), config.get("seed", 0))
    # Each row's metrics on every resample, computed once: its intervals and every paired difference use them.
    resampled = {row.key: grid.resampled_metrics(scores[row.key], row.higher_is_better, fields, indices)
                 for row in rows}
    results = {}
    for row in rows:
        results[row.key] = {**row_results(row, scores[row.key], fields, grid, resampled[row.key]),
                            **({"published": dict(published[row.key])} if (published or {}).get(row.key) else {}),
                            **(details or {}).get(row.key, {})}
    by_key = {row.key: row for row in rows}
    compared = [compare(by_key[a], by_key[b], scores, fields, grid, resampled) for a, b in comparisons]
    write_results(out_dir, {"config": dict(config), "versions": library_versions(),
                            "benchmark": grid.name, "primary": grid.primary, "n_examples": len(records),
                            "compared": list(grid.compared_metrics), "rows": results, "comparisons": compared,
                            "references": {**(grid.references or {}), **(references or {})}, **(extra or {})})
    return tables(read_results(out_dir))


def _subset(fields: Mapping[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[index] for k, v in fields.items()}


def _json(value: float | None) -> float | None:
    """A metric for results.json: None where it is undefined (e.g. no attribute pair reaches 25 examples)."""
    return None if value is None or np.isnan(value) else value


def row_results(row: Row, scores: np.ndarray, fields: Mapping, grid, resampled: Sequence[Mapping]) -> dict:
    """A row's metrics, their 95% intervals (from its metrics on each resample), and the metrics within each of the
    benchmark's groups."""
    def metrics(index=None):
        if index is None:
            return grid.metrics(scores, row.higher_is_better, fields)
        return grid.metrics(scores[index], row.higher_is_better, _subset(fields, index))

    values = {m: _json(v) for m, v in metrics().items()}
    # A resample can miss a small group (a category, a relation): its metrics are left out of that resample.
    intervals = {m: stats.interval(r.get(m) for r in resampled) for m in values}
    breakdown = {}
    for group, mask in grid.groups(fields).items():
        if mask.any():
            index = np.flatnonzero(mask)
            breakdown[group] = {"n": int(len(index)), **{m: _json(v) for m, v in metrics(index).items()}}
    return {"label": row.label, "higher_is_better": row.higher_is_better, **values, "interval95": intervals,
            "breakdown": breakdown}


def compare(a: Row, b: Row, scores: Mapping[str, np.ndarray], fields: Mapping, grid,
            resampled: Mapping[str, Sequence[Mapping]]) -> dict:
    """Row a minus row b on each of the benchmark's compared metrics, paired bootstrap over the same examples (each
    row's metrics on the same resamples, `resampled[row]`)."""
    whole = {row.key: grid.metrics(scores[row.key], row.higher_is_better, fields) for row in (a, b)}
    resampled = list(zip(resampled[a.key], resampled[b.key]))
    out = {"a": a.key, "b": b.key}
    for m in grid.compared_metrics:
        first, second = whole[a.key].get(m), whole[b.key].get(m)
        difference = None if first is None or second is None else _json(round(first - second, 2))
        drawn = [None if x.get(m) is None or y.get(m) is None else x[m] - y[m] for x, y in resampled]
        out[m] = {"difference": difference, "interval95": stats.interval(drawn)}
    return out


# --- the printed tables ----------------------------------------------------------------------------------

def tables(results: Mapping) -> str:
    """Rows by metrics with 95% intervals and the published numbers, the quoted rows, the breakdown by group and the
    paired differences, in Markdown."""
    rows, primary = results["rows"], results["primary"]
    first = next(iter(rows.values()))
    metrics = [primary, *(m for m in first["interval95"] if m != primary)]
    quoted = list(dict.fromkeys(m for row in rows.values() for m in row.get("published", {})))
    header = [*metrics, *(f"published {m}" for m in quoted)]
    lines = ["| Row | " + " | ".join(header) + " |", "|---|" + "---:|" * len(header)]
    for row in rows.values():
        cells = [_cell(row[m], row["interval95"][m]) for m in metrics]
        cells += [_cell(row.get("published", {}).get(m)) for m in quoted]
        lines.append(f"| {row['label']} | " + " | ".join(cells) + " |")
    for label, values in results["references"].items():
        cells = [_cell(values.get(m)) for m in metrics] + ["-"] * len(quoted)
        lines.append(f"| *{label}* (reference) | " + " | ".join(cells) + " |")
    parts = ["\n".join(lines)]
    compared = results["compared"]
    groups = list(dict.fromkeys(g for row in rows.values() for g in row["breakdown"]))
    if groups:
        parts.append(f"Per group, {'/'.join(compared)} (n examples):\n\n" + _breakdown_table(rows, groups, compared))
    if results["comparisons"]:
        table = ["| A minus B | " + " | ".join(compared) + " |", "|---|" + "---:|" * len(compared)]
        for c in results["comparisons"]:
            table.append(f"| {rows[c['a']]['label']} minus {rows[c['b']]['label']} | " + " | ".join(
                _cell(c[m]["difference"], c[m]["interval95"], "+.2f") for m in compared) + " |")
        parts.append("Paired bootstrap differences (95% intervals):\n\n" + "\n".join(table))
    return "\n\n".join(parts)


def _breakdown_table(rows: Mapping[str, dict], groups: Sequence[str], shown: Sequence[str]) -> str:
    lines = ["| Row | " + " | ".join(groups) + " |", "|---|" + "---:|" * len(groups)]
    for row in rows.values():
        cells = []
        for g in groups:
            b = row["breakdown"].get(g)
            cells.append("-" if b is None else "/".join("-" if b.get(m) is None else f"{b[m]:.1f}" for m in shown)
                         + f" (n={b['n']})")
        lines.append(f"| {row['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: float | None, interval: list | None = None, spec: str = ".2f") -> str:
    if value is None:
        return "-"
    return f"{value:{spec}}" + (f" [{interval[0]:{spec}}, {interval[1]:{spec}}]" if interval else "")
