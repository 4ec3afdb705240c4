"""The command line the experiment scripts share: flags, their validation before any work, one-line errors."""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Callable, Sequence

import PIL.Image
import torch

from common.errors import InputError
from evaluation.batches import default_workers
from evaluation.records import SCHEMA
from scoring.batching import DTYPES

DEFAULT_MODELS = {
    "clm": ("Salesforce/blip-image-captioning-large",
            "captioning model: BLIP (BlipForConditionalGeneration), BLIP-2 (Blip2ForConditionalGeneration), or a "
            "generative VLM (LLaVA-1.5, LLaVA-OneVision, Qwen2.5-VL, PaliGemma, Idefics3/SmolVLM, InstructBLIP; "
            "log P(T | image, caption prompt)), e.g. llava-hf/llava-1.5-7b-hf"),
    "itm": ("Salesforce/blip-itm-large-coco",
            "model with a contrastive head: BLIP or BLIP-2 retrieval (also ITM heads), CLIP or SigLIP"),
    "mlm": ("distilroberta-base", "masked LM that searches word swaps T'"),
    "vqa": ("Salesforce/blip2-flan-t5-xl", "BLIP-2 captioning model or generative VLM (as for --clm-model, e.g. "
                                           "Qwen/Qwen2.5-VL-7B-Instruct) whose VQAScore is scored; an empty string "
                                           "leaves its rows out"),
}


def experiment_parser(experiment: str, description: str, models: tuple[str, ...]) -> argparse.ArgumentParser:
    """Flags common to the experiments; `models` picks which of --clm-model, --itm-model, --mlm-model apply."""
    from benchmarks import GRIDS

    p = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--benchmark", default="winoground", choices=list(GRIDS),
                   help="the benchmark whose grids of images and captions are scored (README: files to download)")
    p.add_argument("--data", default=None,
                   help="the benchmark's data: for Winoground a hub dataset id (default facebook/winoground; gated: "
                        "accept its terms and `hf auth login`) or a local folder holding examples.jsonl and "
                        "images/<stem>.png; for the other benchmarks the folder or file of their official release")
    p.add_argument("--image-root", default=None,
                   help="the folder of images that live apart from the annotations (SugarCrepe: COCO val2017)")
    for key in models:
        default, what = DEFAULT_MODELS[key]
        p.add_argument(f"--{key}-model", default=default,
                       help=f"hub id or local folder of the {what}; the family is read from its config")
    _shared_flags(p, experiment, batch="examples scored together (halved automatically on CUDA out-of-memory)",
                  limit="examples")
    if "mlm" in models:
        _swap_cache_flag(p)
    return p


def prior_flags(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags of the captions' priors over null images (experiment 5; scoring/priors.py)."""
    p.add_argument("--null-images", type=int, default=3,
                   help="noise images over which each caption's prior P(T) is averaged (README: the recipe)")
    p.add_argument("--prior-cache", default="results/priors.json",
                   help="JSON file of the captions' priors per model, head, number of null images and seed")
    return p


def _swap_cache_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--swap-cache", default="results/swaps.json",
                   help="JSON file of word swaps T', shared by every experiment that divides by T' (readable, reused "
                        "across runs)")


def _shared_flags(p: argparse.ArgumentParser, experiment: str, batch: str, limit: str) -> None:
    """The flags of every experiment; `batch` says what --batch-size counts, `limit` what --limit keeps."""
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="torch device, e.g. cuda, cuda:1, cpu")
    p.add_argument("--dtype", default="float32", choices=sorted(DTYPES),
                   help="model weights and activations; float32 reproduces the published arithmetic, "
                        "bfloat16 is about twice as fast on a recent GPU")
    p.add_argument("--batch-size", type=int, default=16, help=batch)
    p.add_argument("--limit", type=int, default=None, help=f"use only the first N {limit}")
    p.add_argument("--workers", type=int, default=default_workers(),
                   help="processes that decode and preprocess images while the model computes (0: in the main "
                        "process); results are identical for any number")
    p.add_argument("--seed", type=int, default=0, help="seed of the word-swap candidate sampling and the bootstrap")
    p.add_argument("--out", default=f"results/{experiment}",
                   help="output folder for results.json and the per-example or per-query file; a killed run "
                        "started again with the same folder and arguments continues where it stopped")
    p.add_argument("--max-image-pixels", type=int, default=PIL.Image.MAX_IMAGE_PIXELS,
                   help="Pillow's decompression-bomb guard: larger images are refused (0: no limit)")


def retrieval_parser(description: str, rows: Sequence[str], default_rows: Sequence[str]) -> argparse.ArgumentParser:
    """Flags of the retrieval re-ranking experiment (experiment4.py), whose rows are `rows`."""
    from benchmarks.retrieval import COCO, FLICKR

    p = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default=FLICKR,
                   help=f"hub dataset id ({FLICKR}, {COCO}) or a local annotation JSON file in BLIP's format "
                        f"(flickr30k_test.json, coco_karpathy_test.json) or Karpathy's (dataset_*.json, test split)")
    p.add_argument("--image-root", default=None, help="folder the annotation file's image paths are relative to "
                                                      "(default: the file's folder)")
    for key in ("itm", "clm", "mlm"):
        default, what = DEFAULT_MODELS[key]
        p.add_argument(f"--{key}-model", default=default, help=f"hub id or local folder of the {what}")
    p.add_argument("--first-stage-model", default=None,
                   help="any checkpoint with a contrastive head for the first stage (default: --itm-model), "
                        "e.g. openai/clip-vit-base-patch32 as the original repository used")
    p.add_argument("--k", type=int, default=16, help="candidates re-ranked per query; BLIP's protocol uses 128 "
                                                     "on Flickr30K and 256 on COCO")
    p.add_argument("--rows", default=",".join(default_rows),
                   help=f"comma-separated rows, from: {', '.join(rows)}; their costs differ by orders of magnitude")
    _shared_flags(p, "experiment4", batch="images encoded together", limit="images (and their captions)")
    _swap_cache_flag(p)
    p.add_argument("--pair-batch-size", type=int, default=512, help="(text, image) pairs per model call")
    return p


# Flags that must be at least this, checked before any data or model is loaded.
MINIMUM = {"batch_size": 1, "pair_batch_size": 1, "k": 1, "limit": 1, "workers": 0, "seed": 0,
           "max_image_pixels": 0, "null_images": 1}
# Seeds go to torch and numpy generators, also as seed + k for the k-th null image: a 32-bit seed fits them all.
MAXIMUM = {"seed": 2**32 - 1}


def validate(args: argparse.Namespace) -> None:
    """Check every flag before any work: a bad value is one line now, not a crash after an hour of scoring."""
    for name, least in MINIMUM.items():
        value = getattr(args, name, None)
        if value is not None and value < least:
            raise InputError(f"--{name.replace('_', '-')} must be at least {least}, got {value}")
    for name, most in MAXIMUM.items():
        value = getattr(args, name, None)
        if value is not None and value > most:
            raise InputError(f"--{name.replace('_', '-')} must be at most {most}, got {value}")
    try:
        device = torch.device(args.device)
    except RuntimeError:
        raise InputError(f"--device {args.device} is not a torch device: use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"--device {args.device}: this machine has no CUDA GPU that torch can use; pass --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise InputError(f"--device {args.device}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if device.type not in ("cpu", "cuda", "mps"):
        raise InputError(f"--device {args.device} is not supported: use cpu or cuda")
    # The guard applies in this process and in the decoding workers it forks.
    PIL.Image.MAX_IMAGE_PIXELS = args.max_image_pixels or None


def fix_threads() -> int:
    """Fix this process's CPU threads at the count torch chose (OMP_NUM_THREADS, else the cores it may use) for the
    whole run, and return it.

    A matrix product's last bits depend on how many threads split it. torch never tells MKL its count unless asked,
    and MKL's default dynamic mode (MKL_DYNAMIC) lets it use fewer threads than that, as it judges best at each
    call; `torch.set_num_threads` gives MKL the count and turns that mode off. So a run's results are the same
    bits on a loaded machine as on an idle one, with decoding workers beside it or without.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    return threads


def run_config(args: argparse.Namespace, experiment: str) -> dict:
    """The arguments that determine the results (not where they are written, nor how they are decoded), and the
    version of the folder's layout (evaluation/records.py)."""
    return {"experiment": experiment, "schema": SCHEMA, **{k: v for k, v in vars(args).items()
                                         if k not in ("out", "swap_cache", "prior_cache", "workers",
                                                      "max_image_pixels")}}


class Interrupted(Exception):
    """Ctrl-C during a run; the message says what is saved and how to continue."""


def main_with_clean_errors(main: Callable[[], None]) -> None:
    """Run main; a problem the user can fix ends the program with its one-line message and exit status 2,
    and Ctrl-C with one line on what is saved (exit status 130)."""
    try:
        main()
        gc.freeze()  # everything is written: spare the interpreter's exit a collection over every object
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except Interrupted as e:
        print(f"interrupted: {e}", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("interrupted before any scoring finished: nothing to resume; run the command again", file=sys.stderr)
        sys.exit(130)
