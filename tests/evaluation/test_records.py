"""examples.jsonl records: the layout writers and readers share."""

from __future__ import annotations

import pytest
import torch

from evaluation.records import NonFiniteScore, count_without_swap, example_records, score_grid, swaps_of
from perturb.swap import IMPROVED, PUBLISHED, Swap

EXAMPLES = [{"id": 7, "caption_0": "a b", "caption_1": "b a", "tag": "Object", "secondary_tag": "",
             "num_main_preds": 1, "image_0": "not kept"},
            {"id": 9, "caption_0": "c d", "caption_1": "d c", "tag": "Both", "secondary_tag": "Series",
             "num_main_preds": 2, "image_0": "not kept"}]


def test_records_round_trip_scores_and_swaps():
    scores = torch.arange(8, dtype=torch.float32).view(2, 2, 2)  # [example, caption, image]
    swaps = {PUBLISHED: [Swap("b a"), Swap(None, "none"), Swap("x"), Swap("y")],
             IMPROVED: [Swap("B a"), Swap("A b"), Swap(None, "none"), Swap(None, "none")]}
    records = example_records(EXAMPLES, {"row": scores}, swaps, ("tag", "secondary_tag", "num_main_preds"))
    assert [r["id"] for r in records] == [7, 9] and "image_0" not in records[0]
    assert records[1]["row"] == {"c0_i0": 4.0, "c0_i1": 5.0, "c1_i0": 6.0, "c1_i1": 7.0}
    assert records[0]["swap_0"] == "b a" and records[0]["swap_1"] is None and records[1]["swap_improved_0"] is None
    assert swaps_of(records[1], 1) == {PUBLISHED: "y", IMPROVED: None}
    assert count_without_swap(records) == {PUBLISHED: 1, IMPROVED: 2}
    grid = score_grid(records, "row")
    assert grid.shape == (2, 2, 2) and grid[0, 0, 1] == 1 and grid[1, 1, 0] == 6


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_score_is_refused_naming_the_example(bad):
    scores = torch.zeros(2, 2, 2)
    scores[1, 0, 1] = bad
    with pytest.raises(NonFiniteScore, match=f"row itm_ratio scored example 9 \\(caption_0, image_1\\) as {bad}"):
        example_records(EXAMPLES, {"itm": torch.zeros(2, 2, 2), "itm_ratio": scores}, None, ())
