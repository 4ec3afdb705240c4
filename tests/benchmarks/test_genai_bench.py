"""GenAI-Bench: its metrics on hand-worked cases (ties included) and against a brute-force count, resamples
computed by weights equal to resampling the prompts, and bad inputs as one line."""

from __future__ import annotations

import itertools
import json
import re
import shutil

import datasets
import numpy as np
import pytest
from fixtures import grid_source

from benchmarks import GRIDS
from benchmarks.genai_bench import GENERATORS, Pairs
from common.errors import InputError


def test_pairwise_accuracy_kendall_and_pearson_worked_by_hand():
    # Pairs of (m, h) = ([1, 2, 2, 4], [1, 2, 3, 3]): four ordered alike at distances 1, 1, 3, 2; (1, 2) tied in
    # the scores only (distance 0); (2, 3) tied in the ratings only (distance 2). Epsilon 0 leaves the four
    # right: 4/6. Kendall tau-b: (4 - 0) / sqrt((6 - 1)(6 - 1)) = 0.8. Pearson: 2.75 / sqrt(4.75 * 2.75).
    values = Pairs(np.array([1.0, 2.0, 2.0, 4.0]), np.array([1.0, 2.0, 3.0, 3.0]), True).metrics()
    assert values == {"pairwise_accuracy": 66.67, "pearson": round(100 * np.sqrt(2.75 / 4.75), 2),
                      "kendall_tau_b": 80.0}
    # Tie calibration: the pair 0.1 apart is a human tie; epsilon 0.1 makes it a metric tie too, and the two
    # others stay ordered alike: 3/3, where epsilon 0 gives 2/3.
    assert Pairs(np.array([1.0, 1.1, 3.0]), np.array([2.0, 2.0, 3.0]), True).metrics()["pairwise_accuracy"] == 100.0
    # No two scores equal and every pair ordered alike: epsilon 0 (no metric ties) is the best, 3/3; the smallest
    # distance, 1, would tie two pairs the people did not tie.
    assert Pairs(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]), True).metrics()["pairwise_accuracy"] == 100.0
    # A row whose lower score is better is read reversed.
    reversed_row = Pairs(-np.array([1.0, 2.0, 2.0, 4.0]), np.array([1.0, 2.0, 3.0, 3.0]), False).metrics()
    assert reversed_row == values


def brute_force_accuracy(m: np.ndarray, h: np.ndarray) -> float:
    """Pairwise accuracy with tie calibration, counted pair by pair at every candidate epsilon."""
    pairs = list(itertools.combinations(range(len(m)), 2))
    candidates = {0.0} | {abs(m[i] - m[j]) for i, j in pairs}
    best = 0.0
    for eps in candidates:
        right = 0
        for i, j in pairs:
            metric_tie, human_tie = abs(m[i] - m[j]) <= eps, h[i] == h[j]
            right += (metric_tie and human_tie) or (not metric_tie and not human_tie
                                                    and np.sign(m[i] - m[j]) == np.sign(h[i] - h[j]))
        best = max(best, right / len(pairs))
    return round(100 * best, 2)


def brute_force_tau_b(m: np.ndarray, h: np.ndarray) -> float:
    pairs = list(itertools.combinations(range(len(m)), 2))
    s = [np.sign(m[i] - m[j]) * np.sign(h[i] - h[j]) for i, j in pairs]
    untied_m = sum(m[i] != m[j] for i, j in pairs)
    untied_h = sum(h[i] != h[j] for i, j in pairs)
    return round(100 * float(sum(s)) / np.sqrt(untied_m * untied_h), 2)


@pytest.mark.parametrize("seed", range(4))
def test_metrics_equal_a_brute_force_count_and_resamples_equal_resampled_prompts(seed):
    rng = np.random.default_rng(seed)
    n_prompts = 5
    scores = np.round(rng.normal(size=(n_prompts, 1, len(GENERATORS))), 1)  # rounded: ties in the scores
    human = rng.integers(3, 16, size=(n_prompts, len(GENERATORS))) / 3  # means of three ratings: ties too
    fields = {"ratings": np.array([json.dumps(h.tolist()) for h in human]), "skills": np.array([""] * n_prompts)}
    grid = GRIDS["genai-bench"]
    m, h = scores[:, 0, :].reshape(-1), human.reshape(-1)
    values = grid.metrics(scores, True, fields)
    assert values["pairwise_accuracy"] == brute_force_accuracy(m, h)
    assert values["kendall_tau_b"] == brute_force_tau_b(m, h)
    assert values["pearson"] == round(100 * np.corrcoef(m, h)[0, 1], 2)
    indices = [*rng.integers(0, n_prompts, size=(6, n_prompts)),  # with repeats: a prompt drawn twice is two copies
               np.array([0, 2, 3])]  # a subset, as cross-validation's training folds are
    weighted = grid.resampled_metrics(scores, True, fields, indices)
    for index, drawn in zip(indices, weighted):
        expanded_m, expanded_h = scores[index][:, 0, :].reshape(-1), human[index].reshape(-1)
        assert drawn["pairwise_accuracy"] == brute_force_accuracy(expanded_m, expanded_h)
        assert drawn["kendall_tau_b"] == pytest.approx(brute_force_tau_b(expanded_m, expanded_h), abs=0.011)
        assert drawn["pearson"] == pytest.approx(100 * np.corrcoef(expanded_m, expanded_h)[0, 1], abs=0.006)


def test_per_skill_groups_and_the_drawn_copy(compositional):
    grid = GRIDS["genai-bench"]
    data = grid.load(*grid_source(compositional, "genai-bench"), None)
    assert list(data["id"]) == [1, 2, 3, 4] and data.num_columns == 2 + 6 + 2
    fields = {f: np.array(data[f]) for f in grid.fields}
    groups = grid.groups(fields)
    assert groups["skill=basic"].tolist() == [True, True, True, False]
    assert groups["skill=counting"].tolist() == [False, False, False, True]
    prompts = json.loads((compositional["genai"] / "genai_image.json").read_text())
    assert json.loads(data[0]["ratings"]) == [float(np.mean(prompts["00001"]["models"][g])) for g in GENERATORS]


def _copy(compositional, tmp_path):
    folder = tmp_path / "genai"
    shutil.copytree(compositional["genai"], folder)
    return folder


@pytest.mark.parametrize("edit,message", [
    (lambda p, s: {**p, "00002": {**p["00002"], "models": {**p["00002"]["models"], "SDXL_Turbo": []}}},
     "entry 00002, field 'models' has [] as SDXL_Turbo's ratings, not a non-empty list"),
    (lambda p, s: {**p, "00003": {**p["00003"], "models": {**p["00003"]["models"], "DALLE_3": ["good"]}}},
     "entry 00003, field 'models' has 'good' among DALLE_3's ratings, not a number from 1 to 5"),
    (lambda p, s: {**p, "00001": {k: v for k, v in p["00001"].items() if k != "prompt"}},
     "entry 00001 lacks the field 'prompt'"),
])
def test_bad_ratings_are_one_line_naming_the_entry_and_field(compositional, tmp_path, edit, message):
    folder = _copy(compositional, tmp_path)
    prompts = json.loads((folder / "genai_image.json").read_text())
    (folder / "genai_image.json").write_text(json.dumps(edit(prompts, None)))
    with pytest.raises(InputError, match=re.escape(message)) as error:
        GRIDS["genai-bench"].load(str(folder))
    assert "genai_image.json" in str(error.value) and "\n" not in str(error.value)


def test_a_missing_generator_folder_image_or_skill_prompt_is_one_line(compositional, tmp_path):
    grid = GRIDS["genai-bench"]
    folder = _copy(compositional, tmp_path)
    (folder / "SDXL_Base" / "00004.jpeg").unlink()
    with pytest.raises(InputError, match=r"image .*SDXL_Base/00004.jpeg \(for .*genai_image.json entry 00004\) is "
                                         r"missing"):
        grid.load(str(folder))
    shutil.rmtree(folder / "SDXL_Base")
    with pytest.raises(InputError, match=r"the image folder of generator SDXL_Base .* is missing"):
        grid.load(str(folder))
    folder = _copy(compositional, tmp_path / "again")
    (folder / "genai_skills.json").write_text(json.dumps({"basic": [1, 99], "counting": ["4"]}))
    with pytest.raises(InputError, match=r"genai_skills.json: skill 'basic' lists prompt 99, which genai_image.json "
                                         r"does not hold; skill 'counting' lists '4', not a prompt index") as error:
        grid.load(str(folder))
    assert "\n" not in str(error.value)


def test_the_drawn_copy_with_scores_chosen_by_hand(compositional):
    # Prompt 1 of the drawn copy: its six images' mean ratings are 2, 8/3, 10/3, 4, 3 and 2 (images 0 and 5
    # tie). Scores 0.3 * mean - 0.4 order every pair as the people do, the tie included: 15 of 15 pairs right,
    # Pearson and Kendall tau-b 100.
    grid = GRIDS["genai-bench"]
    data = grid.load(str(compositional["genai"]), None, 1)
    fields = {f: np.array(data[f]) for f in grid.fields}
    means = np.array(json.loads(data[0]["ratings"]))
    assert means.tolist() == pytest.approx([2, 8 / 3, 10 / 3, 4, 3, 2])
    scores = np.array([[[0.2, 0.4, 0.6, 0.8, 0.5, 0.2]]])
    assert grid.metrics(scores, True, fields) == {"pairwise_accuracy": 100.0, "pearson": 100.0,
                                                  "kendall_tau_b": 100.0}
    # Images 2 and 3 swapped: that one pair is ordered against the people, 14 of 15 at epsilon 0, and no
    # larger epsilon helps (it would tie pairs the people did not tie); tau-b (13 - 1) / sqrt(14 * 14).
    swapped = np.array([[[0.2, 0.4, 0.8, 0.6, 0.5, 0.2]]])
    values = grid.metrics(swapped, True, fields)
    assert values["pairwise_accuracy"] == 93.33 and values["kendall_tau_b"] == round(100 * 12 / 14, 2)
    assert values["pearson"] == round(100 * np.corrcoef(swapped.reshape(-1), means)[0, 1], 2)


class FolderHub:
    """Stands in for the hub: a repo's files are the files of a local folder."""

    def __init__(self, folder):
        self.folder = folder

    def list_files(self, repo_id, revision):
        return sorted(p.name for p in self.folder.iterdir())

    def download(self, repo_id, filename, revision):
        return str(self.folder / filename)


def test_the_hub_copy_reads_each_generators_zip(compositional, tmp_path):
    import zipfile

    local = compositional["genai"]
    hub = tmp_path / "hub"
    hub.mkdir()
    for name in ("genai_image.json", "genai_skills.json"):
        shutil.copy(local / name, hub / name)
    for generator in GENERATORS:
        with zipfile.ZipFile(hub / f"{generator}.zip", "w") as zf:
            for image in sorted((local / generator).iterdir()):
                zf.write(image, f"{generator}/{image.name}")
    from benchmarks import genai_bench

    from_hub = genai_bench.load("zhiqiulin/GenAI-Bench-527", hub=FolderHub(hub))
    from_folder = genai_bench.load(str(local))
    assert from_hub["caption_0"] == from_folder["caption_0"] and from_hub["ratings"] == from_folder["ratings"]
    first = from_hub.cast_column("image_3", datasets.Image(decode=False))[2]["image_3"]
    assert first["bytes"] == (local / GENERATORS[3] / "00003.jpeg").read_bytes()
    GRIDS["genai-bench"].check(from_hub)
    (hub / "SDXL_Base.zip").unlink()
    with pytest.raises(InputError, match="zhiqiulin/GenAI-Bench-527 lacks SDXL_Base.zip"):
        genai_bench.load("zhiqiulin/GenAI-Bench-527", hub=FolderHub(hub))


def test_the_drawn_copy_names_the_official_generators():
    from fixtures import GENAI_GENERATORS

    assert GENAI_GENERATORS == GENERATORS
