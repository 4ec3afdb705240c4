"""experiment4.py end to end: recalls against a brute-force computation, resumption, bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from fixtures import ROOT, write_retrieval_data
from scripts import paused_pid, run, run_command_in_process, start_paused
from transformers import BlipForConditionalGeneration, BlipForImageTextRetrieval, BlipProcessor

from benchmarks.retrieval import load_retrieval

K = 3
ROWS = "itc,itm_blip,itm,clm_exact,contrastive_ratio"


@pytest.fixture(scope="module")
def annotations(tmp_path_factory):
    return write_retrieval_data(tmp_path_factory.mktemp("retrieval"))["blip"]


@pytest.fixture(scope="module")
def command(annotations, blip_paths, mlm_path, tmp_path_factory):
    swaps = tmp_path_factory.mktemp("swaps4") / "swaps.json"

    def make(out, *extra):
        return [sys.executable, str(ROOT / "experiment4.py"), "--data", str(annotations), "--itm-model",
                str(blip_paths["itm"]), "--clm-model", str(blip_paths["clm"]), "--mlm-model", str(mlm_path),
                "--swap-cache", str(swaps), "--device", "cpu", "--k", str(K), "--out", str(out), *extra]
    return make


def _brute_force_scores(annotations, blip_paths, swaps_file):
    """Every caption against every image, one plain transformers forward per pair."""
    data = load_retrieval(str(annotations))
    paths = [r["image"]["path"] for r in data.images]
    from PIL import Image
    images = [Image.open(p).convert("RGB") for p in paths]
    retrieval = BlipForImageTextRetrieval.from_pretrained(blip_paths["itm"]).eval()
    captioning = BlipForConditionalGeneration.from_pretrained(blip_paths["clm"]).eval()
    processor = BlipProcessor.from_pretrained(blip_paths["itm"])
    cfg = captioning.config.text_config
    enc = retrieval.config.text_config.bos_token_id + 1  # [ENC]
    swaps = {e["caption"]: e["swap"] for e in json.loads(swaps_file.read_text())["swaps"]
             if e["search"] == "published"}
    shape = (len(data.captions), len(images))
    itc, itm_enc, itm, clm_exact, itc_swap = (np.zeros(shape) for _ in range(5))
    with torch.no_grad():
        for i, image in enumerate(images):
            pixels = processor(images=image, return_tensors="pt").pixel_values
            for c, caption in enumerate(data.captions):
                inputs = processor.tokenizer(caption, return_tensors="pt", truncation=True, max_length=35)
                itc[c, i] = retrieval(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                                      pixel_values=pixels, use_itm_head=False).itm_score[0, 0]
                itm[c, i] = retrieval(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                                      pixel_values=pixels).itm_score[0, 1]
                ids = inputs.input_ids.clone()
                ids[0, 0] = enc
                itm_enc[c, i] = retrieval(input_ids=ids, attention_mask=inputs.attention_mask,
                                          pixel_values=pixels).itm_score[0, 1]
                swapped = processor.tokenizer(swaps.get(caption) or caption, return_tensors="pt")
                itc_swap[c, i] = retrieval(input_ids=swapped.input_ids, attention_mask=swapped.attention_mask,
                                           pixel_values=pixels, use_itm_head=False).itm_score[0, 0]
                target = [cfg.bos_token_id, *processor.tokenizer(caption, add_special_tokens=False).input_ids,
                          cfg.sep_token_id]
                logits = captioning(pixel_values=pixels, input_ids=torch.tensor([target])).logits[0, :-1]
                log_probs = logits.log_softmax(-1)
                clm_exact[c, i] = sum(log_probs[n, target[n + 1]].item() for n in range(len(target) - 1))
    rows = {"itc": itc, "itm_blip": itm_enc + itc, "itm": itm, "clm_exact": clm_exact,
            "contrastive_ratio": itc / itc_swap}
    return data, rows


def _brute_force_recall(itc, score, relevant, k, at):
    """Per query (row of the matrices): full sort by itc, top k re-sorted by score, hit within `at`."""
    flags = []
    for q in range(itc.shape[0]):
        first = sorted(range(itc.shape[1]), key=lambda x: -itc[q, x])  # Python's sort is stable
        top = sorted(first[:k], key=lambda x: -score[q, x])
        flags.append(bool(set((top + first[k:])[:at]) & set(relevant[q])))
    return 100 * np.mean(flags)


def test_recalls_equal_a_brute_force_computation(command, annotations, blip_paths, tmp_path):
    out = tmp_path / "out"
    done = run(command(out, "--rows", ROWS, "--batch-size", "3"))
    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())
    swaps_file = next(a for a in command(out) if a.endswith("swaps.json"))
    data, rows = _brute_force_scores(annotations, blip_paths, type(out)(swaps_file))
    changed = False
    for key, matrix in rows.items():
        for prefix, scores, itc, relevant in (
                ("txt", matrix.T, rows["itc"].T, data.image_captions),
                ("img", matrix, rows["itc"], [[i] for i in data.caption_image])):
            for at in (1, 5, 10):
                expected = round(_brute_force_recall(itc, scores, relevant, K, at), 2)
                assert results["rows"][key][f"{prefix}_r{at}"] == pytest.approx(expected, abs=1e-9), (key, prefix)
                changed |= expected != round(_brute_force_recall(itc, itc, relevant, K, at), 2)
    assert changed  # on this fixture re-ranking does change some recall
    queries = [json.loads(line) for line in (out / "queries.jsonl").read_text().splitlines()]
    assert [q["task"] for q in queries] == ["text_retrieval"] * 8 + ["image_retrieval"] * len(data.captions)
    image_query = queries[8 + 4]  # caption 4's candidate images, in first-stage order, with each row's scores
    expected_order = sorted(range(8), key=lambda i: -rows["itc"][4, i])[:K]
    assert image_query["candidates"] == expected_order
    np.testing.assert_allclose(image_query["scores"]["itm_blip"], rows["itm_blip"][4, expected_order], atol=1e-5)
    assert results["k"] == K and results["counts"]["captions"] == len(data.captions)
    assert {c["b"] for c in results["comparisons"]} == {"itc", "itm_blip"}
    low, high = results["rows"]["itm"]["interval95"]["img_r1"]
    assert low <= results["rows"]["itm"]["img_r1"] <= high


def test_kill_and_resume_gives_the_same_per_query_file(command, tmp_path, capsys):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    flags = ["--rows", "itc,itm_blip,clm", "--batch-size", "1", "--workers", "0"]
    run_command_in_process(command(whole, *flags), capsys)
    ready = tmp_path / "ready"
    proc = start_paused(command(killed, *flags), ready, after=2, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    paused_pid(ready, proc)  # two batches of pairs saved
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(list((killed / "pairs").glob("batch_*.npz"))) == 2 and not (killed / "queries.jsonl").exists()
    run_command_in_process(command(killed, *flags), capsys)
    assert (killed / "queries.jsonl").read_bytes() == (whole / "queries.jsonl").read_bytes()
    a, b = (json.loads((out / "results.json").read_text())["rows"] for out in (whole, killed))
    assert a == b


def test_bad_input_is_one_line(command, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"annotations": []}')
    done = run(command(tmp_path / "out", "--data", str(bad)))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "no annotation format" in done.stderr
    unknown = run(command(tmp_path / "out2", "--rows", "itc,foo"))
    assert unknown.returncode == 2 and "unknown row(s) foo" in unknown.stderr


def test_a_caption_added_to_the_annotations_is_refused(command, annotations, tmp_path):
    data = tmp_path / "annotations.json"
    entries = json.loads(annotations.read_text())
    data.write_text(json.dumps(entries))
    (tmp_path / "images").symlink_to(annotations.parent / "images")
    out = tmp_path / "out"
    assert run(command(out, "--data", str(data), "--rows", "itc")).returncode == 0
    entries[0]["caption"].append("one more caption")
    data.write_text(json.dumps(entries))
    done = run(command(out, "--data", str(data), "--rows", "itc"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith("(the content of --data changed since that run): pass "
                                                         "another --out, or delete that folder to start over")
