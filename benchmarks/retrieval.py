"""Image-text retrieval test sets (Flickr30K 1K, COCO 5K Karpathy test splits): loader, BLIP's recalls, quoted rows.

`load_retrieval` reads a local annotation file, in BLIP's/LAVIS's format (a JSON list of
`{"image": path relative to the image root, "caption": [captions]}`) or Karpathy's (`{"images": [{
"filepath", "filename", "split", "sentences": [{"raw"}]}]}`, test split), or a hub dataset with an
`image` column and a `caption` list column (parquet files, or the hub's parquet conversion of a
script-based dataset such as nlphuji/flickr_1k_test_image_text_retrieval). Images are numbered in
annotation order and captions in annotation order, image-major. Captions are cleaned as BLIP's
evaluation cleans them (`pre_caption`). Every image file is checked before any model work, and the
missing or unreadable ones are named in one line.

Recalls follow BLIP's `itm_eval`: text retrieval (an image query) is right at K when the best-ranked
of the image's captions is within the first K; image retrieval (a caption query) when its image is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import datasets
import numpy as np

from benchmarks.data import check_caption, check_unique, data_fingerprint
from benchmarks.hub import PARQUET_CONVERSION, Hub, HuggingFaceHub
from benchmarks.images import ImageTooLarge, check_image
from common.errors import InputError, first_line
from common.fingerprints import digest

FLICKR = "nlphuji/flickr_1k_test_image_text_retrieval"
COCO = "nlphuji/mscoco_2014_5k_test_image_text_retrieval"
RECALL_KS = (1, 5, 10)
METRICS = ("txt_r1", "txt_r5", "txt_r10", "txt_r_mean", "img_r1", "img_r5", "img_r10", "img_r_mean", "r_mean")
RECALL_COLUMNS = [f"{p}_r{k}" for p in ("txt", "img") for k in RECALL_KS]
TASKS = {"txt": "text_retrieval", "img": "image_retrieval"}  # BLIP's metric prefix -> the query task


def pre_caption(caption: str, max_words: int = 30) -> str:
    """BLIP's caption cleaning for retrieval: lowercase, drop .!"()*#:;~, squeeze spaces, at most 30 words."""
    caption = re.sub(r"([.!\"()*#:;~])", " ", caption.lower())
    caption = re.sub(r"\s{2,}", " ", caption).rstrip("\n").strip(" ")
    words = caption.split(" ")
    return " ".join(words[:max_words]) if len(words) > max_words else caption


@dataclass
class RetrievalData:
    images: datasets.Dataset  # one column "image" (undecoded: a path, or bytes), one row per image
    captions: list[str]  # cleaned, image-major
    caption_image: list[int]  # the image each caption describes
    source: str = ""  # the annotation file or hub id, for messages
    root: Path | None = None  # the folder local image paths are relative to

    @property
    def image_captions(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in range(len(self.images))]
        for c, i in enumerate(self.caption_image):
            out[i].append(c)
        return out


def load_retrieval(source: str, image_root: str | None = None, limit: int | None = None, *,
                   hub: Hub | None = None, check: bool = True) -> RetrievalData:
    """A retrieval test set from a local annotation JSON file or a hub dataset id; `limit` keeps the first images.

    Captions must be non-empty strings, also after BLIP's cleaning, and each image is listed once. With
    `check`, every image file is checked before any model work (`check_retrieval_images` does it later).
    """
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be a positive number of images, got {limit}")
    path = Path(source).expanduser()
    if path.exists() or source.startswith((".", "/", "~")) or source.endswith(".json"):
        if not path.is_file():
            raise InputError(f"{source} is not a file: pass an annotation JSON file (BLIP's or Karpathy's format) "
                             f"or a hub dataset id")
        root = Path(image_root).expanduser() if image_root else path.parent
        entries = _read_annotations(path)[:limit]
        files = [root / rel for rel, _ in entries]
        images = datasets.Dataset.from_dict({"image": [{"bytes": None, "path": str(f.resolve())} for f in files]},
                                            features=datasets.Features({"image": datasets.Image(decode=False)}))
        data = _retrieval_data(images, [captions for _, captions in entries], str(path))
        data.root = root
    else:
        data = _from_hub(source, limit, hub or HuggingFaceHub())
    if check:
        check_retrieval_images(data)
    return data


def check_retrieval_images(data: RetrievalData) -> None:
    """Check every image file without decoding it; all the missing or unreadable ones are named in one line."""
    bad = []
    for k, row in enumerate(data.images):
        stored = row["image"]
        try:
            content = stored["bytes"] if stored["bytes"] is not None else Path(stored["path"]).read_bytes()
            check_image(content, stored["path"] or f"image {k} of {data.source}")
        except ImageTooLarge:
            raise
        except (OSError, InputError):
            bad.append(k)
    if bad:
        names = [_shown_name(data, k) for k in bad[:5]]
        shown = ", ".join(names) + (", ..." if len(bad) > 5 else "")
        where = f"under {data.root}" if data.root else f"of {data.source}"
        raise InputError(f"{len(bad)} of {len(data.images)} images {where} are missing or unreadable ({shown}): "
                         f"pass the folder that holds them with --image-root")


def _shown_name(data: RetrievalData, k: int) -> str:
    path = data.images[k]["image"]["path"]
    if data.root and path and Path(path).is_relative_to(Path(data.root).resolve()):
        return str(Path(path).relative_to(Path(data.root).resolve()))
    return path or f"image {k}"


def retrieval_fingerprint(data: RetrievalData) -> str:
    """What a run on this data scored: every image (see benchmarks/data.py) and every caption with its image."""
    return "data:" + digest(data_fingerprint(data.images, ["image"]), data.captions, data.caption_image)


def _read_annotations(path: Path) -> list[tuple[str, list[str]]]:
    """(image path relative to the root, raw captions) per image, in annotation order."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read {path} as JSON ({first_line(e)}): pass BLIP's or Karpathy's annotation file")
    fmt = ("use BLIP's format, a list of {\"image\": relative path, \"caption\": [captions]}, or Karpathy's, "
           "{\"images\": [{\"filepath\", \"filename\", \"split\", \"sentences\": [{\"raw\"}]}]}")
    try:
        if isinstance(data, list):
            entries = [(e["image"], [e["caption"]] if isinstance(e["caption"], str) else list(e["caption"]))
                       for e in data]
        elif isinstance(data, dict) and "images" in data:
            entries = [(str(Path(e.get("filepath", "")) / e["filename"]), [s["raw"] for s in e["sentences"]])
                       for e in data["images"] if e["split"] == "test"]
        else:
            raise InputError(f"{path} is in no annotation format this loader knows: {fmt}")
    except (KeyError, TypeError) as e:
        raise InputError(f"{path} lacks the field {first_line(e)} in an entry: {fmt}") from None
    if not entries:
        raise InputError(f"{path} holds no test images: {fmt}")
    for rel, captions in entries:
        if not captions:
            raise InputError(f"{path}: image {rel} has no captions: {fmt}")
        for c in captions:
            check_caption(c, f"{path}: a caption of image {rel}")
    check_unique([rel for rel, _ in entries], str(path), "the image(s)",
                 "each image must be listed once, so merge its entries' captions into one entry")
    return entries


def _retrieval_data(images: datasets.Dataset, captions: Sequence[Sequence[str]], source: str) -> RetrievalData:
    cleaned = [pre_caption(c) for per_image in captions for c in per_image]
    caption_image = [i for i, per_image in enumerate(captions) for _ in per_image]
    empty = [c for c, text in enumerate(cleaned) if not text]
    if empty:
        raise InputError(f"{source}: caption {empty[0]} of image {caption_image[empty[0]]} is empty after BLIP's "
                         f"cleaning (punctuation only): fix or remove it")
    return RetrievalData(images, cleaned, caption_image, source)


def _from_hub(repo_id: str, limit: int | None, hub: Hub) -> RetrievalData:
    files = [f for f in hub.list_files(repo_id, None) if f.endswith(".parquet")]
    revision = None
    if not files:
        revision = PARQUET_CONVERSION
        files = [f for f in hub.list_files(repo_id, revision) if f.endswith(".parquet")]
    test = sorted(f for f in files if "test" in Path(f).parts or Path(f).name.startswith("test")) or sorted(files)
    if not test:
        raise InputError(f"{repo_id} has no parquet files or parquet conversion: pass a local annotation file "
                         f"(BLIP's or Karpathy's format) and --image-root")
    try:
        ds = datasets.Dataset.from_parquet([hub.download(repo_id, f, revision) for f in test])
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001
        raise InputError(f"cannot read the parquet files of {repo_id} ({first_line(e)})") from None
    missing = [c for c in ("image", "caption") if c not in ds.column_names]
    if missing:
        raise InputError(f"{repo_id} lacks the column(s) {', '.join(missing)}: a retrieval set needs an image column "
                         f"and a caption column holding each image's captions")
    if "split" in ds.column_names:
        ds = ds.filter(lambda split: split == "test", input_columns="split")
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    images = ds.select_columns(["image"]).cast_column("image", datasets.Image(decode=False))
    captions = [[c] if isinstance(c, str) else list(c or []) for c in ds["caption"]]
    for k, per_image in enumerate(captions):
        for c in per_image or [None]:
            check_caption(c, f"a caption of image {k} of {repo_id}")
    return _retrieval_data(images, captions, repo_id)


# --- ranking and recall --------------------------------------------------------------------------------

def first_stage_order(similarity: np.ndarray, depth: int) -> np.ndarray:
    """Per query (row), the first `depth` candidates by descending similarity, ties by candidate index."""
    order = np.argsort(-similarity, axis=1, kind="stable")
    return order[:, :depth]


def reranked(candidates: np.ndarray, scores: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """The top-k candidates of each query sorted by a row's scores (ties keep first-stage order)."""
    key = -scores if higher_is_better else scores
    return np.take_along_axis(candidates, np.argsort(key, axis=1, kind="stable"), axis=1)


def hits(ranking: np.ndarray, relevant: Sequence[Sequence[int]], k: int) -> np.ndarray:
    """Per query: is any of its relevant candidates among the first k of `ranking` (the final order's head)?"""
    head = ranking[:, :k]
    return np.array([bool(np.isin(head[q], relevant[q]).any()) for q in range(len(head))])


def recalls(text_hits: dict[int, np.ndarray], image_hits: dict[int, np.ndarray]) -> dict[str, float]:
    """BLIP's recall keys from per-query hit flags at K = 1, 5, 10, in percent."""
    out = {f"txt_r{k}": 100.0 * float(text_hits[k].mean()) for k in RECALL_KS}
    out |= {f"img_r{k}": 100.0 * float(image_hits[k].mean()) for k in RECALL_KS}
    out["txt_r_mean"] = sum(out[f"txt_r{k}"] for k in RECALL_KS) / 3
    out["img_r_mean"] = sum(out[f"img_r{k}"] for k in RECALL_KS) / 3
    out["r_mean"] = (out["txt_r_mean"] + out["img_r_mean"]) / 2
    return {k: round(out[k], 2) for k in METRICS}


# --- rows quoted from the literature, never computed --------------------------------------------------

# BLIP (Li et al., 2022, arXiv 2201.12086), ViT-L pre-trained on 129M images: Table 5 (COCO 5K, fine-tuned)
# and Table 6 (Flickr30K 1K, zero-shot with the COCO-finetuned model); recall@1 / 5 / 10, text then image.
PAPER = {label: dict(zip(RECALL_COLUMNS, values)) for label, values in {
    "BLIP ViT-L, COCO 5K fine-tuned (paper, Table 5)": (82.4, 95.4, 97.9, 65.1, 86.3, 91.8),
    "BLIP ViT-L, Flickr30K zero-shot from COCO (paper, Table 6)": (96.7, 100.0, 100.0, 86.7, 97.3, 98.7)}.items()}
