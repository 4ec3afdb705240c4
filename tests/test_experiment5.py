"""Experiment 5 end to end on the tiny models: every row's grid against plain transformers forwards, one pair at a
time, on the same noise tensors (Winoground), and on SugarCrepe-format data with the rows other checkpoints
leave out, the cross-validated alphas and the figure summarize.py draws from them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from references import REFERENCES
from scripts import read_records, run_in_process

import scoring
from benchmarks import GRIDS
from common.fingerprints import checkpoint_fingerprint
from perturb.swap import GATED, SwapCache

ALPHAS = [round(0.05 * k, 2) for k in range(21)]


def _noise(scorer, image, k_images=3, seed=0):
    """The null images as scoring/priors.py's recipe draws them, at the size the checkpoint's processor gives an image."""
    pixels = scorer.processor.image_processor(images=image.convert("RGB"), return_tensors="pt").pixel_values
    height, width = pixels.shape[-2:]
    return [torch.randn((3, height, width), generator=torch.Generator().manual_seed(seed + k)) for k in range(k_images)]


def _pll(model, tok, text):
    """Pseudo-log-likelihood: each non-special token masked in turn, one full forward each."""
    ids = tok(text).input_ids
    total = 0.0
    for k, token in enumerate(ids):
        if token in tok.all_special_ids:
            continue
        masked = list(ids)
        masked[k] = tok.mask_token_id
        with torch.no_grad():
            total += model(input_ids=torch.tensor([masked])).logits[0, k].log_softmax(-1)[token].item()
    return total


def _fold_of(n, seed=0):
    fold = np.empty(n, dtype=int)
    for k, part in enumerate(np.array_split(np.random.default_rng(seed).permutation(n), 5)):
        fold[part] = k
    return fold


def _grid(record, key):
    return [[record[key][f"c{c}_i{i}"] for i in range(2)] for c in range(2)]


def test_every_row_equals_plain_forwards_on_the_same_noise(tmp_path, capsys, blip_paths, mlm_path, blip2_t5_path,
                                                            winoground_dir):
    data = GRIDS["winoground"].load(str(winoground_dir), None, 5)
    # Open the gated search's gate of one caption by hand (the tiny MLM's vocabulary has no id >= 1000, so the
    # search itself always closes it): that caption's gated rows divide, the others' do not.
    opened = data[0]["caption_0"]
    swap_cache = SwapCache(tmp_path / "swaps.json")
    swap_cache.put((checkpoint_fingerprint(str(mlm_path)), "float32", GATED, 0, 1000, opened),
                   {"swap": " ".join(reversed(opened.split())), "reason": None})
    swap_cache.save()
    out = tmp_path / "e5"
    run_in_process("experiment5.py", ["--data", winoground_dir, "--limit", 5, "--clm-model", blip_paths["clm"],
                                      "--itm-model", blip_paths["itm"], "--vqa-model", blip2_t5_path,
                                      "--mlm-model", mlm_path, "--swap-cache", tmp_path / "swaps.json",
                                      "--prior-cache", tmp_path / "priors.json", "--device", "cpu", "--workers", 0,
                                      "--batch-size", 2, "--out", out], capsys)
    records, results = read_records(out), json.loads((out / "results.json").read_text())
    assert [r["id"] for r in records] == list(data["id"])
    assert records[0]["swap_gated_0"] is not None and sum(r[f"swap_gated_{c}"] is None for r in records
                                                          for c in range(2)) == 9

    clm = scoring.load_scorer(str(blip_paths["clm"]), "clm_exact")
    itm = scoring.load_scorer(str(blip_paths["itm"]), "contrastive")
    vqa = scoring.load_scorer(str(blip2_t5_path), "vqa")
    from transformers import AutoModelForMaskedLM, AutoTokenizer
    mlm, mlm_tok = AutoModelForMaskedLM.from_pretrained(mlm_path).eval(), AutoTokenizer.from_pretrained(mlm_path)
    heads = {"E": (clm, REFERENCES["blip-captioning"]("clm_exact")),
             "M": (clm, REFERENCES["blip-captioning"]("clm_exact_mean")),
             "L": (clm, REFERENCES["blip-captioning"]("clm")),
             "P": (itm, REFERENCES["blip-retrieval"]("itm_logprob")),
             "G": (itm, REFERENCES["blip-retrieval"]("itm")),
             "C": (itm, REFERENCES["blip-retrieval"]("contrastive")),
             "V": (vqa, REFERENCES["blip2-captioning"]("vqa"))}
    noise = {s: _noise(s, data[0]["image_0"]) for s in (clm, itm, vqa)}

    def s(head, text, image):  # one pair, plain forward; image is a PIL image or a noise tensor
        scorer, reference = heads[head]
        with torch.no_grad():
            return reference(scorer, image, text).float().item()

    def prior(head, text):  # in probability for log-likelihoods, in score for ITM and contrastive
        scorer = heads[head][0]
        values = torch.tensor([s(head, text, n) for n in noise[scorer]], dtype=torch.float64)
        return (values.logsumexp(0) - math.log(3)).item() if head in "EV" else values.mean().item()

    alphas = {key: results["rows"][key]["alphas"]
              for key in ("clm_prior_cv", "itm_prior_cv", "contrastive_prior_cv")}
    assert all(len(a) == 5 and set(a) <= set(ALPHAS) for a in alphas.values())
    fold = _fold_of(len(records))
    expected = {key: [] for key in records[0] if isinstance(records[0][key], dict)}
    for n, (r, ex) in enumerate(zip(records, data)):
        grids = {key: [[0.0, 0.0], [0.0, 0.0]] for key in expected}
        for c in range(2):
            t = ex[f"caption_{c}"]
            improved = r[f"swap_improved_{c}"] or t
            gated = r[f"swap_gated_{c}"]
            p = {h: prior(h, t) for h in "EPCV"}
            pll = _pll(mlm, mlm_tok, t)
            for i in range(2):
                image = ex[f"image_{i}"]
                e, lp, cs, v = s("E", t, image), s("P", t, image), s("C", t, image), s("V", t, image)
                cells = {
                    "clm_exact": e, "clm_exact_mean": s("M", t, image),
                    "clm_ratio_improved": e - s("E", improved, image),
                    "clm_ratio_gated": s("L", t, image) / s("L", gated, image) if gated else s("L", t, image),
                    "clm_pmi": e - p["E"], "clm_prior_cv": e - alphas["clm_prior_cv"][fold[n]] * p["E"],
                    "clm_null": p["E"], "mlm_pll": pll,
                    "itm_logprob": lp, "itm_ratio_improved": lp - s("P", improved, image),
                    "itm_ratio_gated": s("G", t, image) / s("G", gated, image) if gated else s("G", t, image),
                    "itm_pmi": lp - p["P"], "itm_prior_cv": lp - alphas["itm_prior_cv"][fold[n]] * p["P"],
                    "itm_null": p["P"],
                    "contrastive": cs, "contrastive_ratio_improved": cs - s("C", improved, image),
                    "contrastive_ratio_gated": cs / s("C", gated, image) if gated else cs,
                    "contrastive_pmi": cs - p["C"],
                    "contrastive_prior_cv": cs - alphas["contrastive_prior_cv"][fold[n]] * p["C"],
                    "contrastive_null": p["C"],
                    "vqa": v, "vqa_ratio_improved": v - s("V", improved, image), "vqa_pmi": v - p["V"],
                }
                assert set(cells) == set(expected)  # every row of the issue, and no other
                for key, value in cells.items():
                    grids[key][c][i] = value
        for key in expected:
            expected[key].append(grids[key])
    # To 1e-5 of the head's scores: a row that subtracts two terms is as exact as its terms, not relative to itself.
    raw_of = {"clm": "clm_exact", "itm": "itm_logprob", "contrastive": "contrastive", "vqa": "vqa", "mlm": "mlm_pll"}
    for key, grid in expected.items():
        got = torch.tensor([_grid(r, key) for r in records], dtype=torch.float64)
        scale = max(1.0, np.abs(expected[raw_of[key.split("_")[0]]]).max())
        torch.testing.assert_close(got, torch.tensor(grid, dtype=torch.float64), rtol=1e-5, atol=1e-5 * scale,
                                   msg=lambda m: f"{key}: {m}")
    # The blind rows tie on every image comparison; a prior cancels in the image score.
    assert results["rows"]["clm_null"]["image"] == 0 == results["rows"]["mlm_pll"]["image"]
    for head in ("clm_exact", "itm_logprob", "contrastive", "vqa"):
        pmi = head.replace("_exact", "").replace("_logprob", "") + "_pmi"
        assert results["rows"][pmi]["image"] == results["rows"][head]["image"]


def test_experiment5_on_sugarcrepe_with_the_rows_the_checkpoints_have(tmp_path, capsys, blip2_opt_path, clip_path,
                                                                      mlm_path, compositional):
    out = tmp_path / "e5"
    argv = ["--benchmark", "sugarcrepe", "--data", compositional["sugarcrepe"], "--image-root",
            compositional["sugarcrepe_images"], "--clm-model", blip2_opt_path, "--itm-model", clip_path,
            "--vqa-model", "", "--mlm-model", mlm_path, "--swap-cache", tmp_path / "swaps.json",
            "--prior-cache", tmp_path / "priors.json", "--null-images", 2, "--seed", 3, "--device", "cpu",
            "--workers", 0, "--batch-size", 4, "--out", out]
    run_in_process("experiment5.py", argv, capsys)
    results, records = json.loads((out / "results.json").read_text()), read_records(out)
    # BLIP-2 has no published loss (no gated CLM row), CLIP no ITM head, and no --vqa-model was given.
    assert list(results["rows"]) == [
        "clm_exact", "clm_exact_mean", "clm_ratio_improved", "clm_pmi", "clm_prior_cv", "clm_null", "mlm_pll",
        "contrastive", "contrastive_ratio_improved", "contrastive_ratio_gated", "contrastive_pmi",
        "contrastive_prior_cv", "contrastive_null"]
    assert results["primary"] == "accuracy" and results["benchmark"] == "sugarcrepe"
    # Accuracy by hand: caption_0 is the positive; a tie is wrong.
    for key, row in results["rows"].items():
        correct = [r[key]["c0_i0"] > r[key]["c1_i0"] for r in records]
        assert row["accuracy"] == round(100 * sum(correct) / len(records), 2), key
    fold = _fold_of(len(records), seed=3)
    for key, raw, null in [("clm_prior_cv", "clm_exact", "clm_null"),
                           ("contrastive_prior_cv", "contrastive", "contrastive_null")]:
        alphas = results["rows"][key]["alphas"]
        assert len(alphas) == 5 and set(alphas) <= set(ALPHAS)
        for n, r in enumerate(records):
            for cell in r[key]:
                expected = np.float32(r[raw][cell]) - alphas[fold[n]] * np.float32(r[null][cell])
                assert r[key][cell] == pytest.approx(float(expected), rel=1e-6, abs=1e-6)
        curve = results["rows"][key]["metric_by_alpha"]
        assert curve[0] == results["rows"][raw]["accuracy"]  # alpha = 0 is the raw row
        assert curve[-1] == results["rows"][key.replace("prior_cv", "pmi")]["accuracy"]  # alpha = 1 is PMI
    assert json.loads((tmp_path / "priors.json").read_text())["priors"][0]["null_images"] == 2

    run_in_process("summarize.py", [out], capsys)
    assert (out / "alpha.png").stat().st_size > 10_000
