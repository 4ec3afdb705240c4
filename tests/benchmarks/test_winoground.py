"""Winoground: loading the local folder and each hub layout (local files standing in for the hub), errors,
and the Text / Image / Group metric against hand-worked cases."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import datasets
import numpy as np
import pytest
from fixtures import CAPTION_PAIRS, draw_image, write_winoground_folder
from PIL import Image

from benchmarks.hub import HuggingFaceHub
from benchmarks.winoground import COLUMNS, correct, example_groups, load_winoground, percentages
from common.errors import InputError

REPO = "facebook/winoground"
# The hub's parquet files declare plain Image features (no mode): the loader converts to RGB itself.
HUB_FEATURES = datasets.Features({
    c: datasets.Image() if c.startswith("image_") else
    datasets.Value("int64" if c in ("id", "num_main_preds") else "string") for c in COLUMNS})


class LocalHub:
    """Stands in for the hub: per revision, a mapping from repo file name to a local file."""

    def __init__(self, files: dict[str | None, dict[str, Path]]):
        self.files = files
        self.downloads: list[tuple[str, str | None]] = []

    def list_files(self, repo_id, revision):
        assert repo_id == REPO
        return sorted(self.files.get(revision, {}))

    def download(self, repo_id, filename, revision):
        self.downloads.append((filename, revision))
        return str(self.files[revision][filename])


def _png_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


def _expected_rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "examples.jsonl").read_text().splitlines()]


def _assert_matches_folder(ds: datasets.Dataset, folder: Path) -> None:
    expected = _expected_rows(folder)
    assert len(ds) == len(expected)
    assert set(COLUMNS) <= set(ds.column_names)
    for row, exp in zip(ds, expected):
        for key in ("id", "caption_0", "caption_1", "tag", "secondary_tag", "num_main_preds", "collapsed_tag"):
            assert row[key] == exp[key]
        for key in ("image_0", "image_1"):
            original = Image.open(folder / "images" / f"{exp[key]}.png")
            assert row[key].mode == "RGB"
            assert row[key].size == original.size
            assert list(row[key].getdata()) == list(original.convert("RGB").getdata())


@pytest.fixture
def parquet_file(winoground_dir, tmp_path) -> Path:
    """The folder's examples as a parquet file of the kind the hub serves (images as PNG bytes)."""
    rows = _expected_rows(winoground_dir)
    table = {c: [] for c in COLUMNS}
    for r in rows:
        for c in COLUMNS:
            value = r[c]
            if c.startswith("image_"):
                value = {"bytes": (winoground_dir / "images" / f"{value}.png").read_bytes(), "path": None}
            table[c].append(value)
    path = tmp_path / "test-00000-of-00001.parquet"
    datasets.Dataset.from_dict(table, features=HUB_FEATURES).to_parquet(path)
    return path


@pytest.fixture
def images_zip(winoground_dir, tmp_path) -> Path:
    path = tmp_path / "images.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for png in sorted((winoground_dir / "images").iterdir()):
            zf.write(png, f"images/{png.name}")
    return path


def test_local_folder(winoground_dir):
    _assert_matches_folder(load_winoground(str(winoground_dir)), winoground_dir)


def test_limit_takes_first_examples(winoground_dir):
    ds = load_winoground(str(winoground_dir), limit=3)
    assert ds["id"] == [0, 1, 2]


def test_image_modes_are_converted(winoground_dir):
    modes = {Image.open(p).mode for p in (winoground_dir / "images").iterdir()}
    assert {"L", "P", "RGBA", "RGB"} <= modes  # the fixture really mixes modes
    ds = load_winoground(str(winoground_dir))
    assert {row[k].mode for row in ds for k in ("image_0", "image_1")} == {"RGB"}


def test_hub_parquet_layout(winoground_dir, parquet_file, images_zip):
    # Parquet files win over the jsonl + zip pair and the loading script.
    hub = LocalHub({None: {"data/test-00000-of-00001.parquet": parquet_file, "winoground.py": parquet_file,
                           "data/examples.jsonl": winoground_dir / "examples.jsonl", "data/images.zip": images_zip}})
    ds = load_winoground(REPO, hub=hub)
    assert hub.downloads == [("data/test-00000-of-00001.parquet", None)]
    _assert_matches_folder(ds, winoground_dir)


def test_hub_jsonl_zip_layout(winoground_dir, images_zip):
    hub = LocalHub({None: {"winoground.py": images_zip, "data/examples.jsonl": winoground_dir / "examples.jsonl",
                           "data/images.zip": images_zip}})
    ds = load_winoground(REPO, hub=hub)
    assert ("winoground.py", None) not in hub.downloads  # the script is never fetched, let alone run
    _assert_matches_folder(ds, winoground_dir)


def test_hub_parquet_conversion_layout(winoground_dir, parquet_file):
    hub = LocalHub({None: {"winoground.py": parquet_file, "README.md": parquet_file},
                    "refs/convert/parquet": {"default/test/0000.parquet": parquet_file}})
    ds = load_winoground(REPO, limit=4, hub=hub)
    assert hub.downloads == [("default/test/0000.parquet", "refs/convert/parquet")]
    assert ds["id"] == [0, 1, 2, 3]


def test_hub_without_known_files(parquet_file):
    hub = LocalHub({None: {"winoground.py": parquet_file}})
    with pytest.raises(InputError, match="no Winoground files"):
        load_winoground(REPO, hub=hub)


def test_cmyk_image_in_parquet_is_converted(tmp_path, winoground_dir):
    cmyk = draw_image(1, 0).convert("CMYK")
    table = {c: [] for c in COLUMNS}
    for c, v in zip(COLUMNS, [0, None, None, *CAPTION_PAIRS[0], "Object", "", 1, "Object"]):
        table[c].append({"bytes": _png_bytes(cmyk, "JPEG"), "path": None} if c.startswith("image_") else v)
    path = tmp_path / "test.parquet"
    datasets.Dataset.from_dict(table, features=HUB_FEATURES).to_parquet(path)
    ds = load_winoground(REPO, hub=LocalHub({None: {"data/test-00000.parquet": path}}))
    assert ds[0]["image_0"].mode == "RGB"
    assert ds[0]["image_0"].getpixel((0, 0)) == cmyk.convert("RGB").getpixel((0, 0))


def _hub_cache(cache: Path, files: dict[str, Path]) -> None:
    """Lay files out as huggingface_hub's cache does after a download of the repo's main revision."""
    repo = cache / "datasets--facebook--winoground"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    for name, src in files.items():
        dst = repo / "snapshots" / commit / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)


def test_offline_uses_cache(tmp_path, winoground_dir, parquet_file):
    _hub_cache(tmp_path / "cache", {"data/test-00000-of-00001.parquet": parquet_file})
    ds = load_winoground(REPO, hub=HuggingFaceHub(cache_dir=str(tmp_path / "cache")))
    _assert_matches_folder(ds, winoground_dir)


def test_offline_without_cache_is_one_clear_line(tmp_path):
    with pytest.raises(InputError, match="cannot reach the Hugging Face hub") as e:
        load_winoground(REPO, hub=HuggingFaceHub(cache_dir=str(tmp_path / "empty")))
    assert "\n" not in str(e.value)


def _raise_gated(*args, **kwargs):
    from huggingface_hub import errors
    from huggingface_hub.utils import httpx

    request = httpx.Request("GET", "https://huggingface.co/api/datasets/facebook/winoground/tree/main")
    raise errors.GatedRepoError("Access to dataset facebook/winoground is restricted.",
                                response=httpx.Response(403, request=request))


def test_gated_dataset_says_how_to_get_access(monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files", _raise_gated)
    with pytest.raises(InputError, match="gated: accept its terms .*hf auth login") as e:
        load_winoground(REPO, hub=HuggingFaceHub())
    assert "\n" not in str(e.value)


def test_gated_download_says_how_to_get_access(monkeypatch):
    # The file list of a gated repo can be public while its files are not.
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.HfApi, "list_repo_files",
                        lambda *a, **k: ["data/test-00000-of-00001.parquet", "README.md"])
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _raise_gated)
    with pytest.raises(InputError, match="gated: accept its terms .*hf auth login"):
        load_winoground(REPO, hub=HuggingFaceHub())


def test_folder_without_examples_jsonl(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(InputError, match="examples.jsonl not found"):
        load_winoground(str(tmp_path))


def test_path_that_is_a_file(tmp_path):
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(InputError, match="is not a folder"):
        load_winoground(str(tmp_path / "x.txt"))


def test_malformed_json_line_names_the_line(tmp_path):
    folder = write_winoground_folder(tmp_path / "w", n=3)
    lines = (folder / "examples.jsonl").read_text().splitlines()
    lines[1] = lines[1][:-5]
    (folder / "examples.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="line 2 is not valid JSON"):
        load_winoground(str(folder))


def test_missing_image_names_the_file(tmp_path):
    folder = write_winoground_folder(tmp_path / "w", n=3)
    (folder / "images" / "ex_2_1.png").unlink()
    with pytest.raises(InputError, match="ex_2_1.png is missing"):
        load_winoground(str(folder))


def test_unreadable_image_names_the_file(tmp_path):
    folder = write_winoground_folder(tmp_path / "w", n=3)
    (folder / "images" / "ex_1_0.png").write_bytes(b"not a png at all")
    with pytest.raises(InputError, match="ex_1_0.png cannot be read"):
        load_winoground(str(folder))


def test_truncated_image_names_the_file(tmp_path):
    folder = write_winoground_folder(tmp_path / "w", n=2)
    data = (folder / "images" / "ex_0_1.png").read_bytes()
    (folder / "images" / "ex_0_1.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="ex_0_1.png cannot be read"):
        load_winoground(str(folder))


def test_missing_column_is_named(tmp_path):
    folder = write_winoground_folder(tmp_path / "w", n=2)
    rows = _expected_rows(folder)
    del rows[1]["tag"]
    (folder / "examples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InputError, match="examples.jsonl: line 2 lacks the field 'tag'"):
        load_winoground(str(folder))


def test_parquet_missing_column_is_named(tmp_path, parquet_file):
    ds = datasets.Dataset.from_parquet(str(parquet_file)).remove_columns(["secondary_tag"])
    path = tmp_path / "test-bad.parquet"
    ds.to_parquet(path)
    with pytest.raises(InputError, match="secondary_tag"):
        load_winoground(REPO, hub=LocalHub({None: {"data/test-bad.parquet": path}}))



def _edit_line(folder: Path, n: int, **fields) -> None:
    lines = (folder / "examples.jsonl").read_text().splitlines()
    lines[n] = json.dumps({**json.loads(lines[n]), **fields})
    (folder / "examples.jsonl").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("caption,shown", [("", "'', which has no visible character"),
                                           ("   ", "'   ', which has no visible character"),
                                           ("\u200b \u200b", "'.*', which has no visible character"),  # zero-width spaces
                                           (None, "null"), (["a", "b"], "list"), (3, "int")])
def test_a_caption_that_is_not_a_non_empty_string_is_named(tmp_path, caption, shown):
    folder = write_winoground_folder(tmp_path / "w", n=3)
    _edit_line(folder, 1, caption_1=caption)
    with pytest.raises(InputError, match=f"examples.jsonl: line 2, field 'caption_1' is {shown}") as e:
        load_winoground(str(folder))
    assert "\n" not in str(e.value)


def test_repeated_ids_are_named_with_their_lines(tmp_path):
    folder = write_winoground_folder(tmp_path / "w", n=4)
    _edit_line(folder, 2, id=0)
    with pytest.raises(InputError, match=r"examples.jsonl: line 3, field 'id' repeats the value 0 of line 1"):
        load_winoground(str(folder))


def test_non_utf8_annotations_are_one_line(tmp_path):
    folder = write_winoground_folder(tmp_path / "w", n=2)
    raw = (folder / "examples.jsonl").read_bytes()
    (folder / "examples.jsonl").write_bytes(raw.replace(b"circle", b"circ\xe9le"))
    with pytest.raises(InputError, match="is not UTF-8 text .*save it as UTF-8"):
        load_winoground(str(folder))


def test_a_decompression_bomb_says_how_to_allow_it(tmp_path, monkeypatch):
    folder = write_winoground_folder(tmp_path / "w", n=2)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # the drawn images have 1,920 pixels and more
    with pytest.raises(InputError, match="too large for Pillow's decompression-bomb guard.*--max-image-pixels"):
        load_winoground(str(folder))


def test_fingerprint_follows_captions_and_image_files(tmp_path):
    from benchmarks.data import data_fingerprint
    from benchmarks.winoground import IMAGE_COLUMNS

    def winoground_fingerprint(data):
        return data_fingerprint(data, IMAGE_COLUMNS)

    folder = write_winoground_folder(tmp_path / "w", n=3)
    first = winoground_fingerprint(load_winoground(str(folder)))
    assert winoground_fingerprint(load_winoground(str(folder), check=False)) == first
    _edit_line(folder, 1, caption_0="a changed caption")
    edited = winoground_fingerprint(load_winoground(str(folder)))
    assert edited != first
    draw_image(7, 1).save(folder / "images" / "ex_2_1.png")  # a replaced image, same name
    assert winoground_fingerprint(load_winoground(str(folder))) != edited


# --- the metric: hand-worked cases, ties, lower-is-better, breakdown groups ---------------------------

# Each case: [[s(c0,i0), s(c0,i1)], [s(c1,i0), s(c1,i1)]] and the (text, image) verdicts worked by hand.
CASES = [
    ([[0.9, 0.1], [0.2, 0.8]], (True, True)),     # diagonal wins both ways
    ([[0.9, 0.8], [0.2, 0.7]], (False, True)),    # text: .7>.8? no; image: .9>.8 and .7>.2
    ([[0.9, 0.95], [0.2, 0.99]], (True, False)),  # text: .9>.2 and .99>.95; image: .9>.95? no
    ([[0.5, 0.1], [0.6, 0.8]], (False, True)),    # text: .5>.6? no; image: .5>.1 and .8>.6
    ([[0.5, 0.5], [0.1, 0.9]], (True, False)),    # image tie s(c0,i0)=s(c0,i1) counts as wrong
    ([[0.3, 0.3], [0.3, 0.3]], (False, False)),   # all tied
]


def _expected(case):
    (a, b), (c, d) = case  # a=c0i0, b=c0i1, c=c1i0, d=c1i1
    return (a > c and d > b), (a > b and d > c)


def test_hand_worked_cases():
    scores = np.array([c for c, _ in CASES])
    flags = correct(scores)
    for n, (case, verdict) in enumerate(CASES):
        expected_text, expected_image = _expected(case)
        assert (expected_text, expected_image) == verdict  # the comments above agree with the rule
        assert flags["text"][n] == expected_text
        assert flags["image"][n] == expected_image
        assert flags["group"][n] == (expected_text and expected_image)
    # text right in cases 0, 2, 4; image in 0, 1, 3; both only in 0.
    assert percentages(correct(scores)) == {"text": 50.0, "image": 50.0, "group": 16.67}


def test_lower_is_better_mirrors_negation():
    scores = np.array([c for c, _ in CASES])
    assert percentages(correct(-scores, False)) == percentages(correct(scores))
    # A loss where the diagonal is lowest is fully correct; ties stay wrong.
    losses = np.array([[[1.0, 3.0], [3.0, 1.0]], [[2.0, 2.0], [2.0, 2.0]]])
    assert percentages(correct(losses, False)) == {"text": 50.0, "image": 50.0, "group": 50.0}
    assert percentages(correct(losses, True)) == {"text": 0.0, "image": 0.0, "group": 0.0}


def test_bad_shape_is_rejected():
    with pytest.raises(ValueError, match="shape"):
        correct(np.zeros((3, 4)))


def test_breakdown_groups():
    tags = ["Object", "Relation", "Object", "Both"]
    secondary = ["", "Symbolic", "Pragmatic,Series", "Series"]
    preds = [1, 2, 1, 1]
    groups = example_groups(tags, secondary, preds)
    assert groups["tag=Object"].tolist() == [True, False, True, False]
    assert groups["secondary_tag=Series"].tolist() == [False, False, True, True]
    assert groups["secondary_tag=none"].tolist() == [True, False, False, False]
    assert groups["num_main_preds=2"].tolist() == [False, True, False, False]
