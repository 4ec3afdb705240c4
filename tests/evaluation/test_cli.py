"""Every flag is checked before any data or model is loaded."""

from __future__ import annotations

import argparse

import pytest
import torch

from common.errors import InputError
from evaluation.cli import experiment_parser, validate


def _args(*flags: str) -> argparse.Namespace:
    return experiment_parser("experiment1", "test", ("clm", "itm")).parse_args(["--device", "cpu", *flags])


@pytest.mark.parametrize("flags,message", [
    (["--seed", "-1"], "--seed must be at least 0, got -1"),
    (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["--limit", "0"], "--limit must be at least 1"),
    (["--workers", "-2"], "--workers must be at least 0"),
    (["--max-image-pixels", "-5"], "--max-image-pixels must be at least 0"),
    (["--device", "gpu"], "--device gpu is not a torch device: use cpu, cuda or cuda:N"),
    (["--device", "meta"], "--device meta is not supported"),
])
def test_bad_flags_are_one_line(flags, message):
    with pytest.raises(InputError, match=message) as e:
        validate(_args(*flags))
    assert "\n" not in str(e.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_one_line():
    with pytest.raises(InputError, match="no CUDA GPU that torch can use; pass --device cpu"):
        validate(_args("--device", "cuda"))


def test_retrieval_flags(tmp_path):
    from evaluation.cli import retrieval_parser

    parser = retrieval_parser("test", ["itc"], ["itc"])
    for flag, message in (("--k", "--k must be at least 1"), ("--pair-batch-size", "--pair-batch-size must be at "
                                                                                    "least 1")):
        with pytest.raises(InputError, match=message):
            validate(parser.parse_args(["--device", "cpu", flag, "0"]))
