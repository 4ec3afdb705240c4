"""Bootstrap intervals: seeded, bracketing the statistic, paired differences that keep the pairing, and resamples
that miss a group leave it out."""

from __future__ import annotations

import numpy as np
import pytest

from reports import stats


def test_percent_interval_is_seeded_and_brackets_the_mean():
    flags = np.array([1] * 30 + [0] * 70, dtype=bool)
    indices = stats.resamples(len(flags), seed=0)
    assert indices.shape == (stats.RESAMPLES, 100) and np.array_equal(indices, stats.resamples(100, seed=0))
    low, high = stats.percent_interval(flags, indices)
    assert low < 30.0 < high
    # Binomial standard error at p=.3, n=100 is 4.58 points: the 95% interval spans about 18 points.
    assert 14.0 < high - low < 22.0
    assert stats.percent_interval(np.ones(50, dtype=bool), stats.resamples(50)) == [100.0, 100.0]


def test_interval_is_the_percentiles_of_the_defined_values():
    values = [float(v) for v in range(1, 101)] + [None, float("nan")]
    assert stats.interval(values) == [3.48, 97.52]  # numpy's linear percentiles of 1..100 at 2.5 and 97.5
    assert stats.interval([None, float("nan")]) is None


def test_paired_interval_keeps_the_pairing():
    rng = np.random.default_rng(0)
    b = rng.random(400) < 0.3
    a = b.copy()
    a[np.flatnonzero(~b)[:40]] = True  # a is right on 40 more examples, never worse
    indices = stats.resamples(400, seed=0)
    low, high = stats.paired_percent_interval(a, b, indices)
    assert 0.0 < low < 10.0 < high
    assert stats.paired_percent_interval(b, b, indices) == [0.0, 0.0]
    with pytest.raises(ValueError):
        stats.paired_percent_interval(a, b[:10], indices)
