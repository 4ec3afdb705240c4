"""Tables from finished results: each experiment's rows beside the published numbers, in Markdown or LaTeX.

`grid_rows` and `published_rows` turn a grid run's results (summary/results.py) into table rows, `recall_rows` and
`dataset_rows` a re-ranking run's (experiment 4), `difference_rows` either's paired differences, and
`benchmark_rows` the rows across benchmarks; `markdown` and `latex` print them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from benchmarks import GRIDS
from benchmarks.retrieval import RECALL_COLUMNS
from summary.results import Result


def published_check(row: dict, metric: str) -> tuple[float | None, float | None, bool | None]:
    """What the original write-up published for a row's metric, reproduced minus published, and whether the published
    number lies in the row's 95% interval (None, None, None where it published none)."""
    published = row.get("published", {}).get(metric)
    if published is None:
        return None, None, None
    low, high = row["interval95"][metric] or [row[metric], row[metric]]
    return published, round(row[metric] - published, 2), low <= published <= high


def _score(value: float, interval: Sequence[float]) -> tuple[float, float, float]:
    return value, interval[0], interval[1]


def _metric(row: dict, metric: str) -> tuple[float, float, float] | None:
    value = row.get(metric)
    return None if value is None else _score(value, row["interval95"].get(metric) or [value, value])


def metrics_of(result: Result) -> list[str]:
    """A grid run's metrics, primary first, as its rows hold them."""
    primary = result.results["primary"]
    return [primary, *(m for m in next(iter(result.rows.values()))["interval95"] if m != primary)]


def grid_rows(result: Result) -> tuple[list[str], list[list]]:
    """A grid run's table: per row its label and (score, low, high) of every metric, then for each metric the
    original write-up published a number for, that number, reproduced minus published and whether it lies in the
    95% interval; then the quoted rows (reference), never computed."""
    metrics = metrics_of(result)
    quoted = list(dict.fromkeys(m for row in result.rows.values() for m in row.get("published", {})))
    header = ["Row", *metrics, *(h for m in quoted for h in (f"Published {m}", f"{m} minus published",
                                                              "Published in 95% interval"))]
    lines = [[row["label"], *(_metric(row, m) for m in metrics),
              *(v for m in quoted for v in published_check(row, m))] for row in result.rows.values()]
    lines += [[f"{label} (reference)", *(quoted_values.get(m) for m in metrics), *([None] * 3 * len(quoted))]
              for label, quoted_values in result.results["references"].items()]
    return header, lines


def published_rows(results: Sequence[Result]) -> list[list]:
    """Every row with a published number, across experiments: experiment, row, metric, score, published, ..."""
    lines = []
    for result in results:
        for row in result.rows.values():
            for metric in row.get("published", {}):
                published, difference, inside = published_check(row, metric)
                lines.append([result.experiment, row["label"], metric, _metric(row, metric), published, difference,
                              inside])
    return lines


def difference_rows(result: Result, metrics: Sequence[str]) -> list[list]:
    """Paired differences of every compared pair of rows on each metric: (difference, low, high)."""
    return [[f"{c['a']} minus {c['b']}", *(None if c[m]["difference"] is None else _score(c[m]["difference"], c[m]["interval95"] or
                                                               [c[m]["difference"]] * 2) for m in metrics)]
            for c in result.results["comparisons"]]


# --- re-ranking (experiment 4) -------------------------------------------------------------------------

RECALL_HEADER = ["Row", *RECALL_COLUMNS, "r_mean"]


def recall_rows(result: Result) -> list[list]:
    """Each row's recalls (score, low, high) and r_mean, then the paper's rows (quoted, never computed)."""
    lines = [[f"{key}: {row['label']}", *(_score(row[c], row["interval95"][c]) for c in RECALL_COLUMNS),
              row["r_mean"]] for key, row in result.rows.items()]
    lines += [[f"{label} (reference)", *(float(quoted[c]) for c in RECALL_COLUMNS),
               round(float(np.mean([quoted[c] for c in RECALL_COLUMNS])), 2)]
              for label, quoted in result.results["references"].items()]
    return lines


def dataset_rows(results: Sequence[Result]) -> tuple[list[str], list[list]]:
    """One table across re-ranking folders: rows x datasets, r_mean; a row a folder lacks is '-'."""
    names = [f"{Path(r.results['config']['data']).name} ({r.folder.name}, k = {r.results['k']})" for r in results]
    keys = list(dict.fromkeys(key for r in results for key in r.rows))
    labels = {key: next(r.rows[key]["label"] for r in results if key in r.rows) for key in keys}
    return ["Row", *names], [[f"{key}: {labels[key]}", *(r.rows[key]["r_mean"] if key in r.rows else None
                                                           for r in results)] for key in keys]


# --- across benchmarks ----------------------------------------------------------------------------------

def benchmark_rows(results: Sequence[Result]) -> tuple[list[str], list[list]]:
    """Rows x benchmarks: each folder's main metrics (`Grid.columns`: score, low, high); a row a folder lacks is
    '-'."""
    columns = [(r, m) for r in results for m in GRIDS[r.benchmark].columns]
    header = ["Row", *(f"{r.benchmark} {m} ({r.experiment})" for r, m in columns)]
    keys = list(dict.fromkeys(key for r in results for key in r.rows))
    lines = []
    for key in keys:
        label = next(r.rows[key]["label"] for r in results if key in r.rows)
        cells = []
        for r, m in columns:
            row = r.rows.get(key)
            value = None if row is None else row.get(m)
            cells.append(None if value is None else _score(value, row["interval95"][m] or [value, value]))
        lines.append([f"{key}: {label}", *cells])
    return header, lines


PUBLISHED_HEADER = ["Experiment", "Row", "Metric", "Reproduced", "Published", "Reproduced minus published",
                    "Published in 95% interval"]


def _markdown_cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return f"{value[0]:.2f} [{value[1]:.2f}, {value[2]:.2f}]"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def markdown(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A Markdown table; columns of text are left-aligned, columns of numbers right-aligned."""
    text_columns = sum(isinstance(c, str) for c in rows[0]) if rows else 1
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * text_columns + "---:|" * (len(header) - text_columns)]
    lines += ["| " + " | ".join(_markdown_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def _latex_cell(value) -> str:
    if isinstance(value, tuple):
        return f"{value[0]:.2f} {{\\scriptsize [{value[1]:.2f}, {value[2]:.2f}]}}"
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in _markdown_cell(value))


def latex(header: Sequence[str], rows: Sequence[Sequence], caption: str) -> str:
    """A booktabs table (needs \\usepackage{booktabs})."""
    lines = [r"\begin{table}[t]", r"\centering", r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}", r"\toprule",
             " & ".join(_latex_cell(h) for h in header) + r" \\", r"\midrule"]
    lines += [" & ".join(_latex_cell(c) for c in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", f"\\caption{{{_latex_cell(caption)}}}", r"\end{table}"]
    return "\n".join(lines)
