"""results.json: what every experiment writes when it finishes, beside the library versions that produced it."""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Mapping

import numpy as np

from common.files import write_json


def library_versions() -> dict[str, str]:
    import datasets
    import huggingface_hub
    import PIL
    import torch
    import transformers

    return {"python": sys.version.split()[0], "platform": platform.platform(), "torch": torch.__version__,
            "transformers": transformers.__version__, "datasets": datasets.__version__,
            "huggingface_hub": huggingface_hub.__version__, "numpy": np.__version__, "pillow": PIL.__version__}


def write_results(out_dir: str | Path, results: Mapping) -> Path:
    """Write results.json atomically in out_dir."""
    return write_json(Path(out_dir) / "results.json", dict(results))
