"""results.json: what every experiment writes when it finishes, beside the library versions that produced it, and
how folders of earlier releases are read.

Schema 3 (`SCHEMA`, written as "schema"): each computed row under "rows", quoted rows as {label: {metric: value}},
and on grid benchmarks the benchmark's name, primary metric and compared metrics (reports/grids.py). Earlier
schemas, each read as schema 3 by `read_results`:
- schema 2 named some rows otherwise (evaluation/records.py, `current_name`): "itm_enc" for log P(match) with
  [ENC] first, "<row>_exact_ratio" for the improved search's ratios, "swap_exact_<c>" for its T';
- folders without "schema" (schema 1) also keep their rows under "methods"; Winoground's had no benchmark name,
  its quoted rows as a list of {label, text, image, group, published_image} and each row's published Image
  score as "published_image"; re-ranking's quoted rows were lists of recalls.
An upgraded results.json says which schema it was written in as "written_schema", so that its examples.jsonl
or queries.jsonl is read with the same names (`upgraded_record`).
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Mapping

import numpy as np

from benchmarks.retrieval import RECALL_COLUMNS
from common.files import write_json
from evaluation.records import SCHEMA, current_name

WINOGROUND_METRICS = ("text", "image", "group")


def library_versions() -> dict:
    """The libraries behind the numbers, and the CPU threads of the process (a CPU result's bits depend on them)."""
    import datasets
    import huggingface_hub
    import PIL
    import torch
    import transformers

    return {"python": sys.version.split()[0], "platform": platform.platform(), "torch": torch.__version__,
            "transformers": transformers.__version__, "datasets": datasets.__version__,
            "huggingface_hub": huggingface_hub.__version__, "numpy": np.__version__, "pillow": PIL.__version__,
            "torch_threads": torch.get_num_threads()}


def write_results(out_dir: str | Path, results: Mapping) -> Path:
    """Write results.json atomically in out_dir, in the current schema."""
    return write_json(Path(out_dir) / "results.json", {"schema": SCHEMA, **results})


def read_results(out_dir: str | Path) -> dict:
    """A folder's results.json in the current schema, whichever release wrote it."""
    return upgraded(json.loads((Path(out_dir) / "results.json").read_text()))


def upgraded(results: dict) -> dict:
    """results.json of an earlier schema (see the module docstring) in the current one; the current one as it is."""
    written = results.get("schema", 1)
    if written == SCHEMA:
        return results
    out = _renamed(results if written == 2 else _schema_2(results))
    out["schema"], out["written_schema"] = SCHEMA, written
    return out


def _renamed(results: dict) -> dict:
    """Schema 2 with schema 3's names (evaluation/records.py): rows, comparisons, models' rows, the alpha figure."""
    out = dict(results)
    if isinstance(results.get("rows"), dict):
        out["rows"] = {current_name(k): v for k, v in results["rows"].items()}
    if isinstance(results.get("comparisons"), list):
        out["comparisons"] = [{**c, "a": current_name(c["a"]), "b": current_name(c["b"])} if isinstance(c, dict)
                              and isinstance(c.get("a"), str) and isinstance(c.get("b"), str) else c
                              for c in results["comparisons"]]
    if isinstance(results.get("models"), dict):
        out["models"] = {role: {**m, "rows": [current_name(k) for k in m["rows"]]}
                         if isinstance(m, dict) and isinstance(m.get("rows"), list) else m
                         for role, m in results["models"].items()}
    if isinstance(results.get("alpha_figure"), dict):
        out["alpha_figure"] = {current_name(k): [current_name(r) for r in v] if isinstance(v, list) else v
                               for k, v in results["alpha_figure"].items()}
    return out


def _schema_2(results: dict) -> dict:
    """A folder without "schema" (module docstring) in schema 2."""
    out = {k: v for k, v in results.items() if k != "methods"}
    out["schema"], out["rows"] = 2, results.get("methods")
    if results.get("config", {}).get("experiment") == "experiment4":  # re-ranking, which no other script does
        out["benchmark"] = "retrieval"
        out["references"] = {label: dict(zip(RECALL_COLUMNS, values)) if isinstance(values, list) else values
                             for label, values in (results.get("references") or {}).items()}
        return out
    if "benchmark" in results:  # a grid benchmark other than Winoground: differences of its primary metric
        out["compared"] = [results.get("primary")]
        return out
    out |= {"benchmark": "winoground", "primary": "group", "compared": list(WINOGROUND_METRICS)}
    references = {}
    for quoted in results.get("references") or []:
        values = {m: quoted[m] for m in WINOGROUND_METRICS if quoted.get(m) is not None}
        if "image" not in values and quoted.get("published_image") is not None:
            values["image"] = quoted["published_image"]
        references[quoted.get("label")] = values
    out["references"] = references
    rows = {}
    for key, row in (results.get("methods") or {}).items():
        row = {k: v for k, v in row.items() if k != "published_image"}
        if isinstance(results["methods"][key], dict) and results["methods"][key].get("published_image") is not None:
            row["published"] = {"image": results["methods"][key]["published_image"]}
        rows[key] = row
    out["rows"] = rows
    return out
