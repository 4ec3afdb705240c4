"""Winoground Text / Image / Group scores, breakdowns and bootstrap intervals.

Scores for one method are an array of shape (N, 2, 2): `scores[n, c, i]` is s(caption_c, image_i) for
example n. Following Thrush et al. (2022), with strict comparisons so that ties count as wrong:
    text correct:  s(c0,i0) > s(c1,i0) and s(c1,i1) > s(c0,i1)
    image correct: s(c0,i0) > s(c0,i1) and s(c1,i1) > s(c1,i0)
    group correct: both.
For a score where lower is better (a loss) every > becomes <.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

KINDS = ("text", "image", "group")


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def as_score_array(rows: Iterable[Mapping[str, float]]) -> np.ndarray:
    """Turn per-example records with keys c0_i0, c0_i1, c1_i0, c1_i1 into an (N, 2, 2) array."""
    return np.array([[[r["c0_i0"], r["c0_i1"]], [r["c1_i0"], r["c1_i1"]]] for r in rows], dtype=np.float64)


def correct(scores: np.ndarray, higher_is_better: bool = True) -> dict[str, np.ndarray]:
    """Per-example correctness (bool arrays of length N) for text, image and group."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 3 or s.shape[1:] != (2, 2):
        raise ValueError(f"scores must have shape (N, 2, 2), got {s.shape}")
    better = np.greater if higher_is_better else np.less
    text = better(s[:, 0, 0], s[:, 1, 0]) & better(s[:, 1, 1], s[:, 0, 1])
    image = better(s[:, 0, 0], s[:, 0, 1]) & better(s[:, 1, 1], s[:, 1, 0])
    return {"text": text, "image": image, "group": text & image}


def percentages(flags: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Percent correct per kind, rounded to two decimals as the benchmark reports them."""
    return {k: round(100.0 * float(np.mean(flags[k])), 2) for k in KINDS}


def winoground_scores(scores: np.ndarray, higher_is_better: bool = True) -> dict[str, float]:
    """Text, Image and Group scores in percent (0-100, two decimals)."""
    return percentages(correct(scores, higher_is_better))


def _resample_indices(n: int, n_resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def bootstrap_interval(flags: np.ndarray, n_resamples: int = 10_000, seed: int = 0,
                       level: float = 0.95) -> Interval:
    """Percentile bootstrap interval (in percent) of the mean of per-example 0/1 flags, resampling examples."""
    flags = np.asarray(flags, dtype=np.float64)
    means = flags[_resample_indices(len(flags), n_resamples, seed)].mean(axis=1) * 100.0
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return Interval(round(float(low), 2), round(float(high), 2))


@dataclass(frozen=True)
class PairedDifference:
    """Score of method A minus score of method B on the same examples, with its bootstrap interval."""
    difference: float
    interval: Interval


def paired_bootstrap(flags_a: np.ndarray, flags_b: np.ndarray, n_resamples: int = 10_000, seed: int = 0,
                     level: float = 0.95) -> PairedDifference:
    """Difference of two methods' percent-correct on the same examples, resampling examples jointly.

    Resampling the same indices for both methods keeps the pairing, so the interval reflects only how
    the methods disagree, not how hard the examples are.
    """
    a = np.asarray(flags_a, dtype=np.float64)
    b = np.asarray(flags_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired flags must have the same shape, got {a.shape} and {b.shape}")
    idx = _resample_indices(len(a), n_resamples, seed)
    diffs = (a[idx].mean(axis=1) - b[idx].mean(axis=1)) * 100.0
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(diffs, [tail, 100.0 - tail])
    return PairedDifference(round(100.0 * float(a.mean() - b.mean()), 2),
                            Interval(round(float(low), 2), round(float(high), 2)))


def example_groups(tags: Sequence[str], secondary_tags: Sequence[str],
                   num_main_preds: Sequence[int]) -> dict[str, np.ndarray]:
    """Boolean masks over examples for each breakdown group: tag, each secondary tag value, main predicates."""
    groups: dict[str, np.ndarray] = {}
    tags = np.asarray(tags, dtype=object)
    for tag in sorted(set(tags)):
        groups[f"tag={tag}"] = tags == tag
    split = [{t.strip() for t in (s or "").split(",") if t.strip()} for s in secondary_tags]
    for value in sorted(set().union(*split)):
        groups[f"secondary_tag={value}"] = np.array([value in s for s in split])
    groups["secondary_tag=none"] = np.array([not s for s in split])
    preds = np.asarray(num_main_preds)
    for n in sorted(set(preds.tolist())):
        groups[f"num_main_preds={n}"] = preds == n
    return groups


def breakdown(flags: Mapping[str, np.ndarray], groups: Mapping[str, np.ndarray]) -> dict[str, dict]:
    """Text / Image / Group percentages and example count within each group."""
    out = {}
    for name, mask in groups.items():
        if mask.any():
            out[name] = {"n": int(mask.sum()), **percentages({k: flags[k][mask] for k in KINDS})}
    return out
