"""The command line the three experiment scripts share: flags, device choice, one-line errors."""

from __future__ import annotations

import argparse
import sys
from typing import Callable

import torch

from evaluation.loader import default_workers
from scoring.batching import DTYPES
from scoring.errors import InputError

DEFAULT_MODELS = {
    "clm": ("Salesforce/blip-image-captioning-large",
            "captioning model: BLIP (BlipForConditionalGeneration) or BLIP-2 (Blip2ForConditionalGeneration)"),
    "itm": ("Salesforce/blip-itm-large-coco",
            "model with a contrastive head: BLIP or BLIP-2 retrieval (also ITM heads), CLIP or SigLIP"),
    "mlm": ("distilroberta-base", "masked LM that searches word swaps T'"),
}


def experiment_parser(experiment: str, description: str, models: tuple[str, ...]) -> argparse.ArgumentParser:
    """Flags common to the experiments; `models` picks which of --clm-model, --itm-model, --mlm-model apply."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default="facebook/winoground",
                   help="hub dataset id (gated: accept its terms and `hf auth login`) or a local folder "
                        "holding examples.jsonl and images/<stem>.png")
    for key in models:
        default, what = DEFAULT_MODELS[key]
        p.add_argument(f"--{key}-model", default=default,
                       help=f"hub id or local folder of the {what}; the family is read from its config")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="torch device, e.g. cuda, cuda:1, cpu")
    p.add_argument("--dtype", default="float32", choices=sorted(DTYPES),
                   help="model weights and activations; float32 reproduces the published arithmetic, "
                        "bfloat16 is about twice as fast on a recent GPU")
    p.add_argument("--batch-size", type=int, default=16,
                   help="Winoground examples scored together (halved automatically on CUDA out-of-memory)")
    p.add_argument("--limit", type=int, default=None, help="score only the first N examples")
    p.add_argument("--workers", type=int, default=default_workers(),
                   help="processes that decode and preprocess images while the model computes (0: in the main "
                        "process); results are identical for any number")
    p.add_argument("--seed", type=int, default=0, help="seed of the word-swap candidate sampling and the bootstrap")
    p.add_argument("--out", default=f"results/{experiment}",
                   help="output folder for results.json and examples.jsonl; a killed run started again with "
                        "the same folder and arguments continues where it stopped")
    if "mlm" in models:
        p.add_argument("--swap-cache", default="results/swaps.json",
                       help="JSON file of word swaps T' shared by experiments 2 and 3 (readable, reused across runs)")
    return p


def run_config(args: argparse.Namespace, experiment: str) -> dict:
    """The arguments that determine the results (not where they are written, nor how many workers decode)."""
    return {"experiment": experiment,
            **{k: v for k, v in vars(args).items() if k not in ("out", "swap_cache", "workers")}}


def main_with_clean_errors(main: Callable[[], None]) -> None:
    """Run main; a problem the user can fix ends the program with its one-line message and exit status 2."""
    try:
        main()
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
