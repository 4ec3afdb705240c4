"""Winoground (Thrush et al., CVPR 2022): its loader, its Text / Image / Group metric, its quoted rows.

`load_winoground` returns a `datasets.Dataset` with the columns of Winoground (id, image_0, image_1,
caption_0, caption_1, tag, secondary_tag, num_main_preds, collapsed_tag) whose images decode as RGB PIL
images. The hub repo has changed layout over time, so the loader asks the hub which files exist and
takes the first layout present (see `_choose_layout`); it never runs the repo's loading script.

The metric reads an example's 2x2 grid of scores, `scores[n, c, i]` = s(caption_c, image_i), with strict
comparisons so that ties count as wrong:
    text correct:  s(c0,i0) > s(c1,i0) and s(c1,i1) > s(c0,i1)
    image correct: s(c0,i0) > s(c0,i1) and s(c1,i1) > s(c1,i0)
    group correct: both.
For a score where lower is better (a loss) every > becomes <.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import datasets
import numpy as np

from benchmarks import vqascore
from benchmarks.data import check_caption, check_unique
from benchmarks.formats import (
    CAPTION,
    FILE,
    INTEGER,
    TEXT,
    Field,
    Format,
    RepeatedKey,
    check_whole_lines,
    problem_line,
    unique_keys,
)
from benchmarks.grids import check_grid_images
from benchmarks.hub import PARQUET_CONVERSION, Hub, HuggingFaceHub
from benchmarks.visualgptscore import quoted
from common.errors import InputError, first_line

DEFAULT_SOURCE = "facebook/winoground"

COLUMNS = ("id", "image_0", "image_1", "caption_0", "caption_1", "tag", "secondary_tag", "num_main_preds",
           "collapsed_tag")
# examples.jsonl, one object per line; images/<image_k>.png hold the images.
LINE = Format("Winoground's examples.jsonl", (
    Field("id", INTEGER, id=True), Field("image_0", FILE, image=True), Field("image_1", FILE, image=True),
    Field("caption_0", CAPTION), Field("caption_1", CAPTION), Field("tag", TEXT), Field("secondary_tag", TEXT),
    Field("num_main_preds", INTEGER), Field("collapsed_tag", TEXT)), layout="lines")
FEATURES = datasets.Features({
    "id": datasets.Value("int64"),
    "image_0": datasets.Image(mode="RGB"),
    "image_1": datasets.Image(mode="RGB"),
    "caption_0": datasets.Value("string"),
    "caption_1": datasets.Value("string"),
    "tag": datasets.Value("string"),
    "secondary_tag": datasets.Value("string"),
    "num_main_preds": datasets.Value("int64"),
    "collapsed_tag": datasets.Value("string"),
})


def load_winoground(source: str = DEFAULT_SOURCE, limit: int | None = None, *, hub: Hub | None = None,
                    check: bool = True) -> datasets.Dataset:
    """Load Winoground's test split (the first `limit` examples if given) from a hub id or a local folder.

    A local folder holds `examples.jsonl` and `images/<stem>.png` (the hub's original file layout).
    Captions must be non-empty strings and ids unique. With `check`, every image file is checked here
    (structure and checksums, without decoding; see `benchmarks.images.check_image`) so that an unreadable
    file fails now, naming the file, not an hour into a run (`benchmarks.grids.check_grid_images`, the check of
    every grid benchmark).
    Images decode when a row is read. Raises `InputError` with one line for every problem a user can fix.
    """
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be a positive number of examples, got {limit}")
    path = Path(source).expanduser()
    if path.exists() or source.startswith((".", "/", "~")):
        if not path.is_dir():
            raise InputError(f"{source} is not a folder: pass a folder holding examples.jsonl and images/, "
                             f"or a hub dataset id")
        data = _from_jsonl(path / "examples.jsonl", _folder_images(path), limit)
    else:
        data = _from_hub(source, limit, hub or HuggingFaceHub())
    if check:
        check_grid_images(data, len(IMAGE_COLUMNS))
    return data


IMAGE_COLUMNS = ("image_0", "image_1")


def _from_hub(repo_id: str, limit: int | None, hub: Hub) -> datasets.Dataset:
    files = hub.list_files(repo_id, None)
    layout = _choose_layout(files)
    if layout == "parquet":
        paths = [hub.download(repo_id, f, None) for f in _test_parquet(files)]
        return _from_parquet(paths, limit)
    if layout == "jsonl+zip":
        jsonl = hub.download(repo_id, "data/examples.jsonl", None)
        archive = hub.download(repo_id, "data/images.zip", None)
        return _from_jsonl(Path(jsonl), _zip_images(Path(archive)), limit)
    converted = _test_parquet(hub.list_files(repo_id, PARQUET_CONVERSION))
    if not converted:
        raise InputError(f"{repo_id} has no Winoground files this loader knows (data/test-*.parquet, "
                         f"data/examples.jsonl + data/images.zip, or a parquet conversion): pass a local folder")
    return _from_parquet([hub.download(repo_id, f, PARQUET_CONVERSION) for f in converted], limit)


def _choose_layout(files: Iterable[str]) -> str | None:
    """Prefer parquet files in the repo itself, then the original jsonl + zip pair, else the conversion."""
    files = set(files)
    if _test_parquet(files):
        return "parquet"
    if {"data/examples.jsonl", "data/images.zip"} <= files:
        return "jsonl+zip"
    return None


def _test_parquet(files: Iterable[str]) -> list[str]:
    # The card's layout names them data/test-*.parquet; the conversion puts them under default/test/.
    return sorted(f for f in files if f.endswith(".parquet") and
                  (Path(f).name.startswith("test") or "/test/" in f"/{f}"))


def _from_parquet(paths: list[str], limit: int | None) -> datasets.Dataset:
    try:
        ds = datasets.Dataset.from_parquet(paths)
    except Exception as e:  # noqa: BLE001
        raise InputError(f"cannot read Winoground parquet files {paths}: {e}") from None
    _check_columns(ds.column_names, "the parquet files")
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    for example_id, *captions in zip(ds["id"], ds["caption_0"], ds["caption_1"]):
        for c, caption in enumerate(captions):
            check_caption(caption, f"caption_{c} of example {example_id} in the parquet files")
    check_unique(ds["id"], "the parquet files", "example ids", "give each example its own id")
    try:
        return ds.select_columns(list(COLUMNS)).cast(FEATURES)
    except (ValueError, TypeError) as e:
        raise InputError(f"the parquet files have a column of the wrong type: {first_line(e)}") from None


def _folder_images(folder: Path) -> Callable[[str], dict]:
    def find(stem: str) -> dict:
        file = folder / "images" / f"{stem}.png"
        if not file.is_file():
            raise InputError(f"image {file} is missing: the folder needs images/<stem>.png for every "
                             f"image named in examples.jsonl")
        # The dataset keeps the path, not the bytes: images are read again only when decoded, and
        # copying hundreds of MB of bytes into Arrow costs more than decoding them.
        return {"bytes": None, "path": str(file.resolve())}
    return find


def _zip_images(archive: Path) -> Callable[[str], dict]:
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile):
        raise InputError(f"cannot open {archive} as a zip file: delete it from the hub cache and run again") from None
    names = set(zf.namelist())

    def read(stem: str) -> dict:
        name = f"images/{stem}.png"
        if name not in names:
            raise InputError(f"image {name} is missing from {archive}")
        return {"bytes": zf.read(name), "path": f"{stem}.png"}
    return read


def _from_jsonl(jsonl: Path, find_image: Callable[[str], dict], limit: int | None) -> datasets.Dataset:
    if not jsonl.is_file():
        raise InputError(f"{jsonl} not found: a local Winoground folder needs examples.jsonl and images/")
    try:
        text = jsonl.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{jsonl} is not UTF-8 text (byte {e.start}): save it as UTF-8") from None
    check_whole_lines(jsonl, text)
    lines = [(f"line {n}", line) for n, line in enumerate(text.splitlines(), 1) if line.strip()][:limit]
    problems, parsed = [], []
    for label, line in lines:
        try:
            parsed.append((label, json.loads(line, object_pairs_hook=unique_keys)))
        except json.JSONDecodeError as e:
            problems.append(f"{label} is not valid JSON ({e.msg})")
        except RepeatedKey as e:
            problems.append(f"{label} repeats the key {e.key!r}")
    if problems:
        raise InputError(problem_line(jsonl, problems, "fix or remove those lines"))
    rows = {c: [] for c in COLUMNS}
    for label, example in LINE.entries(jsonl, parsed):
        for key in COLUMNS:
            rows[key].append(find_image(example[key]) if key in LINE.images else example[key])
    if not rows["id"]:
        raise InputError(f"{jsonl} holds no examples")
    return datasets.Dataset.from_dict(rows, features=FEATURES)


def _check_columns(present: Iterable[str], where: str) -> None:
    missing = [c for c in COLUMNS if c not in set(present)]
    if missing:
        raise InputError(f"{where} lacks the Winoground column(s) {', '.join(missing)}")


# --- the metric --------------------------------------------------------------------------------------

KINDS = ("text", "image", "group")


def correct(scores: np.ndarray, higher_is_better: bool = True) -> dict[str, np.ndarray]:
    """Per-example correctness (bool arrays of length N) for text, image and group; scores (N, 2, 2)."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 3 or s.shape[1:] != (2, 2):
        raise ValueError(f"scores must have shape (N, 2, 2), got {s.shape}")
    better = np.greater if higher_is_better else np.less
    text = better(s[:, 0, 0], s[:, 1, 0]) & better(s[:, 1, 1], s[:, 0, 1])
    image = better(s[:, 0, 0], s[:, 0, 1]) & better(s[:, 1, 1], s[:, 1, 0])
    return {"text": text, "image": image, "group": text & image}


def percentages(flags: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Percent correct per kind, rounded to two decimals as the benchmark reports them."""
    return {k: round(100.0 * float(np.mean(flags[k])), 2) for k in KINDS}


def metrics(scores: np.ndarray, higher_is_better: bool = True, fields=None) -> dict[str, float]:
    """Text, Image and Group in percent: the metric of every 2 x 2 benchmark that scores as Winoground does."""
    return percentages(correct(scores, higher_is_better))


def example_groups(tags: Sequence[str], secondary_tags: Sequence[str],
                   num_main_preds: Sequence[int]) -> dict[str, np.ndarray]:
    """Boolean masks over examples for each breakdown group: tag, each secondary tag value, main predicates."""
    groups: dict[str, np.ndarray] = {}
    tags = np.asarray(tags, dtype=object)
    for tag in sorted(set(tags)):
        groups[f"tag={tag}"] = tags == tag
    split = [{t.strip() for t in (s or "").split(",") if t.strip()} for s in secondary_tags]
    for value in sorted(set().union(*split)):
        groups[f"secondary_tag={value}"] = np.array([value in s for s in split])
    groups["secondary_tag=none"] = np.array([not s for s in split])
    preds = np.asarray(num_main_preds)
    for n in sorted(set(preds.tolist())):
        groups[f"num_main_preds={n}"] = preds == n
    return groups


def groups(fields: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The breakdown's groups, from each example's tags (`example_groups`)."""
    return example_groups(fields["tag"], fields["secondary_tag"], fields["num_main_preds"])


# --- numbers quoted from the literature, never computed -----------------------------------------------

CHANCE = {"text": 25.00, "image": 25.00, "group": 16.67}  # a random score: each of 4 (or, for group, 6) orders
# Rows quoted beside every run: {label: {metric: value}}.
REFERENCES = {
    "Random chance": dict(CHANCE),
    "Humans (Thrush et al., 2022)": {"text": 89.50, "image": 88.50, "group": 85.50},
    "PaLI 17B (best known fine-tuning/prompting, external)": {"image": 41.50},
    "VQ2 (external)": {"image": 42.20},
}
# The Image scores of the original repository's final README, by row; its rows of experiment 1 are quoted again
# beside experiment 3 (`EXPERIMENT_1`). They were computed with BLIP checkpoints: rows of other families show none.
PUBLISHED = {"contrastive": {"image": 13.50}, "itm": {"image": 24.25}, "clm": {"image": 29.00},
             "contrastive_ratio": {"image": 52.00}, "itm_ratio": {"image": 32.75}, "clm_ratio": {"image": 50.25}}
PUBLISHED_FAMILIES = ("blip-retrieval", "blip-captioning")
EXPERIMENT_1 = {"BLIP contrastive head (experiment 1)": PUBLISHED["contrastive"],
                "BLIP ITM head (experiment 1)": PUBLISHED["itm"]}
# VisualGPTScore's BLIP rows (benchmarks/visualgptscore.py), beside experiment 5.
VISUALGPTSCORE = dict([quoted("alpha = 0", {"text": 27.5, "image": 21.5}), quoted("alpha = 1", {"text": 33.7}),
                       quoted("tuned alpha = 0.855", {"text": 36.6})])
# VQAScore's rows (benchmarks/vqascore.py), beside experiment 5's vqa rows.
VQASCORE = dict([vqascore.quoted("InstructBLIP", {"text": 44.5, "image": 42.8, "group": 28.5}),
                 vqascore.quoted("LLaVA-1.5", {"text": 45.5, "image": 41.3, "group": 29.8}),
                 vqascore.quoted("CLIP-FlanT5-XXL", {"text": 60.0, "image": 57.5, "group": 46.0})])
