"""Tables from result folders: each experiment's rows beside the published numbers, in Markdown or LaTeX.

A result folder is what an experiment script writes to its --out: `results.json` (config, every row's
scores and intervals, comparisons) and `examples.jsonl` (per-example scores). `load_result` reads one;
`experiment_rows` and `published_rows` turn results into table rows, and `markdown` / `latex` print them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from scoring.errors import InputError

KINDS = ("text", "image", "group")


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


def published_check(method: dict) -> tuple[float | None, bool | None]:
    """Reproduced minus published Image score, and whether the published score lies in the 95% interval."""
    published = method.get("published_image")
    if published is None:
        return None, None
    low, high = method["interval95"]["image"]
    return round(method["image"] - published, 2), low <= published <= high


def _score(value: float, interval: Sequence[float]) -> tuple[float, float, float]:
    return value, interval[0], interval[1]


def experiment_rows(result: Result) -> list[list]:
    """One row per method: label, (score, low, high) for Text, Image, Group, published, difference, inside."""
    rows = []
    for method in result.methods.values():
        difference, inside = published_check(method)
        rows.append([method["label"], *(_score(method[k], method["interval95"][k]) for k in KINDS),
                     method.get("published_image"), difference, inside])
    return rows


def published_rows(results: Sequence[Result]) -> list[list]:
    """Every row with a published Image score, across experiments: experiment, label, image, published, ..."""
    rows = []
    for result in results:
        for method in result.methods.values():
            difference, inside = published_check(method)
            if difference is not None:
                rows.append([result.experiment, method["label"],
                             _score(method["image"], method["interval95"]["image"]),
                             method["published_image"], difference, inside])
    return rows


EXPERIMENT_HEADER = ["Method", "Text", "Image", "Group", "Published Image", "Image minus published",
                     "Published in 95% interval"]
PUBLISHED_HEADER = ["Experiment", "Method", "Image", "Published Image", "Image minus published",
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
