"""Bootstrap intervals: seeded, bracketing the mean, and paired differences that keep the pairing."""

from __future__ import annotations

import numpy as np
import pytest

from reports import stats


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    flags = np.array([1] * 30 + [0] * 70, dtype=bool)
    a = stats.bootstrap_interval(flags, seed=0)
    assert a == stats.bootstrap_interval(flags, seed=0)
    assert a.low < 30.0 < a.high
    # Binomial standard error at p=.3, n=100 is 4.58 points: the 95% interval spans about 18 points.
    assert 14.0 < a.high - a.low < 22.0
    assert stats.bootstrap_interval(np.ones(50, dtype=bool)) == stats.Interval(100.0, 100.0)


def test_paired_bootstrap():
    rng = np.random.default_rng(0)
    b = rng.random(400) < 0.3
    a = b.copy()
    a[np.flatnonzero(~b)[:40]] = True  # a is right on 40 more examples, never worse
    d = stats.paired_bootstrap(a, b, seed=0)
    assert d.difference == 10.0
    assert 0.0 < d.interval.low < 10.0 < d.interval.high
    same = stats.paired_bootstrap(b, b)
    assert same.difference == 0.0 and same.interval == stats.Interval(0.0, 0.0)
    with pytest.raises(ValueError):
        stats.paired_bootstrap(a, b[:10])
