"""Every experiment on a GPU box as a user runs it, against floors measured in the same run, and CUDA against CPU.

One call that downloads nothing (about 6 minutes on one H200 at the defaults):
  1. builds BLIP-large-shaped checkpoints (ViT-L/16 at 384 px, BERT-base text side) and a DistilRoBERTa-shaped
     masked LM with random weights, saved with save_pretrained, and --examples drawn Winoground examples in the
     local folder layout (photo-sized PNGs, captions of 6-11 words);
  2. floors: the bare vision forward of every image at each dtype, and one decode per image on every core;
  3. runs experiments 1, 2, 3 and 5 (no VQA model) as processes, in float32 and bfloat16, with empty caches
     ("cold") and again with the swap and prior caches of the cold run ("warm", a new --out), and again on
     their finished folder ("finished"); and experiment 4 on a drawn retrieval set with k = 16;
  4. agreement on the test fixtures: every experiment's float32 scores on CUDA against the CPU's (largest
     difference, which must stay under 1e-4), the same T', the same metrics; bfloat16's largest differences;
     halving on out-of-memory; a torchrun launch of one rank (NCCL) against one process;
  5. the speed scripts at GPU sizes.
Each part prints a Markdown table. A process's "fixed" time is its wall time less its scoring loop: imports,
loading, fingerprints, checks, reports and shutdown. The floor of a run is the vision forward of its images
by each model it encodes them with.

    python speed/gpu.py                                        # on the GPU box
    python speed/gpu.py --device cpu --examples 4 --tiny       # the mechanics, on a CPU, in a minute or two
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "speed"))
sys.path.insert(0, str(ROOT / "tests"))

from data_path import photo_like  # noqa: E402
from throughput import WORDS, build_models  # noqa: E402
from timing import timed  # noqa: E402

from scoring.batching import DTYPES  # noqa: E402

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
WALL = re.compile(r"wall time ([0-9.]+) s(?:, ([0-9.]+) s of it in the scoring loop)?")
EXPERIMENTS = {"experiment1": ("clm", "itm"), "experiment2": ("itm", "mlm"), "experiment3": ("clm", "mlm"),
               "experiment5": ("clm", "itm", "mlm")}


def save_checkpoints(folder: Path) -> dict[str, Path]:
    """BLIP-large-shaped captioning and retrieval checkpoints and a DistilRoBERTa-shaped MLM, as folders."""
    clm, itm, processor, mlm, mlm_tokenizer = build_models(folder, "cpu", torch.float32)
    paths = {"clm": folder / "blip-clm", "itm": folder / "blip-itm", "mlm": folder / "mlm"}
    for model, path in ((clm, paths["clm"]), (itm, paths["itm"])):
        model.save_pretrained(path)
        processor.save_pretrained(path)
    mlm.save_pretrained(paths["mlm"])
    mlm_tokenizer.save_pretrained(paths["mlm"])
    return paths


def write_examples(folder: Path, n: int, seed: int = 0) -> Path:
    """n Winoground-format examples: photo-sized PNGs, two captions of the same 6-11 words in another order."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True)
    with open(folder / "examples.jsonl", "w") as f:
        for k in range(n):
            words = list(rng.choice(WORDS, size=int(rng.integers(6, 12))))
            other = list(words)
            i, j = rng.choice(len(words), size=2, replace=False)
            other[i], other[j] = other[j], other[i]
            for which in (0, 1):
                photo_like(rng).save(folder / "images" / f"ex_{k}_{which}.png")
            f.write(json.dumps({"id": k, "image_0": f"ex_{k}_0", "image_1": f"ex_{k}_1", "caption_0": " ".join(words),
                                "caption_1": " ".join(other), "tag": "Object", "secondary_tag": "",
                                "num_main_preds": 1, "collapsed_tag": "Object"}) + "\n")
    return folder


def run_script(command: list, timeout: float) -> dict:
    """Run a script as a process; its wall time from start to exit, and the wall and loop times it printed."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *map(str, command)], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=timeout)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{done.stderr[-3000:]}")
    found = WALL.search(done.stdout)
    loop = float(found.group(2)) if found and found.group(2) else None
    return {"process": seconds, "loop": loop, "stdout": done.stdout}


def experiment_command(experiment: str, models: dict, data: Path, out: Path, device: str, dtype: str,
                       caches: Path) -> list:
    flags = {"clm": ["--clm-model", models["clm"]], "itm": ["--itm-model", models["itm"]],
             "mlm": ["--mlm-model", models["mlm"], "--swap-cache", caches / "swaps.json"]}
    command = [ROOT / f"{experiment}.py", "--data", data, "--device", device, "--dtype", dtype, "--out", out]
    for role in EXPERIMENTS[experiment]:
        command += flags[role]
    if experiment == "experiment5":
        command += ["--vqa-model", "", "--prior-cache", caches / "priors.json"]
    return command


def vision_floor(models: dict, data: Path, device: torch.device, dtype: torch.dtype, batch: int = 64) -> dict:
    """Seconds of the bare vision forward of every image of the data, per model, after one warm-up batch."""
    from transformers import BlipForConditionalGeneration, BlipForImageTextRetrieval

    n_images = 2 * sum(1 for _ in open(data / "examples.jsonl"))
    seconds = {}
    for role, cls in (("clm", BlipForConditionalGeneration), ("itm", BlipForImageTextRetrieval)):
        vision = cls.from_pretrained(models[role], dtype=dtype).vision_model.to(device).eval()
        size = vision.config.image_size
        pixels = torch.randn(batch, 3, size, size, device=device, dtype=dtype)
        with torch.no_grad():
            vision(pixel_values=pixels)
            seconds[role] = timed(lambda: [vision(pixel_values=pixels[:min(batch, n_images - k)])
                                           for k in range(0, n_images, batch)], device)[0]

    return seconds


def _decode(files: list[str]) -> None:
    from PIL import Image

    for f in files:
        with Image.open(f) as image:
            image.convert("RGB")


def decode_floor(data: Path) -> float:
    """Seconds to decode every image once, spread over every core."""
    files = sorted(str(f) for f in (data / "images").iterdir())
    cores = os.cpu_count() or 1
    with ProcessPoolExecutor(cores) as pool:
        start = time.perf_counter()
        list(pool.map(_decode, [files[k::cores] for k in range(cores)]))
        return time.perf_counter() - start


def timings(models: dict, data: Path, work: Path, device: str, n: int, timeout: float) -> None:
    """Part 1: each experiment as a process, cold, warm and finished, in float32 and bfloat16."""
    floors = {dtype: vision_floor(models, data, torch.device(device), DTYPES[dtype]) for dtype in ("float32", "bfloat16")}
    decode = decode_floor(data)
    print(f"\n## Experiments on {n} examples ({device}); floors: one decode per image {decode:.2f} s on "
          f"{os.cpu_count()} cores; vision forward per model " + ", ".join(
              f"{dtype} {' + '.join(f'{r} {s:.2f} s' for r, s in f.items())}" for dtype, f in floors.items()))
    print("\n| run | process s | scoring loop s | fixed s | examples/s | loop / vision floor |\n|---|---:|---:|---:|---:|---:|")
    for experiment, roles in EXPERIMENTS.items():
        for dtype in ("float32", "bfloat16"):
            caches = work / f"caches-{experiment}-{dtype}"
            caches.mkdir()
            floor = sum(floors[dtype][r] for r in roles if r != "mlm")
            for kind, out in (("cold", "cold"), ("warm", "warm"), ("finished", "warm")):
                result = run_script(experiment_command(experiment, models, data, work / f"{experiment}-{dtype}-{out}",
                                                       device, dtype, caches), timeout)
                loop = result["loop"]
                fixed = result["process"] - (loop or 0.0)
                print(f"| {experiment} {dtype} {kind} | {result['process']:.1f} | "
                      f"{'-' if loop is None else f'{loop:.1f}'} | {fixed:.1f} | {n / result['process']:.1f} | "
                      f"{'-' if loop is None else f'{loop / floor:.1f}'} |")


def retrieval(models: dict, work: Path, device: str, n_images: int, timeout: float) -> None:
    """Experiment 4 on a drawn retrieval set, k = 16, every row that needs no T' and the T' ratios."""
    from fixtures import write_retrieval_data

    annotations = write_retrieval_data(work / "retrieval", n_images)["blip"]
    print(f"\n## Experiment 4 on {n_images} drawn images, k = 16 ({device})\n\n| dtype | process s | \n|---|---:|")
    for dtype in ("float32", "bfloat16"):
        command = [ROOT / "experiment4.py", "--data", annotations, "--itm-model", models["itm"], "--clm-model",
                   models["clm"], "--mlm-model", models["mlm"], "--swap-cache", work / f"e4-swaps-{dtype}.json",
                   "--rows", "itc,itm_blip,itm,clm,clm_exact,itm_ratio,clm_ratio_improved", "--k", "16", "--device",
                   device, "--dtype", dtype, "--out", work / f"e4-{dtype}"]
        print(f"| {dtype} | {run_script(command, timeout)['process']:.1f} |")


def scores_of(out: Path) -> dict:
    """Every score of a grid run's examples.jsonl by (example, row, cell), its T' texts, and its metrics."""
    scores, swaps = {}, {}
    for line in (out / "examples.jsonl").read_text().splitlines():
        record = json.loads(line)
        for key, value in record.items():
            if isinstance(value, dict) and all(isinstance(v, (int, float)) for v in value.values()):
                scores |= {(record["id"], key, cell): v for cell, v in value.items()}
            elif key.startswith("swap"):
                swaps[record["id"], key] = value
    results = json.loads((out / "results.json").read_text())
    metrics = {row: {k: v for k, v in m.items() if isinstance(v, (int, float))}
               for row, m in results["rows"].items()}
    return {"scores": scores, "swaps": swaps, "metrics": metrics}


def agreement(work: Path, device: str, timeout: float) -> None:
    """Part 2: CUDA against CPU on the test fixtures, in float32 (and bfloat16's differences)."""
    from fixtures import build_all

    tiny = build_all(work / "tiny")
    models = {role: tiny[f"blip-{role}"] for role in ("clm", "itm")} | {"mlm": tiny["mlm"]}
    print(f"\n## Agreement with the CPU on the test fixtures ({device})\n")
    print("| experiment | dtype | largest difference | same T' | same metrics |\n|---|---|---:|---|---|")
    for experiment in EXPERIMENTS:
        runs = {}
        for k, (where, dtype) in enumerate((("cpu", "float32"), (device, "float32"), (device, "bfloat16"))):
            out = work / f"agree-{experiment}-{k}"
            caches = work / f"agree-caches-{experiment}-{k}"
            caches.mkdir()
            run_script(experiment_command(experiment, models, tiny["winoground"], out, where, dtype, caches), timeout)
            runs[where, dtype] = scores_of(out)
        reference = runs["cpu", "float32"]
        for key in ((device, "float32"), (device, "bfloat16")):
            other = runs[key]
            largest = max(abs(other["scores"][k] - v) for k, v in reference["scores"].items())
            print(f"| {experiment} | {key[1]} | {largest:.2e} | {other['swaps'] == reference['swaps']} | "
                  f"{other['metrics'] == reference['metrics']} |")
    if device.startswith("cuda"):
        cuda_only_paths(tiny, models, work, timeout)


def cuda_only_paths(tiny: dict, models: dict, work: Path, timeout: float) -> None:
    """Halving on a real out-of-memory error, and a one-rank torchrun launch (NCCL) against one process."""
    from evaluation.runs import split_on_oom

    def allocate(items):  # more than the GPU holds for two or more items
        torch.empty((len(items) > 1) * 2**44 + 1, dtype=torch.uint8, device="cuda")
        return items
    halved = split_on_oom(allocate, list(range(4))) == list(range(4))
    single, launched = work / "nccl-single", work / "nccl-torchrun"
    common = ["--data", tiny["winoground"], "--device", "cuda", "--clm-model", models["clm"], "--itm-model",
              models["itm"], "--batch-size", "2"]
    run_script([ROOT / "experiment1.py", *common, "--out", single], timeout)
    torchrun = Path(sys.executable).with_name("torchrun")
    done = subprocess.run([torchrun, "--nproc_per_node", "1", ROOT / "experiment1.py", *common, "--out", launched],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)
    same = done.returncode == 0 and all((single / f).read_bytes() == (launched / f).read_bytes()
                                        for f in ("examples.jsonl", "results.json"))
    print(f"\nHalving on out-of-memory: {'works' if halved else 'FAILED'}; torchrun, one rank on NCCL, the bytes of "
          f"one process: {same}" + ("" if done.returncode == 0 else f"\n{done.stdout[-2000:]}"))


def speed_scripts(device: str, dtype: str, timeout: float) -> None:
    """Part 3: the speed scripts at GPU sizes, as the README runs them."""
    for command in (["speed/text_side.py", "--device", device, "--dtype", dtype, "--images", "16",
                     "--texts-per-image", "16", "128", "256"],
                    ["speed/throughput.py", "--workload", "exp3", "--examples", "400", "--naive-examples", "4",
                     "--device", device, "--dtype", dtype]):
        print(f"\n## python {' '.join(command)}\n")
        try:
            print(run_script(command, timeout)["stdout"])
        except subprocess.TimeoutExpired:
            print(f"not done after {timeout:.0f} s")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--examples", type=int, default=400)
    p.add_argument("--retrieval-images", type=int, default=200)
    p.add_argument("--tiny", action="store_true",
                   help="time the test fixtures' tiny checkpoints instead of the BLIP-large-shaped ones (CPU checks)")
    p.add_argument("--timeout", type=float, default=120, help="seconds one process may take")
    p.add_argument("--parts", default="timings,retrieval,agreement,speed",
                   help="comma-separated parts to run, from: timings, retrieval, agreement, speed")
    args = p.parse_args()
    parts = set(args.parts.split(","))
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"{os.cpu_count()}-core CPU"
    print(f"# speed/gpu.py on {name}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.tiny:
            from fixtures import build_all

            tiny = build_all(work / "models")
            models = {role: tiny[f"blip-{role}"] for role in ("clm", "itm")} | {"mlm": tiny["mlm"]}
        else:
            models = save_checkpoints(work / "models")
        if "timings" in parts:
            timings(models, write_examples(work / "winoground", args.examples), work, args.device, args.examples,
                    args.timeout)
        if "retrieval" in parts:
            retrieval(models, work, args.device, args.retrieval_images, args.timeout)
        if "agreement" in parts:
            agreement(work, args.device, args.timeout)
        if "speed" in parts and not args.tiny:
            speed_scripts(args.device, "bfloat16", args.timeout)


if __name__ == "__main__":
    main()
