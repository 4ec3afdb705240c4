"""Tables and results.json: computed rows carry their own numbers, reference rows are quoted, not computed."""

from __future__ import annotations

import json

import numpy as np

from benchmarks.winoground import HUMANS, PALI, RANDOM_CHANCE, correct, example_groups
from evaluation.rows import Row, Term
from reports.winoground import breakdown, breakdown_table, compare, markdown_table, report_run, row_results

SCORES = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.1], [0.6, 0.8]], [[0.3, 0.3], [0.3, 0.3]],
                   [[0.9, 0.95], [0.2, 0.99]]])
GROUPS = example_groups(["Object", "Relation", "Object", "Both"], ["", "Symbolic", "", ""], [1, 2, 1, 1])


def test_summary_and_table():
    row = Row("itm", "BLIP ITM head", (Term("itm", "itm"),), published_image=24.25)
    summary = row_results(row, SCORES, GROUPS)
    # text right in examples 0 and 3, image in 0 and 1, group only in 0
    assert (summary["text"], summary["image"], summary["group"]) == (50.0, 50.0, 25.0)
    assert summary["breakdown"]["tag=Object"] == {"n": 2, "text": 50.0, "image": 50.0, "group": 50.0}
    table = markdown_table({"itm": summary}, [RANDOM_CHANCE, PALI])
    lines = table.splitlines()
    assert lines[0].startswith("| Row | Text | Image | Group | Published Image |")
    iv = summary["interval95"]["image"]
    assert lines[2] == (f"| BLIP ITM head | 50.00 [{summary['interval95']['text'][0]:.2f}, "
                        f"{summary['interval95']['text'][1]:.2f}] | 50.00 [{iv[0]:.2f}, {iv[1]:.2f}] | "
                        f"25.00 [{summary['interval95']['group'][0]:.2f}, {summary['interval95']['group'][1]:.2f}] "
                        f"| 24.25 |")
    assert lines[3] == "| *Random chance* (reference) | 25.00 | 25.00 | 16.67 | 25.00 |"
    assert lines[4].endswith("| - | - | - | 41.50 |")
    assert "tag=Relation" in breakdown_table({"itm": summary})


def test_comparison_and_results_file(tmp_path):
    a = Row("a", "A", (Term("itm", "itm"),))
    b = Row("b", "B (loss)", (Term("clm", "clm"),), higher_is_better=False)
    scores = {"a": SCORES, "b": SCORES}  # as a loss, b is right exactly where a is wrong on strict pairs
    c = compare(a, b, scores)
    fa, fb = correct(SCORES, True), correct(SCORES, False)
    assert c["image"]["difference"] == round(100 * (fa["image"].mean() - fb["image"].mean()), 2)
    records = [{"id": n, "tag": "Object", "secondary_tag": "", "num_main_preds": 1,
                **{key: {f"c{ci}_i{ii}": float(s[ci, ii]) for ci in (0, 1) for ii in (0, 1)} for key in "ab"}}
               for n, s in enumerate(SCORES)]
    report_run(tmp_path, {"seed": 0}, records, [a, b], [HUMANS], [("a", "b")])
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["config"] == {"seed": 0} and data["n_examples"] == 4
    assert data["methods"]["b"]["higher_is_better"] is False
    assert data["methods"]["a"]["image"] == 50.0
    assert data["comparisons"] == [c]
    assert {"torch", "transformers", "datasets", "huggingface_hub"} <= set(data["versions"])
    assert data["references"][0]["image"] == 88.5


def test_breakdown_counts_each_group():
    groups = example_groups(["Object", "Relation", "Object", "Both"], ["", "Symbolic", "Pragmatic,Series", "Series"],
                            [1, 2, 1, 1])
    flags = {"text": np.array([True, False, False, True]), "image": np.array([True, True, False, False]),
             "group": np.array([True, False, False, False])}
    out = breakdown(flags, groups)
    assert out["tag=Object"] == {"n": 2, "text": 50.0, "image": 50.0, "group": 50.0}
    assert out["secondary_tag=Series"] == {"n": 2, "text": 50.0, "image": 0.0, "group": 0.0}
