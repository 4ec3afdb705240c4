"""Rows: one type for every experiment; a combination that does not exist cannot be written."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import InputError
from evaluation.rows import Row, Term, difference, ratio, select, terms_of, total
from perturb.swap import IMPROVED, PUBLISHED

ITM, ITM_SWAP = Term("itm", "itm"), Term("itm", "itm", PUBLISHED)


def test_rows_combine_their_terms_in_order():
    scores = {ITM: np.array([2.0, 6.0]), ITM_SWAP: np.array([4.0, 3.0])}
    assert Row("r", "", (ITM, ITM_SWAP), ratio).scores(scores).tolist() == [0.5, 2.0]
    assert Row("d", "", (ITM_SWAP, ITM), difference).scores(scores).tolist() == [2.0, -3.0]
    assert Row("t", "", (ITM, ITM_SWAP), total).scores(scores).tolist() == [6.0, 9.0]
    assert Row("s", "", (ITM,)).scores(scores) is scores[ITM]


def test_unknown_combinations_and_texts_cannot_be_written():
    with pytest.raises(ValueError, match="combine must be one of"):
        Row("r", "", (ITM, ITM_SWAP), lambda x, y: x * y)
    with pytest.raises(ValueError, match="ratio combines 2 terms, got 1"):
        Row("r", "", (ITM,), ratio)
    with pytest.raises(ValueError, match="scores T or a T' of one of the searches"):
        Term("itm", "itm", "best")


def test_terms_and_selection():
    rows = {r.key: r for r in [Row("a", "", (ITM,)), Row("b", "", (ITM, Term("itm", "itm", IMPROVED)), difference)]}
    assert terms_of(list(rows.values())) == [ITM, Term("itm", "itm", IMPROVED)]
    assert [r.key for r in select(rows, "b, a,b", always=["a"])] == ["a", "b"]
    with pytest.raises(InputError, match=r"unknown row\(s\) c; choose from a, b"):
        select(rows, "a,c")
    assert str(ITM_SWAP) == "itm/itm/published"
