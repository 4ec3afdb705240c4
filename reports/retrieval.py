"""A finished re-ranking run's report: queries.jsonl, each row's recalls with intervals, paired
differences against the first stage and BLIP's protocol, results.json, and the table to print."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from benchmarks.retrieval import PAPER, RECALL_COLUMNS, RECALL_KS, TASKS, recalls
from common.files import write_jsonl
from evaluation.reranking import Evaluation
from evaluation.rows import Row
from reports import stats
from reports.results import write_results

RETRIEVAL = "retrieval"  # results.json's benchmark for every re-ranking run
# Every other row is compared with these two: the first stage alone, and BLIP's own re-ranking.
BASELINES = ("itc", "itm_blip")


def report(out_dir: Path, rows: Sequence[Row], evaluation: Evaluation, extra: Mapping, seed: int = 0) -> str:
    """Write queries.jsonl and results.json; return the Markdown tables to print."""
    write_jsonl(out_dir / "queries.jsonl", evaluation.queries)
    results = {row.key: row_results(row, evaluation, seed) for row in rows}
    keys = [r.key for r in rows]
    comparisons = [compare(a, b, evaluation, seed) for b in BASELINES if b in keys
                   for a in keys if a not in ("itc", b)]
    write_results(out_dir, {**extra, "benchmark": RETRIEVAL, "rows": results, "comparisons": comparisons,
                            "references": PAPER})
    return table(results, comparisons)


def row_results(row: Row, evaluation: Evaluation, seed: int = 0) -> dict:
    """A row's recalls with 95% bootstrap intervals over queries (reports/stats.py)."""
    h = evaluation.hits[row.key]
    intervals = {}
    for prefix, task in TASKS.items():
        indices = stats.resamples(len(h[task][RECALL_KS[0]]), seed)
        for K in RECALL_KS:
            intervals[f"{prefix}_r{K}"] = stats.percent_interval(h[task][K], indices)
    return {"label": row.label, "higher_is_better": row.higher_is_better,
            **recalls(h["text_retrieval"], h["image_retrieval"]), "interval95": intervals}


def compare(a: str, b: str, evaluation: Evaluation, seed: int = 0) -> dict:
    """Row a minus row b on each recall, paired bootstrap over the same queries."""
    out = {"a": a, "b": b}
    for prefix, task in TASKS.items():
        indices = stats.resamples(len(evaluation.hits[a][task][RECALL_KS[0]]), seed)
        for K in RECALL_KS:
            fa, fb = (np.asarray(evaluation.hits[key][task][K], dtype=np.float64) for key in (a, b))
            out[f"{prefix}_r{K}"] = {"difference": round(100.0 * float(fa.mean() - fb.mean()), 2),
                                     "interval95": stats.paired_percent_interval(fa, fb, indices)}
    return out


def table(results: Mapping[str, dict], comparisons: Sequence[dict]) -> str:
    """Recalls with intervals per row, the paper's rows, and the paired differences, in Markdown."""
    lines = ["| Row | " + " | ".join(RECALL_COLUMNS) + " | r_mean |", "|---|" + "---:|" * (len(RECALL_COLUMNS) + 1)]
    for key, s in results.items():
        cells = [f"{s[c]:.2f} [{s['interval95'][c][0]:.1f}, {s['interval95'][c][1]:.1f}]" for c in RECALL_COLUMNS]
        lines.append(f"| {key}: {s['label']} | " + " | ".join(cells) + f" | {s['r_mean']:.2f} |")
    for label, quoted in PAPER.items():
        values = [quoted[c] for c in RECALL_COLUMNS]
        lines.append(f"| *{label}* (reference) | " + " | ".join(f"{v:.1f}" for v in values) +
                     f" | {np.mean(values):.2f} |")
    if comparisons:
        lines += ["", "Paired bootstrap differences, A minus B (95% intervals):", "",
                  "| A minus B | " + " | ".join(RECALL_COLUMNS) + " |", "|---|" + "---:|" * len(RECALL_COLUMNS)]
        for c in comparisons:
            lines.append(f"| {c['a']} minus {c['b']} | " + " | ".join(
                f"{c[m]['difference']:+.2f} [{c[m]['interval95'][0]:+.1f}, {c[m]['interval95'][1]:+.1f}]"
                for m in RECALL_COLUMNS) + " |")
    return "\n".join(lines)
