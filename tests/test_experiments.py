"""The three scripts end to end, as subprocesses on the tiny models and the drawn Winoground folder."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
import torch
from fixtures import ROOT
from scripts import (
    env,
    paused_pid,
    read_records,
    run,
    run_command_in_process,
    run_in_process,
    start_paused,
    table_row,
    winoground,
)
from transformers import BlipForConditionalGeneration, BlipForImageTextRetrieval, BlipProcessor

from benchmarks.winoground import load_winoground

METHOD_DIRECTIONS = {
    "experiment1": {"contrastive": True, "itm": True, "itm_logprob": True, "itm_enc_logprob": True, "clm": False,
                    "clm_exact": True},
    "experiment2": {"contrastive": True, "itm": True, "contrastive_ratio": True, "itm_ratio": True,
                    "contrastive_ratio_improved": True, "itm_ratio_improved": True, "itm_enc_ratio_improved": True},
    "experiment3": {"clm": False, "clm_exact": True, "clm_ratio": False, "clm_ratio_improved": True},
}
PUBLISHED_IMAGE = {"experiment1": {"clm": "29.00", "itm": "24.25", "contrastive": "13.50"},
                   "experiment2": {"contrastive": "13.50", "itm": "24.25", "contrastive_ratio": "52.00",
                                   "itm_ratio": "32.75"},
                   "experiment3": {"clm": "29.00", "clm_ratio": "50.25"}}


@pytest.mark.parametrize("experiment", ["experiment1", "experiment2", "experiment3"])
def test_results_match_recomputed_metrics_and_printed_table(cli, tmp_path, experiment, winoground_dir):
    out = tmp_path / "out"
    done = run(cli(experiment, out))
    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())
    records = read_records(out)
    assert [r["id"] for r in records] == list(range(10)) and results["n_examples"] == 10
    assert results["config"]["seed"] == 0 and "transformers" in results["versions"]
    assert {k: m["higher_is_better"] for k, m in results["rows"].items()} == METHOD_DIRECTIONS[experiment]
    for key, row in results["rows"].items():
        expected = winoground(records, key, row["higher_is_better"])
        assert {k: row[k] for k in ("text", "image", "group")} == expected, key
        cells = dict(zip(table_row(done.stdout, "Row"), table_row(done.stdout, row["label"])))
        assert [cells[k].split(" [")[0] for k in ("text", "image", "group")] == [f"{expected[k]:.2f}"
                                                                                for k in ("text", "image", "group")]
        assert cells.get("published image", "-") == PUBLISHED_IMAGE[experiment].get(key, "-")
        low, high = row["interval95"]["image"]
        assert low <= row["image"] <= high
    assert "(reference)" in done.stdout and "wall time" in done.stdout


# Example 4's caption_0 has different published and improved T' on the test MLM, so these checks can
# tell which T' each ratio used.
RATIO_EXAMPLE = 4


def _ratio_example(cli, tmp_path, experiment, winoground_dir):
    out = tmp_path / "out"
    assert run(cli(experiment, out, "--limit", str(RATIO_EXAMPLE + 1))).returncode == 0
    r = read_records(out)[RATIO_EXAMPLE]
    assert None not in (r["swap_0"], r["swap_improved_0"]) and r["swap_0"] != r["swap_improved_0"]
    return r, load_winoground(str(winoground_dir), limit=RATIO_EXAMPLE + 1)[RATIO_EXAMPLE]


def _pair_forward(model, processor, image, text, **kwargs):
    """One plain transformers forward of the retrieval model on one pair, as a user would write it."""
    inputs = processor(images=image, text=text, return_tensors="pt")
    with torch.no_grad():
        return model(input_ids=inputs.input_ids, attention_mask=inputs.attention_mask,
                     pixel_values=inputs.pixel_values, **kwargs).itm_score[0]


def test_experiment2_ratios_use_the_recorded_swaps(cli, tmp_path, blip_paths, winoground_dir):
    r, ex = _ratio_example(cli, tmp_path, "experiment2", winoground_dir)
    model = BlipForImageTextRetrieval.from_pretrained(blip_paths["itm"]).eval()
    processor = BlipProcessor.from_pretrained(blip_paths["itm"])
    texts = [r["caption_0"], r["swap_0"], r["swap_improved_0"]]
    sim = torch.stack([_pair_forward(model, processor, ex["image_1"], t, use_itm_head=False)[0] for t in texts])
    logits = torch.stack([_pair_forward(model, processor, ex["image_1"], t) for t in texts])
    log_p = logits.log_softmax(-1)[:, 1]
    # The two T' must score differently, or these checks could not tell which one a ratio used.
    assert abs(sim[1] - sim[2]) > 1e-4 and abs(logits[1, 1] - logits[2, 1]) > 1e-4 and abs(log_p[1] - log_p[2]) > 1e-4
    assert r["contrastive_ratio"]["c0_i1"] == pytest.approx((sim[0] / sim[1]).item(), rel=1e-4)
    assert r["itm_ratio"]["c0_i1"] == pytest.approx((logits[0, 1] / logits[1, 1]).item(), rel=1e-4)
    assert r["contrastive_ratio_improved"]["c0_i1"] == pytest.approx((sim[0] - sim[2]).item(), abs=1e-5)
    assert r["itm_ratio_improved"]["c0_i1"] == pytest.approx((log_p[0] - log_p[2]).item(), abs=1e-5)


def test_experiment3_ratios_use_the_recorded_swaps(cli, tmp_path, blip_paths, winoground_dir):
    r, ex = _ratio_example(cli, tmp_path, "experiment3", winoground_dir)
    model = BlipForConditionalGeneration.from_pretrained(blip_paths["clm"]).eval()
    processor = BlipProcessor.from_pretrained(blip_paths["clm"])
    pixels = processor(images=ex["image_0"], return_tensors="pt").pixel_values
    ids = processor.tokenizer(r["swap_0"], return_tensors="pt").input_ids[:, :-1]  # [CLS] tokens, [SEP] dropped
    cfg = model.config.text_config
    swap_ids = processor.tokenizer(r["swap_improved_0"], add_special_tokens=False).input_ids
    exact = torch.tensor([[cfg.bos_token_id, *swap_ids, cfg.sep_token_id]])
    with torch.no_grad():
        model.text_decoder.label_smoothing = 0.1  # what the published loss used
        loss_swap = model(pixel_values=pixels, input_ids=ids, labels=ids).loss
        log_probs = model(pixel_values=pixels, input_ids=exact).logits[0, :-1].log_softmax(-1)
    ll_swap = sum(log_probs[k, exact[0, k + 1]] for k in range(exact.shape[1] - 1))
    assert r["clm_ratio"]["c0_i0"] == pytest.approx(r["clm"]["c0_i0"] / loss_swap.item(), rel=1e-4)
    assert r["clm_ratio_improved"]["c0_i0"] == pytest.approx(r["clm_exact"]["c0_i0"] - ll_swap.item(), abs=1e-4)


def test_experiment2_with_clip_has_only_contrastive_rows(cli, tmp_path, clip_path):
    out = tmp_path / "out"
    done = run(cli("experiment2", out, "--itm-model", str(clip_path)))
    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())
    assert list(results["rows"]) == ["contrastive", "contrastive_ratio", "contrastive_ratio_improved"]
    assert results["models"]["itm"] == {"name_or_path": str(clip_path), "family": "clip",
                                        "rows": ["contrastive", "contrastive_ratio", "contrastive_ratio_improved"]}
    records = read_records(out)
    for key, row in results["rows"].items():
        assert {k: row[k] for k in ("text", "image", "group")} == winoground(records, key, True)
        assert "published" not in row  # the published numbers are BLIP's
    assert "published image" not in table_row(done.stdout, "Row")  # no row has a published number
    assert table_row(done.stdout, "DistilRoBERTa + CLIP contrastive head score ratios (as published)")
    assert "ITM" not in done.stdout and "rows contrastive, contrastive_ratio, contrastive_ratio_improved: --itm-model" \
        in done.stdout
    assert "itm" not in records[0] and "contrastive_ratio" in records[0]


def test_experiment3_with_blip2_has_the_exact_rows(cli, tmp_path, blip2_opt_path):
    out = tmp_path / "out"
    done = run(cli("experiment3", out, "--clm-model", str(blip2_opt_path), "--limit", "4"))
    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())
    assert list(results["rows"]) == ["clm_exact", "clm_ratio_improved"]
    assert results["models"]["clm"]["family"] == "blip2-captioning"
    assert [c["a"] for c in results["comparisons"]] == ["clm_ratio_improved"]
    assert "BLIP-2 causal-LM head (exact)" in done.stdout


def test_two_runs_are_identical(cli, tmp_path, capsys):
    runs = [tmp_path / "a", tmp_path / "b"]
    for out in runs:
        run_command_in_process(cli("experiment3", out), capsys)
    a, b = (json.loads((out / "results.json").read_text()) for out in runs)
    assert a["rows"] == b["rows"] and a["comparisons"] == b["comparisons"]
    assert (runs[0] / "examples.jsonl").read_text() == (runs[1] / "examples.jsonl").read_text()


def test_resume_after_kill_equals_uninterrupted_run(cli, tmp_path, capsys):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    run_command_in_process(cli("experiment1", whole, "--batch-size", "1"), capsys)
    ready = tmp_path / "ready"
    proc = start_paused(cli("experiment1", killed, "--batch-size", "1"), ready, after=2,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    paused_pid(ready, proc)  # two examples saved
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    examples = killed / "examples.jsonl"
    assert examples.read_text().count("\n") == 2
    with open(examples, "a") as f:
        f.write('{"id": 9, "contrastive": {"c0_')  # a line cut off by the kill
    run_command_in_process(cli("experiment1", killed, "--batch-size", "1"), capsys)
    assert (killed / "examples.jsonl").read_text() == (whole / "examples.jsonl").read_text()
    a, b = (json.loads((out / "results.json").read_text()) for out in (whole, killed))
    assert a["rows"] == b["rows"]


def test_other_arguments_on_the_same_out_are_refused(cli, tmp_path, capsys):
    out = tmp_path / "out"
    run_command_in_process(cli("experiment1", out, "--limit", "2"), capsys)
    refused = run(cli("experiment1", out, "--limit", "2", "--seed", "1"))
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "seed differ" in refused.stderr and "Traceback" not in refused.stderr


def test_bad_data_folder_is_one_line(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    done = run(cli("experiment1", tmp_path / "out", "--data", str(tmp_path / "empty")))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    missing = tmp_path / "empty" / "examples.jsonl"
    assert done.stderr.strip().splitlines() == [
        f"error: {missing} not found: a local Winoground folder needs examples.jsonl and images/"]


def test_readme_smoke_run_works_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Smoke run without downloads", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.replace("/tmp/tiny", str(tmp_path)) for line in block.strip().splitlines()]
    assert len(commands) == 9 and commands[0].startswith("python tests/fixtures.py")
    for command in commands:
        command = command.replace("python ", f"{sys.executable} ", 1)
        done = subprocess.run(command, shell=True, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
    for name in ("experiment1", "experiment2", "experiment3", "experiment2-clip", "experiment5"):
        assert json.loads((tmp_path / name / "results.json").read_text())["n_examples"] == 10
    clip_rows = json.loads((tmp_path / "experiment2-clip" / "results.json").read_text())["rows"]
    assert list(clip_rows) == ["contrastive", "contrastive_ratio", "contrastive_ratio_improved"]
    for name in ("experiment1", "experiment2", "experiment3"):  # written by the summarize command
        assert all((tmp_path / name / f).exists() for f in ("scores.png", "groups.png", "examples.html"))
    retrieval = json.loads((tmp_path / "experiment4" / "results.json").read_text())
    assert list(retrieval["rows"]) == ["itc", "itm_blip", "itm", "clm_exact", "clm_ratio_improved"]
    assert retrieval["counts"]["images"] == 8 and (tmp_path / "experiment4" / "queries.jsonl").exists()
    assert all((tmp_path / "experiment4" / f).exists() for f in ("recalls.png", "queries.html"))
    assert "clm_prior_cv" in json.loads((tmp_path / "experiment5" / "results.json").read_text())["rows"]


def test_help_explains_every_flag(capsys):
    for experiment, flags in (("experiment1", ["--clm-model", "--itm-model"]), ("experiment2", ["--itm-model",
                              "--mlm-model"]), ("experiment3", ["--clm-model", "--mlm-model"]),
                             ("experiment5", ["--clm-model", "--itm-model", "--vqa-model", "--mlm-model",
                                              "--null-images", "--prior-cache"])):
        capsys.readouterr()
        run_in_process(f"{experiment}.py", ["--help"], capsys)
        shown = capsys.readouterr().out
        for flag in ["--data", "--device", "--dtype", "--batch-size", "--limit", "--seed", "--out", *flags]:
            assert flag in shown, (experiment, flag)
