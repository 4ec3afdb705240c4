"""Summaries, Markdown tables and results.json for the experiments.

A `Method` names one scoring rule: its key in examples.jsonl, a label for tables, which direction is
better, the published Image score if the original write-up gave one, and the model role and head it
needs (so a script can leave out rows that the loaded checkpoint cannot compute). `summarize` turns its
per-example scores into percentages, bootstrap intervals and breakdowns; `markdown_table` prints
computed rows beside reference rows (numbers quoted from papers, never computed here).
"""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from evaluation import metrics


@dataclass(frozen=True)
class Method:
    key: str
    label: str  # may name the model as {model}, filled with the loaded checkpoint's family, e.g. "BLIP"
    higher_is_better: bool = True
    published_image: float | None = None
    model: str = ""  # the role of the checkpoint that computes it, e.g. "itm" for --itm-model
    head: str = ""  # the head of that checkpoint it needs


@dataclass(frozen=True)
class Reference:
    """A row quoted from the literature; None where the source gives no number."""
    label: str
    text: float | None = None
    image: float | None = None
    group: float | None = None
    published_image: float | None = None


RANDOM_CHANCE = Reference("Random chance", 25.00, 25.00, 16.67, published_image=25.00)
HUMANS = Reference("Humans (Thrush et al., 2022)", 89.50, 88.50, 85.50)
PALI = Reference("PaLI 17B (best known fine-tuning/prompting, external)", published_image=41.50)
VQ2 = Reference("VQ2 (external)", published_image=42.20)
# Experiment 1's published head scores, quoted as references in experiment 3.
BLIP_CONTRASTIVE = Reference("BLIP contrastive head (experiment 1)", published_image=13.50)
BLIP_ITM = Reference("BLIP ITM head (experiment 1)", published_image=24.25)


def summarize(method: Method, scores: np.ndarray, groups: Mapping[str, np.ndarray], seed: int = 0) -> dict:
    """Scores, 95% bootstrap intervals and per-group breakdown of one method, as JSON-ready data."""
    flags = metrics.correct(scores, method.higher_is_better)
    intervals = {k: metrics.bootstrap_interval(flags[k], seed=seed) for k in metrics.KINDS}
    return {
        "label": method.label,
        "higher_is_better": method.higher_is_better,
        "published_image": method.published_image,
        **metrics.percentages(flags),
        "interval95": {k: [iv.low, iv.high] for k, iv in intervals.items()},
        "breakdown": metrics.breakdown(flags, groups),
    }


def compare(a: Method, b: Method, scores: Mapping[str, np.ndarray], seed: int = 0) -> dict:
    """Paired bootstrap of method a minus method b for each of Text, Image, Group."""
    fa = metrics.correct(scores[a.key], a.higher_is_better)
    fb = metrics.correct(scores[b.key], b.higher_is_better)
    out = {"a": a.key, "b": b.key}
    for k in metrics.KINDS:
        d = metrics.paired_bootstrap(fa[k], fb[k], seed=seed)
        out[k] = {"difference": d.difference, "interval95": [d.interval.low, d.interval.high]}
    return out


def _cell(value: float | None, interval: Sequence[float] | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if interval is None else f"{value:.2f} [{interval[0]:.2f}, {interval[1]:.2f}]"


def markdown_table(summaries: Mapping[str, dict], references: Sequence[Reference] = ()) -> str:
    """Computed rows (with 95% intervals) then reference rows, with the published Image score beside each."""
    lines = ["| Method | Text | Image | Group | Published Image |", "|---|---:|---:|---:|---:|"]
    for s in summaries.values():
        iv = s["interval95"]
        lines.append(f"| {s['label']} | {_cell(s['text'], iv['text'])} | {_cell(s['image'], iv['image'])} | "
                     f"{_cell(s['group'], iv['group'])} | {_cell(s['published_image'])} |")
    for r in references:
        lines.append(f"| *{r.label}* (reference) | {_cell(r.text)} | {_cell(r.image)} | {_cell(r.group)} | "
                     f"{_cell(r.published_image)} |")
    return "\n".join(lines)


def breakdown_table(summaries: Mapping[str, dict]) -> str:
    """One row per method, one column per group, each cell Text/Image/Group."""
    names = list(dict.fromkeys(g for s in summaries.values() for g in s["breakdown"]))
    lines = ["| Method | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for s in summaries.values():
        cells = []
        for g in names:
            b = s["breakdown"].get(g)
            cells.append("-" if b is None else f"{b['text']:.1f}/{b['image']:.1f}/{b['group']:.1f} (n={b['n']})")
        lines.append(f"| {s['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparison_table(comparisons: Sequence[dict], summaries: Mapping[str, dict]) -> str:
    lines = ["| A minus B | Text | Image | Group |", "|---|---:|---:|---:|"]
    for c in comparisons:
        cells = [f"{c[k]['difference']:+.2f} [{c[k]['interval95'][0]:+.2f}, {c[k]['interval95'][1]:+.2f}]"
                 for k in metrics.KINDS]
        lines.append(f"| {summaries[c['a']]['label']} minus {summaries[c['b']]['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def library_versions() -> dict[str, str]:
    import datasets
    import huggingface_hub
    import PIL
    import torch
    import transformers

    return {"python": sys.version.split()[0], "platform": platform.platform(), "torch": torch.__version__,
            "transformers": transformers.__version__, "datasets": datasets.__version__,
            "huggingface_hub": huggingface_hub.__version__, "numpy": np.__version__, "pillow": PIL.__version__}


def write_results(out_dir: Path, config: Mapping, n_examples: int, summaries: Mapping[str, dict],
                  comparisons: Sequence[dict] = (), references: Sequence[Reference] = (),
                  extra: Mapping | None = None) -> Path:
    """Write results.json: config, library versions, every method's scores, intervals and breakdowns."""
    data = {
        "config": dict(config),
        "versions": library_versions(),
        "n_examples": n_examples,
        "methods": dict(summaries),
        "comparisons": list(comparisons),
        "references": [vars(r) for r in references],
        **(extra or {}),
    }
    path = Path(out_dir) / "results.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
    return path


def report_run(out_dir: Path, config: Mapping, records: Sequence[Mapping], methods: Sequence[Method],
               references: Sequence[Reference] = (), comparisons: Sequence[tuple[str, str]] = (),
               extra: Mapping | None = None) -> str:
    """Summarize every method over the records, write results.json, and return the Markdown to print."""
    scores = {m.key: metrics.as_score_array(r[m.key] for r in records) for m in methods}
    groups = metrics.example_groups([r["tag"] for r in records], [r["secondary_tag"] for r in records],
                                    [r["num_main_preds"] for r in records])
    seed = config.get("seed", 0)
    summaries = {m.key: summarize(m, scores[m.key], groups, seed) for m in methods}
    by_key = {m.key: m for m in methods}
    compared = [compare(by_key[a], by_key[b], scores, seed) for a, b in comparisons]
    write_results(out_dir, config, len(records), summaries, compared, references, extra)
    parts = [markdown_table(summaries, references), "Per-group Text/Image/Group:", breakdown_table(summaries)]
    if compared:
        parts += ["Paired bootstrap differences (95% intervals):", comparison_table(compared, summaries)]
    return "\n\n".join(parts)
