"""results.json: what every experiment writes when it finishes, beside the library versions that produced it, and
how folders of earlier releases are read.

Schema 2 (`SCHEMA`, written as "schema"): each computed row under "rows", quoted rows as {label: {metric: value}},
and on grid benchmarks the benchmark's name, primary metric and compared metrics (reports/grids.py). Folders that
earlier releases wrote have no "schema": their rows stand under "methods", and Winoground's had no benchmark
name, its quoted rows as a list of {label, text, image, group, published_image} and each row's published Image
score as "published_image"; re-ranking's quoted rows were lists of recalls. `read_results` reads either as
schema 2.
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

SCHEMA = 2
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
    if results.get("schema") == SCHEMA:
        return results
    out = {k: v for k, v in results.items() if k != "methods"}
    out["schema"], out["rows"] = SCHEMA, results.get("methods")
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
