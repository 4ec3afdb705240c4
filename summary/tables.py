"""Tables from finished results: each experiment's rows beside the published numbers, in Markdown or LaTeX.

`experiment_rows` and `published_rows` turn Winoground results (summary/results.py) into table rows;
`recall_rows`, `difference_rows` and `dataset_rows` do the same for re-ranking (experiment 4); `markdown`
and `latex` print them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from benchmarks import GRIDS
from benchmarks.retrieval import RECALL_COLUMNS
from benchmarks.winoground import KINDS
from summary.results import Result


def published_check(row: dict) -> tuple[float | None, bool | None]:
    """Reproduced minus published Image score, and whether the published score lies in the 95% interval."""
    published = row.get("published_image")
    if published is None:
        return None, None
    low, high = row["interval95"]["image"]
    return round(row["image"] - published, 2), low <= published <= high


def _score(value: float, interval: Sequence[float]) -> tuple[float, float, float]:
    return value, interval[0], interval[1]


def experiment_rows(result: Result) -> list[list]:
    """One table row per result row: label, (score, low, high) for Text, Image, Group, published, difference, inside."""
    lines = []
    for row in result.methods.values():
        difference, inside = published_check(row)
        lines.append([row["label"], *(_score(row[k], row["interval95"][k]) for k in KINDS),
                      row.get("published_image"), difference, inside])
    return lines


def published_rows(results: Sequence[Result]) -> list[list]:
    """Every row with a published Image score, across experiments: experiment, label, image, published, ..."""
    lines = []
    for result in results:
        for row in result.methods.values():
            difference, inside = published_check(row)
            if difference is not None:
                lines.append([result.experiment, row["label"], _score(row["image"], row["interval95"]["image"]),
                              row["published_image"], difference, inside])
    return lines


# --- re-ranking (experiment 4) -------------------------------------------------------------------------

RECALL_HEADER = ["Row", *RECALL_COLUMNS, "r_mean"]
DIFFERENCE_HEADER = ["A minus B", *RECALL_COLUMNS]


def recall_rows(result: Result) -> list[list]:
    """Each row's recalls (score, low, high) and r_mean, then the paper's rows (quoted, never computed)."""
    lines = [[f"{key}: {row['label']}", *(_score(row[c], row["interval95"][c]) for c in RECALL_COLUMNS),
              row["r_mean"]] for key, row in result.methods.items()]
    lines += [[f"{label} (reference)", *map(float, values), round(float(np.mean(values)), 2)]
              for label, values in result.results["references"].items()]
    return lines


def difference_rows(result: Result) -> list[list]:
    """Paired differences of every compared pair of rows on each recall: (difference, low, high)."""
    return [[f"{c['a']} minus {c['b']}", *(_score(c[m]["difference"], c[m]["interval95"]) for m in RECALL_COLUMNS)]
            for c in result.results["comparisons"]]


def dataset_rows(results: Sequence[Result]) -> tuple[list[str], list[list]]:
    """One table across re-ranking folders: rows x datasets, r_mean; a row a folder lacks is '-'."""
    names = [f"{Path(r.results['config']['data']).name} ({r.folder.name}, k = {r.results['k']})" for r in results]
    keys = list(dict.fromkeys(key for r in results for key in r.methods))
    labels = {key: next(r.methods[key]["label"] for r in results if key in r.methods) for key in keys}
    return ["Row", *names], [[f"{key}: {labels[key]}", *(r.methods[key]["r_mean"] if key in r.methods else None
                                                           for r in results)] for key in keys]


# --- across benchmarks ----------------------------------------------------------------------------------

def benchmark_rows(results: Sequence[Result]) -> tuple[list[str], list[list]]:
    """Rows x benchmarks: each folder's main metrics (`Grid.columns`: score, low, high); a row a folder lacks is
    '-'."""
    columns = [(r, m) for r in results for m in GRIDS[r.benchmark].columns]
    header = ["Row", *(f"{r.benchmark} {m} ({r.experiment})" for r, m in columns)]
    keys = list(dict.fromkeys(key for r in results for key in r.methods))
    lines = []
    for key in keys:
        label = next(r.methods[key]["label"] for r in results if key in r.methods)
        cells = []
        for r, m in columns:
            row = r.methods.get(key)
            value = None if row is None else row.get(m)
            cells.append(None if value is None else _score(value, row["interval95"][m] or [value, value]))
        lines.append([f"{key}: {label}", *cells])
    return header, lines


EXPERIMENT_HEADER = ["Row", "Text", "Image", "Group", "Published Image", "Image minus published",
                     "Published in 95% interval"]
PUBLISHED_HEADER = ["Experiment", "Row", "Image", "Published Image", "Image minus published",
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
