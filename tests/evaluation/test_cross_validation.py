"""The cross-validated alpha against a brute-force search written out here, on 2 x 2 and on one-image grids."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import GRIDS
from evaluation.cross_validation import ALPHAS, cross_validate


def _group(scores):
    """Winoground's group score written out: both captions prefer their image and both images their caption."""
    s = scores
    text = (s[:, 0, 0] > s[:, 1, 0]) & (s[:, 1, 1] > s[:, 0, 1])
    image = (s[:, 0, 0] > s[:, 0, 1]) & (s[:, 1, 1] > s[:, 1, 0])
    return round(100 * float((text & image).mean()), 2)


def _accuracy(scores):
    """SugarCrepe: the positive caption_0 beats the negative."""
    return round(100 * float((scores[:, 0, 0] > scores[:, 1, 0]).mean()), 2)


def _brute_force(raw, prior, metric, seed):
    n = len(raw)
    permutation = np.random.default_rng(seed).permutation(n)
    sizes = [n // 5 + (1 if k < n % 5 else 0) for k in range(5)]  # array_split's sizes: the first n % 5 get one more
    starts = np.cumsum([0] + sizes)
    held_out = np.empty_like(raw)
    chosen = []
    for k in range(5):
        test = permutation[starts[k]:starts[k + 1]]
        train = np.array(sorted(set(range(n)) - set(test.tolist())))
        best_alpha, best_value = None, None
        for step in range(21):
            alpha = round(step * 0.05, 2)
            value = metric((raw - np.float32(alpha) * prior)[train])
            if best_value is None or value > best_value:  # strictly better: ties keep the smaller alpha
                best_alpha, best_value = alpha, value
        chosen.append(best_alpha)
        held_out[test] = raw[test] - np.float32(best_alpha) * prior[test]
    return chosen, held_out


@pytest.mark.parametrize("benchmark, shape, metric", [("winoground", (2, 2), _group),
                                                      ("sugarcrepe", (2, 1), _accuracy)])
@pytest.mark.parametrize("n, seed", [(23, 0), (41, 7)])
def test_alphas_and_held_out_scores_equal_a_brute_force_search(benchmark, shape, metric, n, seed):
    rng = np.random.default_rng(100 + n)
    # A match signal on the right pairs, blurred by a caption prior: some alpha > 0 pays off.
    signal = np.zeros(shape)
    for c in range(min(shape)):
        signal[c, c] = 1.0
    prior = np.repeat(rng.normal(0, 1, (n, shape[0], 1)), shape[1], axis=2).astype(np.float32)
    raw = (signal + rng.normal(0, 0.5, (n, *shape)) + 1.5 * prior).astype(np.float32)
    grid = GRIDS[benchmark]
    fields = {"category": np.array(["replace_obj"] * n)} if benchmark == "sugarcrepe" else {}
    result = cross_validate(lambda a: raw - a * prior, grid, True, fields, seed)
    alphas, held_out = _brute_force(raw, prior, metric, seed)
    assert result.alphas == alphas
    np.testing.assert_array_equal(result.scores, held_out)
    assert result.metric_by_alpha == [metric(raw - np.float32(round(step * 0.05, 2)) * prior) for step in range(21)]
    assert any(a > 0 for a in alphas) and set(alphas) <= set(ALPHAS)


def test_ties_go_to_the_smallest_alpha():
    raw = np.zeros((10, 2, 2), dtype=np.float32)
    raw[:, 0, 0] = raw[:, 1, 1] = 1.0  # every example right at any alpha: the prior is the same for both captions
    prior = np.ones_like(raw)
    result = cross_validate(lambda a: raw - a * prior, GRIDS["winoground"], True, {}, 0)
    assert result.alphas == [0.0] * 5
