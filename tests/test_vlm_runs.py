"""Generative VLMs (scoring/vlm.py) through the experiments: experiment 5's rows on Winoground (captions, T' ratios,
priors over noise images) and experiment 4's re-ranking, against one-pair forwards of the plain models."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from fixtures import build_idefics3, build_llava, build_qwen25_vl, write_retrieval_data
from PIL import Image
from references import REFERENCES
from scripts import read_records, run_in_process

import scoring
from benchmarks import GRIDS
from benchmarks.retrieval import load_retrieval


def _noise(scorer, n_images=2, seed=0):
    """The null images as scoring/priors.py's recipe draws them for a VLM: the layout the processor gives a black
    448 x 448 image, every pixel value standard normal noise, image k's from seed + k."""
    shape = scorer.processor(images=[Image.new("RGB", (448, 448))], text=[scorer.processor.image_token],
                             return_tensors="pt").pixel_values.shape
    return [torch.randn(shape, generator=torch.Generator().manual_seed(seed + k)) for k in range(n_images)]


def test_experiment5_rows_of_two_vlms_equal_plain_forwards(tmp_path, capsys, mlm_path, winoground_dir):
    llava, qwen = build_llava(tmp_path / "llava"), build_qwen25_vl(tmp_path / "qwen")
    out = tmp_path / "e5"
    run_in_process("experiment5.py", ["--data", winoground_dir, "--limit", 3, "--clm-model", llava, "--itm-model", "",
                                      "--vqa-model", qwen, "--mlm-model", mlm_path, "--swap-cache",
                                      tmp_path / "swaps.json", "--prior-cache", tmp_path / "priors.json",
                                      "--null-images", 2, "--device", "cpu", "--workers", 1, "--batch-size", 2,
                                      "--out", out], capsys)
    records, results = read_records(out), json.loads((out / "results.json").read_text())
    assert list(results["rows"]) == ["clm_exact", "clm_exact_mean", "clm_ratio_improved", "clm_pmi", "clm_prior_cv",
                                     "clm_null", "mlm_pll", "vqa", "vqa_ratio_improved", "vqa_pmi"]
    assert results["rows"]["vqa"]["label"].startswith("Qwen2.5-VL")
    # The VQAScore paper's rows are quoted beside them (benchmarks/vqascore.py).
    assert results["references"]["VQAScore (Lin et al. 2024), LLaVA-1.5"] == {"text": 45.5, "image": 41.3, "group": 29.8}
    data = GRIDS["winoground"].load(str(winoground_dir), None, 3)
    clm, vqa = scoring.load_scorer(str(llava), "clm_exact"), scoring.load_scorer(str(qwen), "vqa")

    def s(scorer, head, text, image):
        with torch.no_grad():
            return REFERENCES[scorer.family](head)(scorer, image, text).float().item()

    def prior(scorer, head, text):  # averaged over the noise images in probability
        values = torch.tensor([s(scorer, head, text, n) for n in _noise(scorer)], dtype=torch.float64)
        return (values.logsumexp(0) - math.log(2)).item()

    for r, ex in zip(records, data):
        for c in range(2):
            t = ex[f"caption_{c}"]
            improved = r[f"swap_improved_{c}"] or t
            priors = {"clm": prior(clm, "clm_exact", t), "vqa": prior(vqa, "vqa", t)}
            for i in range(2):
                image, cell = ex[f"image_{i}"], f"c{c}_i{i}"
                e, v = s(clm, "clm_exact", t, image), s(vqa, "vqa", t, image)
                expected = {"clm_exact": e, "clm_exact_mean": s(clm, "clm_exact_mean", t, image),
                            "clm_ratio_improved": e - s(clm, "clm_exact", improved, image),
                            "clm_pmi": e - priors["clm"], "clm_null": priors["clm"],
                            "vqa": v, "vqa_ratio_improved": v - s(vqa, "vqa", improved, image),
                            "vqa_pmi": v - priors["vqa"]}
                for key, value in expected.items():
                    assert r[key][cell] == pytest.approx(value, rel=1e-5, abs=1e-4), (key, r["id"], cell)


def test_experiment4_reranks_with_a_vlm(tmp_path, capsys, clip_path, mlm_path):
    annotations = write_retrieval_data(tmp_path / "retrieval")["blip"]
    idefics3 = build_idefics3(tmp_path / "idefics3")
    out = tmp_path / "e4"
    run_in_process("experiment4.py", ["--data", annotations, "--itm-model", clip_path, "--clm-model", idefics3,
                                      "--mlm-model", mlm_path, "--swap-cache", tmp_path / "swaps.json",
                                      "--rows", "itc,clm_exact", "--k", 3, "--device", "cpu", "--workers", 0,
                                      "--batch-size", 3, "--out", out], capsys)
    queries = [json.loads(line) for line in (out / "queries.jsonl").read_text().splitlines()]
    data = load_retrieval(str(annotations))
    scorer = scoring.load_scorer(str(idefics3), "clm_exact")
    images = [Image.open(r["image"]["path"]) for r in data.images]
    checked = 0
    for q in queries[:8]:  # text retrieval: each image's candidate captions
        assert q["task"] == "text_retrieval"
        with torch.no_grad():
            expected = [REFERENCES["idefics3"]("clm_exact")(scorer, images[q["query"]], data.captions[c]).item()
                        for c in q["candidates"]]
        np.testing.assert_allclose(q["scores"]["clm_exact"], expected, rtol=1e-5, atol=1e-4)
        checked += len(expected)
    assert checked == 8 * 3
