"""What GenAI-Bench's report costs per row at its real size (527 prompts x 6 images, 5.0 million pairs of images):
the tie-calibrated pairwise accuracy, Pearson and Kendall on the whole set and on every bootstrap resample.

Each resample is computed with weights over pairs sorted once per row (benchmarks/genai_bench.py, `Pairs`); the
naive way sorts the pairs of each resampled set again. Printed against a floor measured in the same run: one
cumulative sum over every pair, the least a resample's threshold search can cost.

    python speed/genai_bench.py              # 527 prompts, 20 resamples timed (the report draws 1,000)
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.genai_bench import GENERATORS, Pairs  # noqa: E402


def seconds(fn, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prompts", type=int, default=527)
    p.add_argument("--resamples", type=int, default=20, help="resamples timed (the report draws 1,000)")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    n = args.prompts * len(GENERATORS)
    scores, human = rng.normal(size=n), rng.integers(3, 16, size=n) / 3  # means of three ratings: human ties
    built = time.perf_counter()
    pairs = Pairs(scores, human, True, len(GENERATORS))
    built = time.perf_counter() - built
    draws = rng.integers(0, args.prompts, size=(args.resamples, args.prompts))
    counts = iter([np.bincount(d, minlength=args.prompts) for d in np.tile(draws, (2, 1))])
    weighted = seconds(lambda: pairs.metrics(next(counts)), args.resamples)
    draw = iter(draws)

    def naive():
        index = next(draw)
        expanded = (index[:, None] * len(GENERATORS) + np.arange(len(GENERATORS))).reshape(-1)
        Pairs(scores[expanded], human[expanded], True, len(GENERATORS)).metrics()
    naive_s = seconds(naive, min(3, args.resamples))
    ones = np.ones(len(pairs.gain))
    floor = seconds(lambda: np.cumsum(ones), 5)
    print(f"{args.prompts} prompts, {len(pairs.gain):,} pairs of images")
    print(f"floor (one cumulative sum over the pairs): {floor * 1e3:.1f} ms")
    print(f"sorting the pairs once per row: {built:.2f} s")
    print(f"one resample, weighted: {weighted * 1e3:.1f} ms ({weighted / floor:.1f}x the floor); 1,000 resamples: "
          f"{1000 * weighted:.0f} s per row")
    print(f"one resample, sorted again (naive): {naive_s * 1e3:.0f} ms ({naive_s / weighted:.1f}x the weighted way)")


if __name__ == "__main__":
    main()
