"""Seconds per Winoground example: the naive per-pair path vs this package vs the vision-only floor.

Builds random-weight models with the real checkpoints' shapes (BLIP large: ViT-L/16 at 384 px, BERT-base
text side with cross-attention, vocabulary 30524; DistilRoBERTa: 6 layers, vocabulary 50265), so nothing
is downloaded, and N synthetic examples. Workloads:
  exp1: contrastive + ITM + captioning loss for the four (caption, image) pairs of each example;
  exp3: the published word-swap search for both captions, then the captioning loss of T and T' on both
        images.
Paths:
  (a) naive: one full model forward per (caption, image) pair and, for the swap search, four MLM
      forwards per candidate pair, as the published code did;
  (b) package: this repository's scorers, each image encoded once (b+ adds the exact
      variants the experiment scripts also compute);
  (c) floor: only the vision forwards that (b) cannot avoid.
The package and floor paths run in alternating rounds and each keeps its fastest; the naive path runs once.

    python speed/throughput.py --workload exp1 --examples 2            # CPU
    python speed/throughput.py --workload exp3 --examples 400 --device cuda --dtype bfloat16
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import fastest_rounds, timed  # noqa: E402

from perturb.swap import IMPROVED, PUBLISHED, SwapCache, find_swaps, swapped_or_same  # noqa: E402
from scoring.batching import DTYPES, grid_pairs, grid_texts  # noqa: E402
from scoring.blip import BlipCaptioningScorer, BlipRetrievalScorer  # noqa: E402

WORDS = ("a the dog cat person tree house sky grass cup plate red blue green small big left right of on "
         "under above next to with and is more than two one chases holds sits stands").split()


def synthetic_examples(n: int, seed: int = 0) -> list[dict]:
    """Winoground-shaped examples: two noise images, two captions of the same words in another order."""
    rng = np.random.default_rng(seed)
    examples = []
    for k in range(n):
        words = list(rng.choice(WORDS, size=int(rng.integers(6, 12))))
        other = list(words)
        i, j = rng.choice(len(words), size=2, replace=False)
        other[i], other[j] = other[j], other[i]
        images = [Image.fromarray(rng.integers(0, 256, size=(384, 512, 3), dtype=np.uint8)) for _ in range(2)]
        examples.append({"id": k, "caption_0": " ".join(words), "caption_1": " ".join(other),
                         "image_0": images[0], "image_1": images[1]})
    return examples


def build_models(folder: Path, device, dtype):
    """Random BLIP-large-shaped captioning and retrieval models and a DistilRoBERTa-shaped MLM."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        BertTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipForImageTextRetrieval,
        BlipImageProcessorPil,
        BlipProcessor,
        RobertaConfig,
        RobertaForMaskedLM,
        RobertaTokenizerFast,
    )

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    vocab += [f"filler{k}" for k in range(30522 - len(vocab))] + ["[DEC]", "[ENC]"]
    tokenizer = BertTokenizer(vocab={t: i for i, t in enumerate(vocab)}, bos_token="[DEC]")
    processor = BlipProcessor(image_processor=BlipImageProcessorPil(), tokenizer=tokenizer)
    config = BlipConfig(
        text_config=dict(vocab_size=30524, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                         intermediate_size=3072, encoder_hidden_size=1024, bos_token_id=30522, sep_token_id=3,
                         pad_token_id=0),
        vision_config=dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                           image_size=384, patch_size=16, initializer_range=0.02),
        image_text_hidden_size=256)
    torch.manual_seed(0)
    with torch.device(device):
        clm = BlipForConditionalGeneration(config).to(dtype).eval().requires_grad_(False)
        itm = BlipForImageTextRetrieval(config).to(dtype).eval().requires_grad_(False)
    clm.text_decoder.label_smoothing = 0.1  # what the published transformers release hard-coded

    # Every word one token, at a caption's start and after a space, as in DistilRoBERTa's 50K vocabulary;
    # the search's cost grows with the square of the token count, so a fragmenting vocabulary would inflate it.
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([f"{w} {w}" for w in WORDS] * 8, vocab_size=1000,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(folder))
    mlm_tokenizer = RobertaTokenizerFast(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"))
    with torch.device(device):
        mlm = RobertaForMaskedLM(RobertaConfig(vocab_size=50265, hidden_size=768, num_hidden_layers=6,
                                               num_attention_heads=12, intermediate_size=3072,
                                               max_position_embeddings=514, pad_token_id=1, type_vocab_size=1))
    mlm = mlm.to(dtype).eval().requires_grad_(False)
    return clm, itm, processor, mlm, mlm_tokenizer


def naive_published_swap(mlm, tok, caption: str) -> str:
    """The published search one candidate pair at a time: four full MLM forwards per ordered pair."""
    ids = tok(caption).input_ids
    device = next(mlm.parameters()).device
    special = set(tok.all_special_ids)
    pos = [k for k, t in enumerate(ids) if t not in special]
    best, best_value = None, -2.0

    def logit(at, token, put=None):  # MLM logit of token at `at`, masked, after writing put = (position, token)
        s = list(ids)
        if put:
            s[put[0]] = put[1]
        s[at] = tok.mask_token_id
        return mlm(input_ids=torch.tensor([s], device=device)).logits[0, at, token].float()

    for i1 in pos:
        for i2 in pos:
            if i1 == i2 or ids[i1] == ids[i2]:
                continue
            t1, t2 = ids[i1], ids[i2]
            a, b = logit(i1, t1), logit(i1, t2, (i2, t1))
            c, d = logit(i2, t2), logit(i2, t1, (i1, t2))
            p = torch.softmax(torch.stack([a + c, b + d]), 0)
            value = (p[1] - p[0]).item()
            if value > best_value:
                best, best_value = (i1, i2), value
    if best is None:
        return caption
    ids[best[0]], ids[best[1]] = ids[best[1]], ids[best[0]]
    return tok.decode(ids, skip_special_tokens=True)


@torch.no_grad()
def naive(workload, examples, clm, itm, processor, mlm, mlm_tok, device, dtype):
    for ex in examples:
        captions = [ex["caption_0"], ex["caption_1"]]
        texts = captions
        if workload == "exp3":
            texts = captions + [naive_published_swap(mlm, mlm_tok, c) for c in captions]
        for text in texts:
            for image in (ex["image_0"], ex["image_1"]):
                inputs = processor(images=image, text=text, return_tensors="pt").to(device)
                pixels = inputs.pixel_values.to(dtype)
                if workload == "exp1":
                    itm(input_ids=inputs.input_ids, pixel_values=pixels, use_itm_head=False)
                    itm(input_ids=inputs.input_ids, pixel_values=pixels)
                ids = inputs.input_ids[:, :-1]
                clm(pixel_values=pixels, input_ids=ids, labels=ids).loss.item()


def package(workload, examples, clm, itm, processor, mlm, mlm_tok, device, dtype, batch_size, full, swap_cache=None):
    clm, itm = BlipCaptioningScorer(clm, processor, "clm"), BlipRetrievalScorer(itm, processor, "itm")
    for first in range(0, len(examples), batch_size):
        chunk = examples[first:first + batch_size]
        images = [ex[f"image_{i}"] for ex in chunk for i in (0, 1)]
        captions = [ex[f"caption_{c}"] for ex in chunk for c in (0, 1)]
        if workload == "exp1":
            t, i = grid_pairs(len(chunk), 2)
            features = itm.encode(itm.preprocess(images))
            itm.score_heads(features, captions, t, i, ["contrastive", "itm"])
            features = clm.encode(clm.preprocess(images))
            out = clm.score_heads(features, captions, t, i, ["clm", "clm_exact"] if full else ["clm"])
        else:
            t, i = grid_pairs(len(chunk), 4)
            features = clm.encode(clm.preprocess(images))
            swaps = find_swaps(mlm, mlm_tok, captions, PUBLISHED, cache=swap_cache)
            out = {"clm": clm.score(features, grid_texts(captions, swapped_or_same(captions, swaps)), t, i, "clm")}
            if full:
                swaps = find_swaps(mlm, mlm_tok, captions, IMPROVED, cache=swap_cache)
                texts = grid_texts(captions, swapped_or_same(captions, swaps))
                out["clm_exact"] = clm.score(features, texts, t, i, "clm_exact")
        for scores in out.values():
            scores.cpu()  # waits for the device, so the time includes its work


def floor(workload, examples, clm, itm, processor, device, dtype, batch_size):
    scorers = [BlipCaptioningScorer(clm, processor, "clm")]
    if workload == "exp1":
        scorers.insert(0, BlipRetrievalScorer(itm, processor, "itm"))
    for first in range(0, len(examples), batch_size):
        images = [ex[f"image_{i}"] for ex in examples[first:first + batch_size] for i in (0, 1)]
        pixels = scorers[0].preprocess(images)
        for scorer in scorers:
            scorer.encode(pixels).cpu()


def peak_memory(fn, device):
    """fn, returning the peak memory in GiB of its call (GPU allocations on CUDA, the process's peak RSS on the CPU)."""
    def run() -> float:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            fn()
            return torch.cuda.max_memory_allocated() / 2**30
        fn()
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return run


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workload", choices=["exp1", "exp3"], default="exp1")
    p.add_argument("--examples", type=int, default=2, help="synthetic examples for the package and floor paths")
    p.add_argument("--naive-examples", type=int, default=None,
                   help="examples for the naive path (default: same); per-example time is what is compared")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--repeats", type=int, default=2,
                   help="rounds of the package and floor paths, alternating; each keeps its fastest (naive runs once)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    with tempfile.TemporaryDirectory() as tmp:
        clm, itm, processor, mlm, mlm_tok = build_models(Path(tmp), device, dtype)
    examples = synthetic_examples(args.examples)
    n_naive = args.naive_examples or args.examples
    models = (clm, itm, processor, mlm, mlm_tok, device, dtype)

    # Warm-up on one example so one-time costs (kernel selection, allocator growth) are not timed.
    package(args.workload, examples[:1], *models, args.batch_size, full=True)
    cache = SwapCache(None)
    if args.workload == "exp3":
        captions = [ex[f"caption_{c}"] for ex in examples for c in (0, 1)]
        find_swaps(mlm, mlm_tok, captions, PUBLISHED, cache=cache)
    paths = {
        "(c) floor: vision forwards only": lambda: floor(args.workload, examples, clm, itm, processor, device, dtype,
                                                         args.batch_size),
        "(b) package": lambda: package(args.workload, examples, *models, args.batch_size, full=False),
        "(b+) package, with exact variants": lambda: package(args.workload, examples, *models, args.batch_size,
                                                             full=True),
        **({} if args.workload == "exp1" else {
            # T' already in the swap cache, as when experiment 3 runs after experiment 2 (the README's order).
            "(b, T' cached) package after experiment 2": lambda: package(args.workload, examples, *models,
                                                                         args.batch_size, full=False,
                                                                         swap_cache=cache)}),
    }
    rows = fastest_rounds({name: peak_memory(path, device) for name, path in paths.items()}, device, args.repeats)
    rows["(a) naive, per pair"] = timed(peak_memory(lambda: naive(args.workload, examples[:n_naive], *models),
                                                    device), device)
    per_example = {k: s / (n_naive if k.startswith("(a)") else len(examples)) for k, (s, _) in rows.items()}
    memory = "peak GPU memory GiB" if device.type == "cuda" else "peak RSS GiB (process, cumulative)"
    print(f"workload {args.workload}, {len(examples)} examples ({n_naive} naive), {device}, {args.dtype}, "
          f"batch size {args.batch_size}, torch threads {torch.get_num_threads()}, fastest of {args.repeats} rounds")
    print(f"| path | s / example | {memory} |\n|---|---:|---:|")
    for k, (_, mem) in rows.items():
        print(f"| {k} | {per_example[k]:.3f} | {mem:.2f} |")
    a, b, b_plus, c = (per_example[k] for k in ("(a) naive, per pair", "(b) package",
                                                "(b+) package, with exact variants", "(c) floor: vision forwards only"))
    print(f"\na/b = {a / b:.2f}   b/c = {b / c:.2f}   (b+)/c = {b_plus / c:.2f}")
    if args.workload == "exp3":
        cached = per_example["(b, T' cached) package after experiment 2"]
        print(f"(b, T' cached)/c = {cached / c:.2f}")


if __name__ == "__main__":
    main()
