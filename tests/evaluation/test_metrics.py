"""Winoground metrics against hand-worked cases, ties, lower-is-better, bootstrap and breakdowns."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation import metrics

# Each case: [[s(c0,i0), s(c0,i1)], [s(c1,i0), s(c1,i1)]] and the (text, image) verdicts worked by hand.
CASES = [
    ([[0.9, 0.1], [0.2, 0.8]], (True, True)),     # diagonal wins both ways
    ([[0.9, 0.8], [0.2, 0.7]], (False, True)),    # text: .7>.8? no; image: .9>.8 and .7>.2
    ([[0.9, 0.95], [0.2, 0.99]], (True, False)),  # text: .9>.2 and .99>.95; image: .9>.95? no
    ([[0.5, 0.1], [0.6, 0.8]], (False, True)),    # text: .5>.6? no; image: .5>.1 and .8>.6
    ([[0.5, 0.5], [0.1, 0.9]], (True, False)),    # image tie s(c0,i0)=s(c0,i1) counts as wrong
    ([[0.3, 0.3], [0.3, 0.3]], (False, False)),   # all tied
]


def _expected(case):
    (a, b), (c, d) = case  # a=c0i0, b=c0i1, c=c1i0, d=c1i1
    return (a > c and d > b), (a > b and d > c)


def test_hand_worked_cases():
    scores = np.array([c for c, _ in CASES])
    flags = metrics.correct(scores)
    for n, (case, verdict) in enumerate(CASES):
        expected_text, expected_image = _expected(case)
        assert (expected_text, expected_image) == verdict  # the comments above agree with the rule
        assert flags["text"][n] == expected_text
        assert flags["image"][n] == expected_image
        assert flags["group"][n] == (expected_text and expected_image)
    # text right in cases 0, 2, 4; image in 0, 1, 3; both only in 0.
    assert metrics.winoground_scores(scores) == {"text": 50.0, "image": 50.0, "group": 16.67}


def test_lower_is_better_mirrors_negation():
    scores = np.array([c for c, _ in CASES])
    assert metrics.winoground_scores(-scores, higher_is_better=False) == metrics.winoground_scores(scores)
    # A loss where the diagonal is lowest is fully correct; ties stay wrong.
    losses = np.array([[[1.0, 3.0], [3.0, 1.0]], [[2.0, 2.0], [2.0, 2.0]]])
    assert metrics.winoground_scores(losses, higher_is_better=False) == {"text": 50.0, "image": 50.0, "group": 50.0}
    assert metrics.winoground_scores(losses, higher_is_better=True) == {"text": 0.0, "image": 0.0, "group": 0.0}


def test_as_score_array_layout():
    rows = [{"c0_i0": 1, "c0_i1": 2, "c1_i0": 3, "c1_i1": 4}]
    arr = metrics.as_score_array(rows)
    assert arr[0, 0, 1] == 2 and arr[0, 1, 0] == 3


def test_bad_shape_is_rejected():
    with pytest.raises(ValueError, match="shape"):
        metrics.correct(np.zeros((3, 4)))


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    flags = np.array([1] * 30 + [0] * 70, dtype=bool)
    a = metrics.bootstrap_interval(flags, seed=0)
    assert a == metrics.bootstrap_interval(flags, seed=0)
    assert a.low < 30.0 < a.high
    # Binomial standard error at p=.3, n=100 is 4.58 points: the 95% interval spans about 18 points.
    assert 14.0 < a.high - a.low < 22.0
    assert metrics.bootstrap_interval(np.ones(50, dtype=bool)) == metrics.Interval(100.0, 100.0)


def test_paired_bootstrap():
    rng = np.random.default_rng(0)
    b = rng.random(400) < 0.3
    a = b.copy()
    a[np.flatnonzero(~b)[:40]] = True  # a is right on 40 more examples, never worse
    d = metrics.paired_bootstrap(a, b, seed=0)
    assert d.difference == 10.0
    assert 0.0 < d.interval.low < 10.0 < d.interval.high
    same = metrics.paired_bootstrap(b, b)
    assert same.difference == 0.0 and same.interval == metrics.Interval(0.0, 0.0)
    with pytest.raises(ValueError):
        metrics.paired_bootstrap(a, b[:10])


def test_breakdown_groups():
    tags = ["Object", "Relation", "Object", "Both"]
    secondary = ["", "Symbolic", "Pragmatic,Series", "Series"]
    preds = [1, 2, 1, 1]
    groups = metrics.example_groups(tags, secondary, preds)
    assert groups["tag=Object"].tolist() == [True, False, True, False]
    assert groups["secondary_tag=Series"].tolist() == [False, False, True, True]
    assert groups["secondary_tag=none"].tolist() == [True, False, False, False]
    assert groups["num_main_preds=2"].tolist() == [False, True, False, False]
    flags = {"text": np.array([True, False, False, True]), "image": np.array([True, True, False, False]),
             "group": np.array([True, False, False, False])}
    out = metrics.breakdown(flags, groups)
    assert out["tag=Object"] == {"n": 2, "text": 50.0, "image": 50.0, "group": 50.0}
    assert out["secondary_tag=Series"] == {"n": 2, "text": 50.0, "image": 0.0, "group": 0.0}
