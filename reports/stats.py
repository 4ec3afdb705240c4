"""Bootstrap intervals over examples (or queries), one way for every report.

A report draws RESAMPLES seeded resamples of its examples with replacement (`resamples`), recomputes a
statistic on each (a benchmark's official metric, a recall, or the difference of two rows on the same
resample, which keeps the pairing), and reports the 2.5th and 97.5th percentiles (`interval`). Metrics that
are not means of per-example flags (ARO's macro accuracy, What'sUp's pair and set accuracy) are recomputed
the same way, so every benchmark's intervals mean the same thing, and reruns print the same intervals.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

RESAMPLES = 1000


def resamples(n: int, seed: int = 0) -> np.ndarray:
    """(RESAMPLES, n) indices: each row a resample of n items with replacement, from a seeded generator."""
    return np.random.default_rng(seed).integers(0, n, size=(RESAMPLES, n))


def interval(values: Iterable[float | None], level: float = 0.95) -> list[float] | None:
    """The percentile interval of a statistic's resampled values, rounded to 2 decimals; values that are undefined
    on a resample (None or NaN: a small group it missed) are left out, and None is returned when none is left."""
    drawn = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    drawn = drawn[~np.isnan(drawn)]
    if not len(drawn):
        return None
    tail = (1.0 - level) / 2.0 * 100.0
    return [round(float(v), 2) for v in np.percentile(drawn, [tail, 100.0 - tail])]


def percent_interval(flags: np.ndarray, indices: np.ndarray) -> list[float] | None:
    """The interval of the percentage of true flags (one per item), over the resamples `indices`."""
    return interval(np.asarray(flags, dtype=np.float64)[indices].mean(axis=1) * 100.0)


def paired_percent_interval(flags_a: np.ndarray, flags_b: np.ndarray, indices: np.ndarray) -> list[float] | None:
    """The interval of percent(a) - percent(b) on the same resamples: how the two rows disagree, not how hard the
    items are."""
    a, b = np.asarray(flags_a, dtype=np.float64), np.asarray(flags_b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired flags must have the same shape, got {a.shape} and {b.shape}")
    return interval((a[indices].mean(axis=1) - b[indices].mean(axis=1)) * 100.0)
