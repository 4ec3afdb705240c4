"""Tables from finished results: each experiment's rows beside the published numbers, in Markdown or LaTeX.

`experiment_rows` and `published_rows` turn results (summary/results.py) into table rows, and
`markdown` / `latex` print them.
"""

from __future__ import annotations

from typing import Sequence

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
