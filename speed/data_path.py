"""Seconds per image on the CPU data path, against a floor of one decode plus one preprocess per image.

Writes a Winoground-format folder of photo-sized PNGs (600-1400 px a side, smooth content plus noise,
so they compress and decode like photographs), then times:
  floor:    in one process, each image decoded once and preprocessed once by the BLIP image processor
            (384 px, bicubic), a batch at a time: the work that cannot be avoided;
  before:   the previous path: decode every image at load to check it, decode again when reading rows,
            preprocess in the main process;
  package:  this repository's path: check the files at load without decoding, then decode and
            preprocess in --workers processes (evaluation/loader.py), for 1 and for N workers.
The paths run in alternating rounds and each keeps its fastest. Ratios below 1 mean the workers run in
parallel with each other and with the main process.

    python speed/data_path.py --examples 100 --workers 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import fastest_rounds  # noqa: E402

from benchmarks.winoground import load_winoground  # noqa: E402
from evaluation.batches import default_workers, grid_batches  # noqa: E402


def photo_like(rng: np.random.Generator) -> Image.Image:
    """A photo-sized image with smooth regions and fine noise."""
    width, height = (int(v) for v in rng.integers(600, 1401, size=2))
    coarse = Image.fromarray(rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)).resize((width, height),
                                                                                            Image.Resampling.BICUBIC)
    noise = rng.normal(0, 6, size=(height, width, 3))
    return Image.fromarray(np.clip(np.asarray(coarse, dtype=np.float64) + noise, 0, 255).astype(np.uint8))


def write_folder(folder: Path, n_examples: int) -> Path:
    rng = np.random.default_rng(0)
    (folder / "images").mkdir(parents=True)
    with open(folder / "examples.jsonl", "w") as f:
        for k in range(n_examples):
            for i in (0, 1):
                photo_like(rng).save(folder / "images" / f"ex_{k}_{i}.png")
            f.write(json.dumps({"id": k, "image_0": f"ex_{k}_0", "image_1": f"ex_{k}_1", "caption_0": "a b",
                                "caption_1": "b a", "tag": "Object", "secondary_tag": "", "num_main_preds": 1,
                                "collapsed_tag": "Object"}) + "\n")
    return folder


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=100, help="Winoground-format examples (two images each)")
    p.add_argument("--workers", type=int, default=max(2, default_workers()), help="N for the N-worker row")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=2, help="rounds of every path, alternating; each keeps its fastest")
    args = p.parse_args()
    from transformers import BlipImageProcessorPil

    processor = BlipImageProcessorPil()  # BLIP-large's: 384 px, bicubic, CLIP mean and std

    def preprocess(images):
        return processor(images=images, return_tensors="pt").pixel_values

    with tempfile.TemporaryDirectory() as tmp:
        folder = write_folder(Path(tmp) / "winoground", args.examples)
        files = sorted((folder / "images").iterdir(), key=lambda f: (int(f.stem.split("_")[1]), f.stem))
        n_images = len(files)
        ranges = [range(s, min(s + args.batch_size, args.examples)) for s in range(0, args.examples, args.batch_size)]
        mb = sum(f.stat().st_size for f in files) / 2**20

        def floor():
            for first in range(0, n_images, 2 * args.batch_size):
                preprocess([Image.open(f).convert("RGB") for f in files[first:first + 2 * args.batch_size]])

        def before():
            for f in files:  # the previous loader decoded every image to check it ...
                with Image.open(f) as image:
                    image.load()
            data = load_winoground(str(folder))
            for r in ranges:  # ... and the rows decoded them again, preprocessed in the main process
                rows = [data[k] for k in r]
                preprocess([ex[f"image_{i}"] for ex in rows for i in (0, 1)])

        def package(workers):
            data = load_winoground(str(folder))
            for _ in grid_batches(data, ranges, {"blip": preprocess}, workers):
                pass

        paths = {"(floor) one decode + one preprocess, one process": floor, "(before) previous path": before,
                 **{f"(package) check at load, decode + preprocess in {w} worker(s)": lambda w=w: package(w)
                    for w in (1, args.workers)}}
        rows = {name: seconds for name, (seconds, _) in fastest_rounds(paths, torch.device("cpu"),
                                                                      args.repeats).items()}
        floor_seconds = rows["(floor) one decode + one preprocess, one process"]

    print(f"{n_images} photo-sized PNGs ({mb:.0f} MiB, 600-1400 px), batch size {args.batch_size} examples, "
          f"fastest of {args.repeats} rounds")
    print("| path | s / image | ratio to floor |\n|---|---:|---:|")
    for name, seconds in rows.items():
        print(f"| {name} | {seconds / n_images:.4f} | {seconds / floor_seconds:.2f} |")


if __name__ == "__main__":
    main()
