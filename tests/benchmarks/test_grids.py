"""The compositionality benchmarks: each loader on its official file layout (drawn images), and each official
metric against values worked out by hand on small score grids."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fixtures import GRID_FIXTURES, grid_source, write_compositional_data
from PIL import Image

from benchmarks import GRIDS
from benchmarks.grids import check_grid_images, option_correct
from common.errors import InputError


@pytest.fixture(scope="module")
def data_paths(tmp_path_factory) -> dict[str, Path]:
    return write_compositional_data(tmp_path_factory.mktemp("compositional"))


def _load(name, paths, limit=None):
    return GRIDS[name].load(*grid_source(paths, name), limit)


def test_every_registered_benchmark_has_a_drawn_copy(data_paths):
    assert set(GRID_FIXTURES) == set(GRIDS)  # a new benchmark: its line in tests/fixtures.py GRID_FIXTURES
    for name in GRIDS:
        assert len(_load(name, data_paths)) > 0


# Winoground has its own tests (test_winoground.py).
COMPOSITIONAL = [n for n in GRIDS if n != "winoground"]


@pytest.mark.parametrize("name", COMPOSITIONAL)
def test_every_loader_reads_its_official_layout(data_paths, name):
    data = _load(name, data_paths)
    images, captions = GRIDS[name].shape
    assert [f"caption_{c}" for c in range(captions)] + [f"image_{i}" for i in range(images)] <= data.column_names
    assert list(data["id"]) == sorted(set(data["id"]))  # canonical order, unique ids
    for field in GRIDS[name].fields:
        assert field in data.column_names
    check_grid_images(data, images)
    for row in data:
        for i in range(images):
            Image.open(row[f"image_{i}"]["path"]).load()
    assert len(_load(name, data_paths, limit=1)) == 1


def test_sugarcrepe_reads_the_categories_in_the_specified_order(data_paths):
    data = _load("sugarcrepe", data_paths)
    assert list(data["category"]) == [c for c in ("add_att", "add_obj", "replace_att", "replace_obj", "replace_rel",
                                                  "swap_att", "swap_obj") for _ in range(2)]
    entries = json.loads((data_paths["sugarcrepe"] / "add_att.json").read_text())
    first = next(iter(entries.values()))
    assert (data[0]["caption_0"], data[0]["caption_1"]) == (first["caption"], first["negative_caption"])
    assert data[0]["image_0"]["path"].endswith(first["filename"])


def test_aro_crops_to_the_box_and_the_true_caption_comes_first(data_paths):
    data = _load("aro-vg-relation", data_paths)
    entry = json.loads((data_paths["aro"] / "visual_genome_relation.json").read_text())[0]
    assert data[0]["box_0"] == [2.0, 3.0, 32.0, 23.0]  # (x, y, x + w, y + h)
    assert (data[0]["caption_0"], data[0]["caption_1"]) == (entry["true_caption"], entry["false_caption"])
    assert list(_load("aro-vg-attribution", data_paths)["attribute_pair"]) == ["red_blue"] * 3


def test_a_box_outside_its_image_is_named(data_paths, tmp_path):
    entries = json.loads((data_paths["aro"] / "visual_genome_relation.json").read_text())
    entries[1]["bbox_x"] = 500
    bad = data_paths["aro"] / "bad_box.json"
    bad.write_text(json.dumps(entries))
    data = GRIDS["aro-vg-relation"].load(str(bad))
    with pytest.raises(InputError, match=r"example 1: its box \[500.0, 3.0, 530.0, 23.0\] lies outside image"):
        check_grid_images(data, 1)


def test_mmvp_pairs_statements_and_images_as_the_official_script(data_paths):
    data = _load("mmvp-vlm", data_paths)
    assert data[0]["caption_0"] == "a photo of the dog faces left" and data[0]["image_0"]["path"].endswith("/1.jpg")
    assert data[0]["caption_1"] == "a photo of the dog faces right" and data[0]["image_1"]["path"].endswith("/2.jpg")
    # A pair listed as ids 4, 3: the script's ground truth is "img1" (the first row's image, 4.jpg) for the odd
    # statement (3, "full") and "img2" (3.jpg) for the even one. (The official file lists every pair odd first.)
    assert data[1]["caption_0"] == "a photo of the cup is full" and data[1]["image_0"]["path"].endswith("/4.jpg")
    assert data[1]["caption_1"] == "a photo of the cup is empty" and data[1]["image_1"]["path"].endswith("/3.jpg")


def test_missing_data_names_what_to_download(tmp_path):
    for name, grid in GRIDS.items():
        if grid.default_source:  # without --data these read their hub copy (tested below)
            continue
        with pytest.raises(InputError, match="download|needed") as e:
            grid.load(None)
        assert "--data" in str(e.value) and "\n" not in str(e.value), name
    with pytest.raises(InputError, match="not found"):
        GRIDS["colorswap"].load(str(tmp_path))


def test_malformed_entries_are_named(data_paths, tmp_path):
    (tmp_path / "test.json").write_text(json.dumps([{"id": 1, "caption_1": "a", "caption_2": None,
                                                      "image_1": "x.png", "image_2": "y.png"}]))
    with pytest.raises(InputError, match=r"test.json: entry 0, field 'caption_2' is null, not a caption"):
        GRIDS["colorswap"].load(str(tmp_path))
    (tmp_path / "all_select.json").write_text(json.dumps([{"image0": "x.png", "caption0": "a", "caption1": "b"}]))
    with pytest.raises(InputError, match=r"all_select.json: entry 0 lacks the field 'image1'"):
        GRIDS["eqben-mini"].load(str(tmp_path))


# --- official metrics on hand-made grids ----------------------------------------------------------------

def _one_by_n(right: list[bool], n: int = 2, tie: int | None = None) -> np.ndarray:
    """Scores (N, n, 1): the correct caption (0) above the others where right, below them elsewhere."""
    scores = np.zeros((len(right), n, 1))
    for k, r in enumerate(right):
        scores[k, 0, 0] = 1.0 if r else -1.0
    if tie is not None:
        scores[tie, 0, 0] = scores[tie, 1, 0] = 0.0  # a tie is wrong
    return scores


def test_a_key_repeated_in_one_json_object_is_one_line(tmp_path, data_paths):
    # json would keep the last of the two: one example lost without a word.
    folder = tmp_path / "data"
    shutil.copytree(data_paths["sugarcrepe"], folder)
    text = (folder / "add_att.json").read_text()
    (folder / "add_att.json").write_text(text.replace('"1": {', '"0": {', 1))
    with pytest.raises(InputError, match=r"add_att.json repeats the key '0' in one object") as e:
        GRIDS["sugarcrepe"].load(str(folder), str(data_paths["sugarcrepe_images"]))
    assert "\n" not in str(e.value)


def test_sugarcrepe_pp_itt_needs_both_positives_above_the_negative():
    # (P1, P2, N) per example, worked out by hand: ITT needs both, strictly; a tie is wrong.
    triples = [(3, 2, 1), (3, 0, 1), (0, 3, 1), (2, 2, 2), (5, 4, 4), (1, 2, 3)]
    categories = ["replace_att", "replace_att", "replace_att", "swap_obj", "swap_obj", "swap_obj"]
    scores = np.array([[[p1], [p2], [n]] for p1, p2, n in triples], dtype=np.float64)
    out = GRIDS["sugarcrepe-pp"].metrics(scores, True, {"category": np.array(categories)})
    assert out["itt"] == round(100 / 6, 2)
    assert (out["itt_replace_att"], out["p1_replace_att"], out["p2_replace_att"]) == (33.33, 66.67, 66.67)
    assert (out["itt_swap_obj"], out["p1_swap_obj"], out["p2_swap_obj"]) == (0.0, 33.33, 0.0)
    assert "itt_swap_att" not in out
    lower = GRIDS["sugarcrepe-pp"].metrics(scores, False, {"category": np.array(categories)})
    assert lower["itt_swap_obj"] == round(100 / 3, 2)  # (1, 2, 3): both below the negative


def test_sugarcrepe_pp_reads_the_official_files_as_they_are(data_paths):
    data = _load("sugarcrepe-pp", data_paths)
    assert len(data) == 10 and data["category"][:2] == ["replace_att", "replace_att"]
    assert data[1]["caption_0"].endswith(" ")  # upstream spaces are kept
    assert data[0]["caption_2"] == "a blue circle left of a red square"  # the negative, last
    entries = json.loads((data_paths["sugarcrepe_pp"] / "swap_obj.json").read_text())
    (data_paths["sugarcrepe_pp"] / "swap_obj.json").write_text(json.dumps(entries + [entries[0]]))
    try:
        with pytest.raises(InputError, match="swap_obj.json: entry 2, field 'id' repeats the value 0 of entry 0"):
            _load("sugarcrepe-pp", data_paths)
    finally:
        (data_paths["sugarcrepe_pp"] / "swap_obj.json").write_text(json.dumps(entries))


def test_option_correct_is_strict_and_follows_the_direction():
    scores = np.array([[[3.0], [1.0], [2.0]], [[3.0], [3.0], [1.0]], [[1.0], [2.0], [3.0]]])
    assert option_correct(scores).tolist() == [True, False, False]
    assert option_correct(scores, higher_is_better=False).tolist() == [False, False, True]


def test_sugarcrepe_accuracy_per_category_and_group_means():
    categories = ["add_att"] * 4 + ["add_obj"] * 2 + ["replace_obj", "replace_att", "replace_rel", "swap_obj",
                                                      "swap_att"]
    right = [True, True, True, False, True, False, True, False, True, True, False]
    out = GRIDS["sugarcrepe"].metrics(_one_by_n(right), True, {"category": np.array(categories)})
    assert out["accuracy_add_att"] == 75.0 and out["accuracy_add_obj"] == 50.0
    assert out["mean_add"] == 62.5 and out["mean_replace"] == round((100 + 0 + 100) / 3, 2)
    assert out["mean_swap"] == 50.0 and out["accuracy"] == round(100 * 7 / 11, 2)


def test_aro_relation_macro_accuracy_leaves_out_the_symmetric_relations():
    relations = np.array(["on", "on", "next to", "next to", "behind"])
    scores = _one_by_n([True, False, True, True, True], tie=4)  # the "behind" example is a tie: wrong
    out = GRIDS["aro-vg-relation"].metrics(scores, True, {"relation": relations})
    assert out == {"macro_accuracy": 25.0, "accuracy": 60.0}  # mean(on 50, behind 0); next to is symmetric


def test_aro_attribution_macro_accuracy_counts_pairs_with_25_examples():
    pairs = np.array(["red_blue"] * 25 + ["big_small"] * 3)
    right = [True] * 20 + [False] * 5 + [False] * 3
    out = GRIDS["aro-vg-attribution"].metrics(_one_by_n(right), True, {"attribute_pair": pairs})
    assert out == {"macro_accuracy": 80.0, "accuracy": round(100 * 20 / 28, 2)}


def test_whatsup_pair_and_set_accuracy_group_by_file_name():
    from benchmarks.whatsup import group_and_slot

    names = [f"{a}_{slot}_{b}.jpeg" for a, b in (("mug", "plate"), ("cup", "bowl"))
             for slot in ("left_of", "right_of", "on", "under")]
    groups, slots = zip(*(group_and_slot(f"data/controlled_images/{n}") for n in names))
    assert groups[0] == "mug|plate" and slots[:4] == ("left", "right", "on", "under")
    right = [True, True, True, True, True, False, True, True]  # the second group misses "right"
    out = GRIDS["whatsup-a"].metrics(_one_by_n(right, n=4), True, {"group": np.array(groups), "slot": np.array(slots)})
    # pairs: left+right and on+under of the first group, on+under of the second: 3 of 8 / 2; sets: 1 of 8 / 4
    assert out == {"accuracy": 87.5, "pair_accuracy": 75.0, "set_accuracy": 50.0}


def test_whatsup_b_pairs_left_right_and_front_behind():
    from benchmarks.whatsup import group_and_slot

    names = [f"cube_{slot}_sphere.png" for slot in ("left_of", "right_of", "in-front_of", "behind")]
    groups, slots = zip(*(group_and_slot(n) for n in names))
    assert set(groups) == {"cube|spher"} and slots == ("left", "right", "in-front", "behind")  # [:-5] as upstream
    out = GRIDS["whatsup-b"].metrics(_one_by_n([False, True, True, True], n=4), True,
                                     {"group": np.array(groups), "slot": np.array(slots)})
    assert out == {"accuracy": 75.0, "pair_accuracy": 50.0, "set_accuracy": 0.0}  # only in-front + behind


def test_mmvp_scores_pairs_by_image_and_averages_categories():
    scores = np.array([[[2.0, 1.0], [0.0, 1.0]],   # each statement prefers its own image: right
                       [[2.0, 1.0], [3.0, 1.0]],   # the second statement prefers image 0: wrong
                       [[1.0, 1.0], [0.0, 1.0]]])  # a tie: wrong
    categories = np.array(["Texts", "Texts", "Color and Appearance"])
    out = GRIDS["mmvp-vlm"].metrics(scores, True, {"category": categories})
    assert out["image"] == 33.33 and out["image_Texts"] == 50.0 and out["image_Color and Appearance"] == 0.0
    assert out["image_mean_of_categories"] == 25.0


@pytest.mark.parametrize("name", ["colorswap", "eqben-mini", "naturalbench-retrieval"])
def test_two_by_two_sets_use_winoground_scores(name):
    scores = np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.9, 0.8], [0.2, 0.7]]])  # both right; image only
    assert GRIDS[name].metrics(scores, True, {}) == {"text": 50.0, "image": 100.0, "group": 50.0}


class FolderHub:
    """Stands in for the hub: a repo's files are the files of a local folder."""

    def __init__(self, repo: str, folder: Path):
        self.repo, self.folder = repo, folder

    def list_files(self, repo_id, revision):
        assert repo_id == self.repo
        return [] if revision else sorted(p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*")
                                          if p.is_file())

    def download(self, repo_id, filename, revision):
        return str(self.folder / filename)


def test_mmvp_reads_its_hub_copy(data_paths):
    from benchmarks import mmvp

    local = _load("mmvp-vlm", data_paths)
    hub = mmvp.load("MMVP/MMVP_VLM", hub=FolderHub("MMVP/MMVP_VLM", data_paths["mmvp"]))
    assert hub["caption_0"] == local["caption_0"] and hub["caption_1"] == local["caption_1"]
    assert [r["image_0"]["path"] for r in hub] == [r["image_0"]["path"] for r in local]


def test_colorswap_reads_the_parquet_of_its_hub_copy(data_paths, tmp_path):
    import datasets

    from benchmarks import colorswap

    entries = json.loads((data_paths["colorswap"] / "test.json").read_text())
    folder = tmp_path / "hub"
    (folder / "data").mkdir(parents=True)
    table = datasets.Dataset.from_dict(
        {"id": [e["id"] for e in entries], "caption_1": [e["caption_1"] for e in entries],
         "caption_2": [e["caption_2"] for e in entries],
         **{k: [{"bytes": (data_paths["colorswap"] / "images" / e[k]).read_bytes(), "path": None} for e in entries]
            for k in ("image_1", "image_2")}},
        features=datasets.Features({"id": datasets.Value("int64"), "caption_1": datasets.Value("string"),
                                    "caption_2": datasets.Value("string"), "image_1": datasets.Image(),
                                    "image_2": datasets.Image()}))
    table.to_parquet(str(folder / "data" / "test-00000.parquet"))
    hub = colorswap.load("stanfordnlp/colorswap", hub=FolderHub("stanfordnlp/colorswap", folder))
    local = _load("colorswap", data_paths)
    assert list(hub["id"]) == list(local["id"]) and hub["caption_1"] == local["caption_1"]
    check_grid_images(hub, 2)
    for row, entry in zip(hub, entries):
        assert row["image_1"]["bytes"] == (data_paths["colorswap"] / "images" / entry["image_2"]).read_bytes()
