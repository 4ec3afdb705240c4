"""Tables and results.json: computed rows carry their own numbers, reference rows are quoted, not computed."""

from __future__ import annotations

import json

import numpy as np

from evaluation import metrics, report

SCORES = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.1], [0.6, 0.8]], [[0.3, 0.3], [0.3, 0.3]],
                   [[0.9, 0.95], [0.2, 0.99]]])
GROUPS = metrics.example_groups(["Object", "Relation", "Object", "Both"], ["", "Symbolic", "", ""], [1, 2, 1, 1])


def test_summary_and_table():
    method = report.Method("itm", "BLIP ITM head", True, published_image=24.25)
    summary = report.summarize(method, SCORES, GROUPS)
    # text right in examples 0 and 3, image in 0 and 1, group only in 0
    assert (summary["text"], summary["image"], summary["group"]) == (50.0, 50.0, 25.0)
    assert summary["breakdown"]["tag=Object"] == {"n": 2, "text": 50.0, "image": 50.0, "group": 50.0}
    table = report.markdown_table({"itm": summary}, [report.RANDOM_CHANCE, report.PALI])
    lines = table.splitlines()
    assert lines[0].startswith("| Method | Text | Image | Group | Published Image |")
    iv = summary["interval95"]["image"]
    assert lines[2] == (f"| BLIP ITM head | 50.00 [{summary['interval95']['text'][0]:.2f}, "
                        f"{summary['interval95']['text'][1]:.2f}] | 50.00 [{iv[0]:.2f}, {iv[1]:.2f}] | "
                        f"25.00 [{summary['interval95']['group'][0]:.2f}, {summary['interval95']['group'][1]:.2f}] "
                        f"| 24.25 |")
    assert lines[3] == "| *Random chance* (reference) | 25.00 | 25.00 | 16.67 | 25.00 |"
    assert lines[4].endswith("| - | - | - | 41.50 |")
    assert "tag=Relation" in report.breakdown_table({"itm": summary})


def test_comparison_and_results_file(tmp_path):
    a = report.Method("a", "A")
    b = report.Method("b", "B (loss)", higher_is_better=False)
    scores = {"a": SCORES, "b": SCORES}  # as a loss, b is right exactly where a is wrong on strict pairs
    c = report.compare(a, b, scores)
    fa, fb = metrics.correct(SCORES, True), metrics.correct(SCORES, False)
    assert c["image"]["difference"] == round(100 * (fa["image"].mean() - fb["image"].mean()), 2)
    summaries = {m.key: report.summarize(m, scores[m.key], GROUPS) for m in (a, b)}
    path = report.write_results(tmp_path, {"seed": 0}, 4, summaries, [c], [report.HUMANS])
    data = json.loads(path.read_text())
    assert data["config"] == {"seed": 0} and data["n_examples"] == 4
    assert data["methods"]["b"]["higher_is_better"] is False
    assert data["methods"]["a"]["image"] == 50.0
    assert {"torch", "transformers", "datasets", "huggingface_hub"} <= set(data["versions"])
    assert data["references"][0]["image"] == 88.5
