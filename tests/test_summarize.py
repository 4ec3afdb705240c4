"""summarize.py on the tiny fixtures' results: tables equal results.json, figures are drawn, the page is sound."""

from __future__ import annotations

import base64
import io
import json
import os
import runpy
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import pytest
from fixtures import ROOT, write_compositional_data
from PIL import Image
from scripts import env, read_records, run_in_process, table_row, winoground

from benchmarks import GRIDS


@pytest.fixture(scope="module")
def finished(cli, tmp_path_factory):
    """Result folders of experiments 1 and 2 on the tiny models and the drawn Winoground folder."""
    root = tmp_path_factory.mktemp("results")
    for experiment in ("experiment1", "experiment2"):
        done = subprocess.run(cli(experiment, root / experiment), cwd=ROOT, env=env(), capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    return root


def _summarize(*args, cwd=ROOT):
    """summarize.py in this process (it loads no model, so nothing is lost): its exit status and output."""
    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with pytest.MonkeyPatch.context() as patch, redirect_stdout(out), redirect_stderr(err):
            patch.setattr(sys, "argv", ["summarize.py", *map(str, args)])
            runpy.run_path(str(ROOT / "summarize.py"), run_name="__main__")
        code = 0
    except SystemExit as e:
        code = e.code or 0
    finally:
        os.chdir(here)
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


class Page(HTMLParser):
    """Collects what the tests check, and fails on a closing tag that does not match the open one."""
    VOID = {"meta", "img", "br", "hr", "input", "link", "option"}

    def __init__(self):
        super().__init__()
        self.open, self.ids, self.images, self.scripts, self._script = [], [], [], {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag not in self.VOID:
            self.open.append(tag)
        if tag == "section":
            self.ids.append(int(attrs["data-id"]))
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "script":
            self._script = attrs.get("id", "code")

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()
        self._script = None

    def handle_data(self, data):
        if self._script:
            self.scripts[self._script] = self.scripts.get(self._script, "") + data


def test_tables_figures_and_page(finished):
    done = _summarize(finished / "experiment1", finished / "experiment2")
    assert done.returncode == 0, done.stderr
    for experiment in ("experiment1", "experiment2"):
        folder = finished / experiment
        results = json.loads((folder / "results.json").read_text())
        section = done.stdout.split(f"## {experiment} (")[1].split("## ")[0]
        header = table_row(section, "Row")
        for row in results["rows"].values():
            cells = dict(zip(header, table_row(section, row["label"])))
            for kind in ("text", "image", "group"):
                low, high = row["interval95"][kind]
                assert cells[kind] == f"{row[kind]:.2f} [{low:.2f}, {high:.2f}]"
            published = row.get("published", {}).get("image")
            checks = [cells.get(k, "-") for k in ("Published image", "image minus published",
                                                   "Published in 95% interval")]
            if published is None:
                assert checks == ["-", "-", "-"]
            else:
                low, high = row["interval95"]["image"]
                assert checks == [f"{published:.2f}", f"{row['image'] - published:.2f}",
                                  "yes" if low <= published <= high else "no"]
        assert table_row(section, "Humans (Thrush et al., 2022) (reference)")[1:4] == ["85.50", "89.50", "88.50"]
        for png in ("scores.png", "groups.png"):
            with Image.open(folder / png) as image:
                pixels = np.asarray(image.convert("L"))
            assert image.size[0] >= 600 and pixels.std() > 10  # drawn, not blank
    first = done.stdout.split("## experiment1 (")[1]
    assert dict(zip(table_row(first, "Row"), table_row(first, "BLIP contrastive head")))["Published image"] == "13.50"
    combined = done.stdout.split("## All rows with a published number")[1]
    cells = table_row(combined, "experiment2 | DistilRoBERTa + BLIP ITM head score ratios (as published)")
    assert cells[2] == "image" and cells[4] == "32.75"


def test_page_ids_thumbnails_and_filters(finished):
    assert _summarize(finished / "experiment2").returncode == 0
    records = read_records(finished / "experiment2")
    results = json.loads((finished / "experiment2" / "results.json").read_text())
    page = Page()
    page.feed((finished / "experiment2" / "examples.html").read_text())
    page.close()
    assert page.open == [] and sorted(page.ids) == [r["id"] for r in records]
    assert len(page.images) == 2 * len(records)
    for src in page.images:
        Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).load()
    filters = json.loads(page.scripts["filters"])
    # The filters of the compared pairs, recomputed from examples.jsonl with the benchmark's definition.
    for comparison in results["comparisons"]:
        a, b = comparison["a"], comparison["b"]
        for kind in ("text", "image", "group"):
            right = {r["id"] for r in records if winoground([r], a, results["rows"][a]["higher_is_better"])[kind]}
            wrong_b = {r["id"] for r in records
                       if not winoground([r], b, results["rows"][b]["higher_is_better"])[kind]}
            assert set(filters[f"{a} right, {b} wrong ({kind})"]) == right & wrong_b
    assert any(filters.values())  # the tiny models do disagree somewhere
    text = (finished / "experiment2" / "examples.html").read_text()
    assert "T' (published search)" in text and "T' (improved search)" in text


def test_latex(finished):
    done = _summarize(finished / "experiment1", "--latex")
    assert done.returncode == 0
    # The folder's rows, its paired differences, and the rows with a published number.
    assert done.stdout.count(r"\begin{tabular}") == 3 and r"\toprule" in done.stdout and r"\bottomrule" in done.stdout
    assert "P(T given I) from BLIP causal-LM head (as published) & " in done.stdout and "| " not in done.stdout


def test_missing_image_source_still_writes_tables_and_figures(finished, tmp_path):
    folder = tmp_path / "experiment1"
    shutil.copytree(finished / "experiment1", folder)
    for name in ("scores.png", "groups.png", "examples.html"):
        (folder / name).unlink(missing_ok=True)
    done = _summarize(folder, "--data", tmp_path / "gone")
    assert done.returncode == 0 and "Traceback" not in done.stderr
    errors = [line for line in done.stdout.splitlines() if "no examples.html" in line]
    assert len(errors) == 1 and "gone" in errors[0]
    assert (folder / "scores.png").exists() and (folder / "groups.png").exists()
    assert not (folder / "examples.html").exists() and "| BLIP ITM head |" in done.stdout


def test_unfinished_and_empty_folders_say_what_to_run(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.json").write_text(json.dumps({"experiment": "experiment3", "seed": 0}))
    (unfinished / "examples.jsonl").write_text('{"id": 0}\n{"id": 1}\n')
    done = _summarize(tmp_path / "empty", unfinished)
    assert done.returncode == 2 and done.stderr.startswith("error: 2 of 2 folder(s) could not be summarized")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines[0].startswith(f"{tmp_path / 'empty'}: ") and "python experiment1.py --out" in lines[0]
    assert "unfinished experiment3 run (2 examples scored" in lines[1] and "python experiment3.py --out" in lines[1]
    assert len(lines) == 2
    nothing = _summarize(cwd=tmp_path)  # no folder named and no results/ here
    assert nothing.returncode == 2 and nothing.stderr.strip().startswith("error: no result folders")


# --- re-ranking folders (experiment 4) -------------------------------------------------------------------

@pytest.fixture(scope="module")
def reranked(blip_paths, mlm_path, tmp_path_factory):
    """A finished experiment 4 folder on the drawn retrieval set, and its annotation file."""
    from fixtures import write_retrieval_data

    root = tmp_path_factory.mktemp("reranked")
    annotations = write_retrieval_data(root / "retrieval")["blip"]
    out = root / "experiment4"
    done = subprocess.run([sys.executable, str(ROOT / "experiment4.py"), "--data", str(annotations), "--itm-model",
                           str(blip_paths["itm"]), "--clm-model", str(blip_paths["clm"]), "--mlm-model", str(mlm_path),
                           "--swap-cache", str(root / "swaps.json"), "--device", "cpu", "--k", "4",
                           "--rows", "itc,itm_blip,itm,clm_exact", "--out", str(out)],
                          cwd=ROOT, env=env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return out, annotations


def _ranked(query, row, higher_is_better):
    """A row's order of a query's candidates, written out here: by score, ties in first-stage order."""
    pairs = list(zip(query["scores"][row], range(len(query["candidates"])), query["candidates"]))
    pairs.sort(key=lambda p: ((-p[0] if higher_is_better else p[0]), p[1]))
    return [c for _, _, c in pairs]


def test_retrieval_tables_figure_and_queries_page(reranked, tmp_path):
    out, annotations = reranked
    other = tmp_path / "experiment4-again"  # a second folder: the table across folders
    shutil.copytree(out, other)
    done = _summarize(out, other)
    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())
    section = done.stdout.split(f"## experiment4 ({out}")[1].split("## ")[0]
    columns = ["txt_r1", "txt_r5", "txt_r10", "img_r1", "img_r5", "img_r10"]
    for key, row in results["rows"].items():
        cells = table_row(section, f"{key}: {row['label']}")
        assert cells[1:7] == [f"{row[c]:.2f} [{row['interval95'][c][0]:.2f}, {row['interval95'][c][1]:.2f}]"
                              for c in columns] and cells[7] == f"{row['r_mean']:.2f}"
    for c in results["comparisons"]:
        cells = table_row(section, f"{c['a']} minus {c['b']}")
        assert cells[1:] == [f"{c[m]['difference']:.2f} [{c[m]['interval95'][0]:.2f}, {c[m]['interval95'][1]:.2f}]"
                             for m in columns]
    assert table_row(section, "BLIP ViT-L, COCO 5K fine-tuned (paper, Table 5) (reference)")[1] == "82.40"
    across = done.stdout.split("## r_mean of every re-ranking row across folders")[1]
    assert table_row(across, "itm: ITM match logit ([CLS] first, as published)")[1:] == [
        f"{results['rows']['itm']['r_mean']:.2f}"] * 2
    with Image.open(out / "recalls.png") as image:
        assert image.size[0] >= 800 and np.asarray(image.convert("L")).std() > 10

    page = Page()
    page.feed((out / "queries.html").read_text())
    page.close()
    assert page.open == []  # every tag closed in order
    data = json.loads(page.scripts["data"])
    queries = [json.loads(line) for line in (out / "queries.jsonl").read_text().splitlines()]
    ids = [q["id"] for q in data["queries"]]
    assert len(ids) == len(set(ids)) == len(queries) == 8 + 19
    for src in data["thumbnails"]:
        Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).load()
    # Every filter recomputed from queries.jsonl and the annotation file.
    entries = json.loads(annotations.read_text())
    image_of = [i for i, e in enumerate(entries) for _ in e["caption"]]
    truth = {("t", q): {c for c, i in enumerate(image_of) if i == q} for q in range(8)}
    truth |= {("i", q): {image_of[q]} for q in range(19)}
    methods = results["rows"]

    def key(q):
        return ("t" if q["task"] == "text_retrieval" else "i", q["query"])

    def rank(order, q):
        return next((n for n, c in enumerate(order) if c in truth[key(q)]), None)

    expected = {}
    for c in results["comparisons"]:
        for a, b in ((c["a"], c["b"]), (c["b"], c["a"])):
            for task, name in (("text_retrieval", "text retrieval"), ("image_retrieval", "image retrieval")):
                expected[f"{a} right, {b} wrong at R@1 ({name})"] = [
                    "".join(map(str, key(q))) for q in queries if q["task"] == task
                    and _ranked(q, a, methods[a]["higher_is_better"])[0] in truth[key(q)]
                    and _ranked(q, b, methods[b]["higher_is_better"])[0] not in truth[key(q)]]
    for row in methods:
        for task, name in (("text_retrieval", "text retrieval"), ("image_retrieval", "image retrieval")):
            shifts = [(q, rank(q["candidates"], q), rank(_ranked(q, row, methods[row]["higher_is_better"]), q))
                      for q in queries if q["task"] == task]
            if row != "itc":
                expected[f"{row} moved the ground truth up ({name})"] = [
                    "".join(map(str, key(q))) for q, before, after in shifts if before is not None and after < before]
                expected[f"{row} moved the ground truth down ({name})"] = [
                    "".join(map(str, key(q))) for q, before, after in shifts if before is not None and after > before]
    assert data["filters"] == expected
    assert any(data["filters"].values())  # the tiny models do move some ground truths


def test_retrieval_folders_that_do_not_fit_are_refused(reranked, tmp_path):
    out, _ = reranked
    unfinished = tmp_path / "unfinished"
    shutil.copytree(out, unfinished)
    (unfinished / "results.json").unlink()
    done = _summarize(unfinished)
    assert done.returncode == 2 and "unfinished experiment4 run (1 image batches of pair scores, no results.json): " \
        f"run `python experiment4.py --out {unfinished}`" in done.stdout
    mismatched = tmp_path / "mismatched"
    shutil.copytree(out, mismatched)
    lines = (mismatched / "queries.jsonl").read_text().splitlines()
    (mismatched / "queries.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    done = _summarize(mismatched)
    assert done.returncode == 2 and "queries.jsonl holds 26 queries, not the 27 of results.json" in done.stdout
    assert "Traceback" not in done.stderr


def test_retrieval_images_that_cannot_be_read_still_give_tables_and_figure(reranked, tmp_path):
    out, annotations = reranked
    folder = tmp_path / "experiment4"
    shutil.copytree(out, folder)
    for name in ("recalls.png", "queries.html"):
        (folder / name).unlink(missing_ok=True)
    moved = tmp_path / "elsewhere.json"  # the same annotations, but no images beside them
    shutil.copy(annotations, moved)
    done = _summarize(folder, "--data", moved)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stdout.splitlines() if "no queries.html" in line]
    assert len(errors) == 1 and "cannot be read" in errors[0]
    assert (folder / "recalls.png").exists() and not (folder / "queries.html").exists()
    assert "| itm: ITM match logit" in done.stdout


# --- the other grid benchmarks ---------------------------------------------------------------------------

def _right(benchmark: str, scores: list, higher_is_better: bool) -> bool:
    """Does a row get a 1 x n example right: SugarCrepe++'s two positives both strictly above the negative (the
    last caption); elsewhere caption 0 strictly above every other."""
    better = (lambda x, y: x > y) if higher_is_better else (lambda x, y: x < y)
    if benchmark == "sugarcrepe-pp":
        return better(scores[0], scores[2]) and better(scores[1], scores[2])
    return all(better(scores[0], other) for other in scores[1:])


def test_grid_benchmarks_tables_pages_and_the_table_across_benchmarks(finished, blip_paths, tmp_path, capsys):
    data = write_compositional_data(tmp_path / "data")
    folders = {}
    for name, flags in (("sugarcrepe", ["--data", data["sugarcrepe"], "--image-root", data["sugarcrepe_images"]]),
                        ("whatsup-a", ["--data", data["whatsup"]]), ("sugarcrepe-pp", ["--data", data["sugarcrepe_pp"]])):
        folders[name] = tmp_path / name
        run_in_process("experiment1.py", ["--benchmark", name, *flags, "--clm-model", blip_paths["clm"], "--itm-model",
                                          blip_paths["itm"], "--device", "cpu", "--workers", "0", "--out",
                                          folders[name]], capsys)
    capsys.readouterr()
    run_in_process("summarize.py", [*folders.values(), finished / "experiment1"], capsys)
    out = capsys.readouterr().out
    for name, folder in folders.items():
        results = json.loads((folder / "results.json").read_text())
        section = out.split(f"## experiment1 ({folder}")[1].split("## ")[0]
        primary = GRIDS[name].primary
        for row in results["rows"].values():
            low, high = row["interval95"][primary]
            assert table_row(section, row["label"])[1] == f"{row[primary]:.2f} [{low:.2f}, {high:.2f}]"
        page = Page()
        page.feed((folder / "examples.html").read_text())
        page.close()
        records = read_records(folder)
        assert page.open == [] and sorted(page.ids) == sorted(r["id"] for r in records)
        assert len(page.images) == len(records) * GRIDS[name].shape[0]
        filters = json.loads(page.scripts["filters"])
        for comparison in results["comparisons"]:  # recomputed from each benchmark's definition
            a, b = comparison["a"], comparison["b"]
            right = {key: {r["id"] for r in records if _right(name, [r[key][f"c{c}_i0"] for c in range(
                GRIDS[name].shape[1])], results["rows"][key]["higher_is_better"])} for key in (a, b)}
            assert set(filters[f"{a} right, {b} wrong"]) == right[a] - right[b]
    across = out.split("## Every row on every benchmark, main metrics with 95% intervals")[1]
    header = across.strip().splitlines()[0]
    assert "sugarcrepe mean (experiment1)" in header and "whatsup-a accuracy (experiment1)" in header
    assert "sugarcrepe-pp itt (experiment1)" in header
    assert "winoground group (experiment1)" in header
    itm = json.loads((folders["whatsup-a"] / "results.json").read_text())["rows"]["itm"]
    cells = table_row(across, f"itm: {itm['label']}")
    column = header.strip("|").split("|").index(" whatsup-a accuracy (experiment1) ")
    assert cells[column] == f"{itm['accuracy']:.2f} [{itm['interval95']['accuracy'][0]:.2f}, " \
                            f"{itm['interval95']['accuracy'][1]:.2f}]"
    with Image.open(tmp_path / "benchmarks.png") as image:
        assert np.asarray(image.convert("L")).std() > 10


def test_a_folder_of_an_earlier_release_still_summarizes(tmp_path, winoground_dir):
    """results.json as releases before schema 2 wrote it: rows under "methods", quoted rows as a list."""
    folder = tmp_path / "old"
    folder.mkdir()
    examples = [json.loads(line) for line in (winoground_dir / "examples.jsonl").read_text().splitlines()[:2]]
    records = [{"id": ex["id"], "caption_0": ex["caption_0"], "caption_1": ex["caption_1"], "tag": "Object",
                "secondary_tag": "", "num_main_preds": 1,
                "itm": {"c0_i0": 1.0, "c0_i1": 0.0, "c1_i0": 0.0, "c1_i1": float(ex["id"])}} for ex in examples]
    (folder / "examples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "results.json").write_text(json.dumps({
        "config": {"experiment": "experiment1", "data": str(winoground_dir), "limit": 2, "seed": 0},
        "n_examples": 2, "comparisons": [],
        "methods": {"itm": {"label": "BLIP ITM head", "higher_is_better": True, "published_image": 24.25,
                            "text": 50.0, "image": 50.0, "group": 50.0,
                            "interval95": {"text": [0.0, 100.0], "image": [0.0, 100.0], "group": [0.0, 100.0]},
                            "breakdown": {"tag=Object": {"n": 2, "text": 50.0, "image": 50.0, "group": 50.0}}}},
        "references": [{"label": "VQ2 (external)", "text": None, "image": None, "group": None,
                        "published_image": 42.2}]}))
    done = _summarize(folder)
    assert done.returncode == 0, done.stdout
    cells = dict(zip(table_row(done.stdout, "Row"), table_row(done.stdout, "BLIP ITM head")))
    assert cells["image"] == "50.00 [0.00, 100.00]" and cells["Published image"] == "24.25"
    assert table_row(done.stdout, "VQ2 (external) (reference)")[3] == "42.20"
    assert (folder / "examples.html").exists() and (folder / "groups.png").exists()

    # Schema 2: the rows and T' fields it named otherwise read under schema 3's names, the page included.
    results = json.loads((folder / "results.json").read_text())
    results["schema"], results["rows"] = 2, {"itm_exact_ratio": results.pop("methods")["itm"]}
    results["rows"]["itm_exact_ratio"].pop("published_image")
    results |= {"benchmark": "winoground", "primary": "group", "compared": ["text", "image", "group"],
                "references": {}}
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "examples.jsonl").write_text("".join(json.dumps({**{k: v for k, v in r.items() if k != "itm"},
                                                               "itm_exact_ratio": r["itm"], "swap_exact_0": "T prime"})
                                                   + "\n" for r in records))
    done = _summarize(folder)
    assert done.returncode == 0, done.stdout
    assert dict(zip(table_row(done.stdout, "Row"), table_row(done.stdout, "BLIP ITM head")))["image"] == \
        "50.00 [0.00, 100.00]"
    page = (folder / "examples.html").read_text()
    assert "T prime" in page  # the improved search's T', read under its current name


def test_changed_data_and_broken_folders_get_one_line_each_and_the_rest_is_written(finished, blip_paths, tmp_path,
                                                                                  capsys):
    data = write_compositional_data(tmp_path / "data")
    aro = tmp_path / "aro"
    run_in_process("experiment1.py", ["--benchmark", "aro-vg-relation", "--data", data["aro"], "--itm-model",
                                      blip_paths["itm"], "--clm-model", "", "--device", "cpu", "--workers", "0",
                                      "--limit", "3", "--out", aro], capsys)
    annotations = data["aro"] / "visual_genome_relation.json"
    entries = json.loads(annotations.read_text())
    entries[1]["bbox_x"] += 1  # a box moved after the run: the page would show a crop the run never scored
    annotations.write_text(json.dumps(entries))
    edited = tmp_path / "edited"  # a results.json edited by hand
    shutil.copytree(finished / "experiment1", edited)
    results = json.loads((edited / "results.json").read_text())
    (edited / "results.json").write_text(json.dumps({**results, "rows": list(results["rows"])}))
    unreadable = tmp_path / "unreadable"  # images that cannot be read, though the captions are those scored
    shutil.copytree(finished / "experiment1", unreadable)
    winoground_copy = tmp_path / "winoground"
    shutil.copytree(json.loads((finished / "experiment1" / "results.json").read_text())["config"]["data"],
                    winoground_copy)
    for image in (winoground_copy / "images").iterdir():
        image.write_bytes(b"not an image")
    (unreadable / "examples.html").unlink(missing_ok=True)
    done = _summarize(aro, edited, finished / "experiment2")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if line.startswith(f"{aro}: no examples.html")] == [
        next(line for line in lines if "does not hold example 1 of examples.jsonl as the run scored it" in line)]
    assert any(line.startswith(f"{edited}: ") and "run the experiment again with that --out" in line for line in lines)
    assert (aro / "scores.png").exists() and f"## experiment1 ({aro}" in done.stdout
    assert "## experiment2 (" in done.stdout  # the folder after the broken one is still summarized
    done = _summarize(unreadable, "--data", winoground_copy)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert any(line.startswith(f"{unreadable}: no examples.html: image ") and "cannot be read" in line
               for line in done.stdout.splitlines())
    assert (unreadable / "scores.png").exists() and not (unreadable / "examples.html").exists()


def test_a_benchmark_rated_by_people_gets_its_scatter_and_images_ordered_by_each_row(blip_paths, tmp_path, capsys):
    data = write_compositional_data(tmp_path / "data")
    out = tmp_path / "genai"
    run_in_process("experiment1.py", ["--benchmark", "genai-bench", "--data", data["genai"], "--itm-model",
                                      blip_paths["itm"], "--clm-model", "", "--device", "cpu", "--workers", "0",
                                      "--out", out], capsys)
    run_printout = capsys.readouterr().out  # the run's own report: metrics, then per skill
    assert "skill=basic" in run_printout.split("Per group")[1]
    run_in_process("summarize.py", [out], capsys)
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    row = results["rows"]["itm"]
    assert row["breakdown"]["skill=basic"]["n"] == 3 and set(row["breakdown"]["skill=basic"]) >= {
        "pairwise_accuracy", "pearson", "kendall_tau_b"}
    low, high = row["interval95"]["pairwise_accuracy"]
    assert table_row(printed, row["label"])[1] == f"{row['pairwise_accuracy']:.2f} [{low:.2f}, {high:.2f}]"
    assert "CLIPScore (GenAI-Bench paper, Table 2)" in printed
    with Image.open(out / "human.png") as image:
        assert np.asarray(image.convert("L")).std() > 10
    page = (out / "examples.html").read_text()
    record = read_records(out)[0]
    human = json.loads(record["ratings"])
    ranked = sorted(range(6), key=lambda i: (-record["itm"][f"c0_i{i}"], i))  # best first, ties in image order
    expected = "".join(f"<td>i{i} <small>({human[i]:.2f})</small></td>" for i in ranked)
    assert f"<td>{row['label']}</td>{expected}</tr>" in page
    assert "DALLE_3, human" in page
