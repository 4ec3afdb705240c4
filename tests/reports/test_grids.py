"""One report for every grid benchmark: Winoground's metrics, breakdown, differences, published numbers and quoted
rows come from its Grid, checked against values worked out here; results.json of earlier releases reads as schema 3."""

from __future__ import annotations

import json

import numpy as np

from benchmarks import GRIDS
from evaluation.rows import Row, Term
from reports import stats
from reports.grids import report_grid, tables
from reports.results import read_results, upgraded

SCORES = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.1], [0.6, 0.8]], [[0.3, 0.3], [0.3, 0.3]],
                   [[0.9, 0.95], [0.2, 0.99]]])
TAGS = [("Object", "", 1), ("Relation", "Symbolic", 2), ("Object", "", 1), ("Both", "Pragmatic,Series", 1)]


def _records(keys: list[str]) -> list[dict]:
    return [{"id": n, "tag": t, "secondary_tag": s, "num_main_preds": p,
             **{key: {f"c{c}_i{i}": float(SCORES[n, c, i]) for c in (0, 1) for i in (0, 1)} for key in keys}}
            for n, (t, s, p) in enumerate(TAGS)]


def test_winoground_through_the_one_report(tmp_path):
    a = Row("itm", "BLIP ITM head", (Term("itm", "itm"),))
    b = Row("clm", "B (loss)", (Term("clm", "clm"),), higher_is_better=False)
    printed = report_grid(tmp_path, {"seed": 0}, _records(["itm", "clm"]), [a, b],
                          GRIDS["winoground"], [("itm", "clm")], {"itm": {"image": 24.25}})
    data = read_results(tmp_path)
    assert data["schema"] == 3 and data["benchmark"] == "winoground" and data["compared"] == ["text", "image", "group"]
    itm = data["rows"]["itm"]
    # Text right in examples 0 and 3, Image in 0 and 1, Group only in 0 (example 2 ties everywhere: wrong).
    assert (itm["text"], itm["image"], itm["group"]) == (50.0, 50.0, 25.0)
    assert itm["published"] == {"image": 24.25} and "published" not in data["rows"]["clm"]
    assert itm["breakdown"]["tag=Object"] == {"n": 2, "text": 50.0, "image": 50.0, "group": 50.0}
    assert itm["breakdown"]["secondary_tag=Series"] == {"n": 1, "text": 100.0, "image": 0.0, "group": 0.0}
    assert itm["breakdown"]["num_main_preds=2"]["n"] == 1
    # The interval of each metric: the metric recomputed on the same seeded resamples, by hand.
    indices = stats.resamples(4, seed=0)
    text = np.array([True, False, False, True])
    assert itm["interval95"]["text"] == stats.interval(100.0 * text[idx].mean() for idx in indices)
    # As a loss (lower is better) the same scores get nothing right: in each example one of the two comparisons fails.
    clm = data["rows"]["clm"]
    assert (clm["text"], clm["image"], clm["group"]) == (0.0, 0.0, 0.0)
    difference = data["comparisons"][0]
    assert difference["a"] == "itm" and difference["text"]["difference"] == 50.0
    assert difference["group"]["difference"] == 25.0
    assert data["references"]["Random chance"] == {"text": 25.0, "image": 25.0, "group": 16.67}
    lines = printed.splitlines()
    assert lines[0] == "| Row | group | text | image | published image |"
    assert lines[2].startswith("| BLIP ITM head | 25.00 [") and lines[2].endswith("| 24.25 |")
    assert "| *PaLI 17B (best known fine-tuning/prompting, external)* (reference) | - | - | 41.50 | - |" in lines
    assert printed == tables(data)  # a finished run's reprint is the same


def test_results_of_earlier_releases_read_as_schema_3(tmp_path):
    old = {"config": {"experiment": "experiment1", "seed": 0}, "n_examples": 4,
           "methods": {"itm": {"label": "BLIP ITM head", "higher_is_better": True, "published_image": 24.25,
                               "text": 50.0, "image": 50.0, "group": 25.0,
                               "interval95": {"text": [0.0, 100.0], "image": [0.0, 100.0], "group": [0.0, 75.0]},
                               "breakdown": {}}},
           "comparisons": [], "references": [{"label": "PaLI", "text": None, "image": None, "group": None,
                                              "published_image": 41.5},
                                             {"label": "Random chance", "text": 25.0, "image": 25.0, "group": 16.67,
                                              "published_image": 25.0}]}
    (tmp_path / "results.json").write_text(json.dumps(old))
    new = read_results(tmp_path)
    assert new["schema"] == 3 and new["written_schema"] == 1
    assert new["benchmark"] == "winoground" and new["primary"] == "group"
    assert new["rows"]["itm"]["published"] == {"image": 24.25} and "published_image" not in new["rows"]["itm"]
    assert new["references"] == {"PaLI": {"image": 41.5}, "Random chance": {"text": 25.0, "image": 25.0, "group": 16.67}}
    grid = {"config": {"experiment": "experiment1"}, "benchmark": "sugarcrepe", "primary": "accuracy", "methods": {}}
    assert upgraded(grid)["compared"] == ["accuracy"] and upgraded(grid)["rows"] == {}
    retrieval = {"config": {"experiment": "experiment4"}, "k": 4, "methods": {},
                 "references": {"paper": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}}
    assert upgraded(retrieval)["references"]["paper"]["img_r10"] == 6.0
    assert upgraded(retrieval)["benchmark"] == "retrieval"
    assert upgraded(new) is new
    # Schema 2 named the [ENC] log-probability "itm_enc" and the improved search's ratios "<row>_exact_ratio".
    two = {"schema": 2, "config": {"experiment": "experiment2"}, "benchmark": "winoground",
           "rows": {"itm_enc": {"label": "a"}, "itm_enc_exact_ratio": {"label": "b"}, "clm_ratio": {"label": "c"}},
           "comparisons": [{"a": "itm_enc_exact_ratio", "b": "itm_enc", "diff": 1.0}],
           "models": {"itm": {"rows": ["itm_enc", "itm_enc_exact_ratio"]}},
           "alpha_figure": {"clm_prior_cv": ["clm_exact_ratio", "clm_null"]}}
    three = upgraded(two)
    assert list(three["rows"]) == ["itm_enc_logprob", "itm_enc_ratio_improved", "clm_ratio"]
    assert three["comparisons"] == [{"a": "itm_enc_ratio_improved", "b": "itm_enc_logprob", "diff": 1.0}]
    assert three["models"]["itm"]["rows"] == ["itm_enc_logprob", "itm_enc_ratio_improved"]
    assert three["alpha_figure"] == {"clm_prior_cv": ["clm_ratio_improved", "clm_null"]}
    assert three["written_schema"] == 2 and two["rows"].keys() == {"itm_enc", "itm_enc_exact_ratio", "clm_ratio"}
