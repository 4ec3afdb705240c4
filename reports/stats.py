"""Bootstrap intervals over examples (or queries): of one row's percent correct, and of two rows' difference.

Every benchmark's metric gives per-example 0/1 flags; these turn them into 95% percentile-bootstrap
intervals, resampling examples with a seeded generator so that reruns print the same intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


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
    """Score of row A minus score of row B on the same examples, with its bootstrap interval."""
    difference: float
    interval: Interval


def paired_bootstrap(flags_a: np.ndarray, flags_b: np.ndarray, n_resamples: int = 10_000, seed: int = 0,
                     level: float = 0.95) -> PairedDifference:
    """Difference of two rows' percent-correct on the same examples, resampling examples jointly.

    Resampling the same indices for both rows keeps the pairing, so the interval reflects only how
    the rows disagree, not how hard the examples are.
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
