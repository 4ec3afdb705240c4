"""Rows: one type for every experiment; a combination that does not exist cannot be written."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.errors import InputError
from evaluation.rows import NULL, Row, Term, difference, gated_ratio, prior_normalized, ratio, select, terms_of, total
from perturb.swap import GATED, IMPROVED, PUBLISHED

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


def test_gated_ratio_divides_only_where_the_gate_opens():
    loss, swapped, gate = Term("clm", "clm"), Term("clm", "clm", GATED), Term("mlm", "gate")
    scores = {loss: torch.tensor([2.0, 6.0, 3.0]), swapped: torch.tensor([4.0, 0.0, 1.5]),
              gate: torch.tensor([1.0, 0.0, 1.0])}  # closed where the swapped score is meaningless (here 0)
    row = Row("g", "", (loss, swapped, gate), gated_ratio, higher_is_better=False)
    assert row.scores(scores).tolist() == [0.5, 6.0, 2.0]


def test_prior_normalization_and_its_cross_validated_alpha():
    raw, prior = Term("clm", "clm_exact"), Term("clm", "clm_exact", image=NULL)
    scores = {raw: np.array([-10.0, -4.0]), prior: np.array([-8.0, -2.0])}
    assert Row("pmi", "", (raw, prior), prior_normalized).scores(scores).tolist() == [-2.0, -2.0]
    tuned = Row("cv", "", (raw, prior), prior_normalized, cross_validated=True)
    assert tuned.scores(scores, alpha=0.5).tolist() == [-6.0, -3.0]
    with pytest.raises(ValueError, match="need the alpha"):
        tuned.scores(scores)
    with pytest.raises(ValueError, match="only prior_normalized has an alpha"):
        Row("x", "", (raw, prior), difference, cross_validated=True)
    with pytest.raises(ValueError, match="its text is T"):
        Term("clm", "clm_exact", IMPROVED, image=NULL)
    assert str(prior) == "clm/clm_exact/T/null"
