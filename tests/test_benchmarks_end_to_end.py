"""Experiments 1, 2 and 3 on every compositionality benchmark, in this process on the tiny models: every
per-pair score against a one-pair transformers forward, and each distinct image encoded once per model."""

from __future__ import annotations

import json

import pytest
import torch
from fixtures import grid_source
from PIL import Image
from scripts import run_in_process
from transformers import BlipForConditionalGeneration, BlipForImageTextRetrieval, BlipProcessor

from benchmarks import GRIDS

# Winoground, the default benchmark, runs end to end in tests/test_experiments.py.
BENCHMARKS = [name for name in GRIDS if name != "winoground"]


@pytest.fixture(scope="module")
def plain(blip_paths):
    """The plain transformers models and processor a user would call for one pair."""
    return (BlipForImageTextRetrieval.from_pretrained(blip_paths["itm"]).eval(),
            BlipForConditionalGeneration.from_pretrained(blip_paths["clm"]).eval(),
            BlipProcessor.from_pretrained(blip_paths["itm"]))


def _image(stored_path, box):
    with Image.open(stored_path) as image:
        rgb = image.convert("RGB")
    return rgb if box is None else rgb.crop(tuple(box))


@pytest.mark.parametrize("name", BENCHMARKS)
def test_experiments_on_every_benchmark(name, compositional, blip_paths, mlm_path, plain, tmp_path, capsys):
    grid = GRIDS[name]
    source, image_root = grid_source(compositional, name)
    data_flags = ["--benchmark", name, "--data", source, "--device", "cpu", "--workers", "0", "--batch-size", "3",
                  *(["--image-root", image_root] if image_root else [])]
    swaps = ["--mlm-model", mlm_path, "--swap-cache", tmp_path / "swaps.json"]
    runs = {"experiment1": ["--clm-model", blip_paths["clm"], "--itm-model", blip_paths["itm"]],
            "experiment2": ["--itm-model", blip_paths["itm"], *swaps],
            "experiment3": ["--clm-model", blip_paths["clm"], *swaps]}
    data = grid.load(source, image_root, None)
    n_images, n_captions = grid.shape
    distinct = {(row[f"image_{i}"]["path"], tuple(row.get(f"box_{i}") or ())) for row in data.cast_column(
        "image_0", data.features["image_0"]) for i in range(n_images)}
    records = {}
    for experiment, models in runs.items():
        out = tmp_path / experiment
        _, encoded = run_in_process(f"{experiment}.py", [*data_flags, *models, "--out", out], capsys)
        # Each distinct image once per model: experiment 1 loads two models, the others one.
        assert sum(encoded) == len(distinct) * (2 if experiment == "experiment1" else 1), (experiment, encoded)
        results = json.loads((out / "results.json").read_text())
        assert results["benchmark"] == name and grid.primary in results["rows"][next(iter(results["rows"]))]
        records[experiment] = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
        assert [r["id"] for r in records[experiment]] == list(data["id"])  # canonical order
        assert all(set(r[next(iter(results["rows"]))]) == {f"c{c}_i{i}" for c in range(n_captions)
                                                             for i in range(n_images)} for r in records[experiment])

    retrieval, captioning, processor = plain
    cfg = captioning.config.text_config
    for row, r1, r2, r3 in zip(data, records["experiment1"], records["experiment2"], records["experiment3"]):
        for i in range(n_images):
            image = _image(row[f"image_{i}"]["path"], row.get(f"box_{i}"))
            pixels = processor(images=image, return_tensors="pt").pixel_values
            for c in range(n_captions):
                cell, caption = f"c{c}_i{i}", row[f"caption_{c}"]
                with torch.no_grad():
                    inputs = processor.tokenizer(caption, return_tensors="pt")
                    sim = retrieval(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                                    pixel_values=pixels, use_itm_head=False).itm_score[0, 0]
                    itm = retrieval(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                                    pixel_values=pixels).itm_score[0, 1]
                    swapped = processor.tokenizer(r2[f"swap_improved_{c}"] or caption, return_tensors="pt")
                    sim_swap = retrieval(input_ids=swapped.input_ids, attention_mask=swapped.attention_mask,
                                         pixel_values=pixels, use_itm_head=False).itm_score[0, 0]
                    ids = torch.tensor([[cfg.bos_token_id, *processor.tokenizer(caption, add_special_tokens=False)
                                         .input_ids, cfg.sep_token_id]])
                    log_probs = captioning(pixel_values=pixels, input_ids=ids).logits[0, :-1].log_softmax(-1)
                clm_exact = sum(log_probs[k, ids[0, k + 1]] for k in range(ids.shape[1] - 1)).item()
                assert r1["contrastive"][cell] == pytest.approx(sim.item(), abs=1e-5)
                assert r1["itm"][cell] == pytest.approx(itm.item(), abs=1e-5)
                assert r2["contrastive_ratio_improved"][cell] == pytest.approx((sim - sim_swap).item(), abs=1e-5)
                assert r3["clm_exact"][cell] == pytest.approx(clm_exact, abs=1e-4)
