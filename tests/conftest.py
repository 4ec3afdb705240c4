"""Session fixtures over tests/fixtures.py: tiny checkpoints and a drawn Winoground folder, built once."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import sys

import pytest
from fixtures import (
    ROOT,
    build_blip,
    build_blip2_captioning,
    build_clip,
    build_roberta,
    write_compositional_data,
    write_winoground_folder,
)


@pytest.fixture(scope="session")
def winoground_dir(tmp_path_factory) -> Path:
    return write_winoground_folder(tmp_path_factory.mktemp("winoground"))


@pytest.fixture(scope="session")
def blip_paths(tmp_path_factory) -> dict[str, Path]:
    """Tiny random BlipForConditionalGeneration ('clm') and BlipForImageTextRetrieval ('itm') checkpoints."""
    return {"clm": build_blip(tmp_path_factory.mktemp("blip_clm"), "clm", seed=1),
            "itm": build_blip(tmp_path_factory.mktemp("blip_itm"), "itm", seed=2)}


@pytest.fixture(scope="session")
def mlm_path(tmp_path_factory) -> Path:
    return build_roberta(tmp_path_factory.mktemp("roberta"))


@pytest.fixture(scope="session")
def other_mlm_path(tmp_path_factory) -> Path:
    """A second tiny MLM with other weights, to check that caches keyed by model are invalidated."""
    return build_roberta(tmp_path_factory.mktemp("roberta_other"), seed=4)


@pytest.fixture(scope="session")
def clip_path(tmp_path_factory) -> Path:
    return build_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="session")
def blip2_opt_path(tmp_path_factory) -> Path:
    return build_blip2_captioning(tmp_path_factory.mktemp("blip2_opt"), "opt")


@pytest.fixture(scope="session")
def blip2_t5_path(tmp_path_factory) -> Path:
    return build_blip2_captioning(tmp_path_factory.mktemp("blip2_t5"), "t5")


@pytest.fixture(scope="session")
def compositional(tmp_path_factory) -> dict[str, Path]:
    """Every compositional benchmark drawn in its official release format (tests/fixtures.py)."""
    return write_compositional_data(tmp_path_factory.mktemp("compositional"))


@pytest.fixture(scope="session")
def cli(blip_paths, mlm_path, winoground_dir, tmp_path_factory):
    """Builds the command line of an experiment on the test models and data (one swap cache for the session)."""
    swaps = tmp_path_factory.mktemp("swaps") / "swaps.json"

    def command(experiment: str, out: Path, *extra: str) -> list[str]:
        models = {"experiment1": ["--clm-model", str(blip_paths["clm"]), "--itm-model", str(blip_paths["itm"])],
                  "experiment2": ["--itm-model", str(blip_paths["itm"]), "--mlm-model", str(mlm_path),
                                  "--swap-cache", str(swaps)],
                  "experiment3": ["--clm-model", str(blip_paths["clm"]), "--mlm-model", str(mlm_path),
                                  "--swap-cache", str(swaps)]}[experiment]
        return [sys.executable, str(ROOT / f"{experiment}.py"), "--data", str(winoground_dir), "--device", "cpu",
                "--batch-size", "3", "--out", str(out), *models, *extra]
    return command
