"""Winoground loading, from the Hugging Face hub or from a local folder in the hub's original layout.

`load_winoground` returns a `datasets.Dataset` with the columns of Winoground (id, image_0, image_1,
caption_0, caption_1, tag, secondary_tag, num_main_preds, collapsed_tag) whose images decode as RGB PIL
images. The hub repo has changed layout over time, so the loader asks the hub which files exist and
takes the first layout present (see `_choose_layout`); it never runs the repo's loading script.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol

import datasets

from evaluation.images import check_image
from scoring.errors import InputError, first_line

DEFAULT_SOURCE = "facebook/winoground"
PARQUET_CONVERSION = "refs/convert/parquet"

COLUMNS = ("id", "image_0", "image_1", "caption_0", "caption_1", "tag", "secondary_tag", "num_main_preds",
           "collapsed_tag")
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


class Hub(Protocol):
    """The two hub operations the loader needs; tests substitute local files for the real hub."""

    def list_files(self, repo_id: str, revision: str | None) -> list[str]: ...

    def download(self, repo_id: str, filename: str, revision: str | None) -> str: ...


@dataclass
class HuggingFaceHub:
    """The real hub: token from `hf auth login` or HF_TOKEN, files cached by huggingface_hub.

    When the hub can't be reached, listing falls back to what an earlier run left in the local cache.
    """

    token: str | bool | None = None
    cache_dir: str | None = None

    def list_files(self, repo_id: str, revision: str | None) -> list[str]:
        import huggingface_hub
        from huggingface_hub import errors

        try:
            return huggingface_hub.HfApi(token=self.token).list_repo_files(
                repo_id, repo_type="dataset", revision=revision)
        except errors.RevisionNotFoundError:
            return []
        except Exception as e:  # noqa: BLE001 - every hub failure becomes a one-line message or a cache lookup
            if not _is_offline(e):
                raise _hub_error(repo_id, e) from None
            offline = e
        try:  # offline: use the snapshot an earlier run left in the cache
            folder = huggingface_hub.snapshot_download(repo_id, repo_type="dataset", revision=revision,
                                                       local_files_only=True, token=self.token,
                                                       cache_dir=self.cache_dir)
        except Exception:  # noqa: BLE001 - nothing cached for this revision
            raise _hub_error(repo_id, offline) from None
        return [p.relative_to(folder).as_posix() for p in Path(folder).rglob("*") if p.is_file()]

    def download(self, repo_id: str, filename: str, revision: str | None) -> str:
        import huggingface_hub

        kwargs = dict(repo_type="dataset", revision=revision, token=self.token, cache_dir=self.cache_dir)
        try:
            return huggingface_hub.hf_hub_download(repo_id, filename, **kwargs)
        except Exception as e:  # noqa: BLE001
            if not _is_offline(e):
                raise _hub_error(repo_id, e) from None
            try:
                return huggingface_hub.hf_hub_download(repo_id, filename, local_files_only=True, **kwargs)
            except Exception:  # noqa: BLE001
                raise _hub_error(repo_id, e) from None


def _is_offline(e: Exception) -> bool:
    from huggingface_hub import errors
    from huggingface_hub.utils import httpx

    return isinstance(e, (errors.OfflineModeIsEnabled, errors.LocalEntryNotFoundError, httpx.TransportError,
                          ConnectionError, TimeoutError))


def _hub_error(repo_id: str, e: Exception) -> InputError:
    from huggingface_hub import errors

    page = f"https://huggingface.co/datasets/{repo_id}"
    if isinstance(e, errors.GatedRepoError):
        return InputError(f"{repo_id} is gated: accept its terms at {page} while logged in, then run "
                          f"`hf auth login` (or set HF_TOKEN) on this machine")
    if isinstance(e, errors.RepositoryNotFoundError):
        return InputError(f"dataset {repo_id} not found or not accessible: check the id, accept its terms at "
                          f"{page} and log in with `hf auth login` (or set HF_TOKEN)")
    if _is_offline(e):
        return InputError(f"cannot reach the Hugging Face hub and {repo_id} is not in the local cache: "
                          f"connect once to download it, or pass a local Winoground folder")
    return InputError(f"downloading {repo_id} failed ({type(e).__name__}: {first_line(e)})")


def load_winoground(source: str = DEFAULT_SOURCE, limit: int | None = None, *, hub: Hub | None = None,
                    ) -> datasets.Dataset:
    """Load Winoground's test split (the first `limit` examples if given) from a hub id or a local folder.

    A local folder holds `examples.jsonl` and `images/<stem>.png` (the hub's original file layout).
    Every image file is checked here (structure and checksums, without decoding; see `evaluation.images.check_image`) so
    that an unreadable file fails now, naming the file, not an hour into a run; images decode when a row
    is read. Raises `InputError` with a one-line message for every problem a user can fix.
    """
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be a positive number of examples, got {limit}")
    path = Path(source).expanduser()
    if path.exists() or source.startswith((".", "/", "~")):
        if not path.is_dir():
            raise InputError(f"{source} is not a folder: pass a folder holding examples.jsonl and images/, "
                             f"or a hub dataset id")
        return _from_jsonl(path / "examples.jsonl", _folder_images(path), limit)
    return _from_hub(source, limit, hub or HuggingFaceHub())


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
    rows = ds.cast_column("image_0", datasets.Image(decode=False)).cast_column("image_1", datasets.Image(decode=False))
    for row in rows:
        for key in ("image_0", "image_1"):
            check_image(row[key]["bytes"], f"{key} of example {row['id']} in the parquet files")
    return ds.select_columns(list(COLUMNS)).cast(FEATURES)


def _folder_images(folder: Path) -> Callable[[str], tuple[bytes, dict]]:
    def read(stem: str) -> tuple[bytes, dict]:
        file = folder / "images" / f"{stem}.png"
        try:
            data = file.read_bytes()
        except OSError:
            raise InputError(f"image {file} is missing: the folder needs images/<stem>.png for every "
                             f"image named in examples.jsonl") from None
        # The dataset keeps the path, not the bytes: images are read again only when decoded, and
        # copying hundreds of MB of bytes into Arrow costs more than decoding them.
        return data, {"bytes": None, "path": str(file.resolve())}
    return read


def _zip_images(archive: Path) -> Callable[[str], tuple[bytes, dict]]:
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile):
        raise InputError(f"cannot open {archive} as a zip file: delete it from the hub cache and run again") from None
    names = set(zf.namelist())

    def read(stem: str) -> tuple[bytes, dict]:
        name = f"images/{stem}.png"
        if name not in names:
            raise InputError(f"image {name} is missing from {archive}")
        data = zf.read(name)
        return data, {"bytes": data, "path": f"{stem}.png"}
    return read


def _from_jsonl(jsonl: Path, read_image: Callable[[str], tuple[bytes, dict]], limit: int | None
                ) -> datasets.Dataset:
    if not jsonl.is_file():
        raise InputError(f"{jsonl} not found: a local Winoground folder needs examples.jsonl and images/")
    rows = {c: [] for c in COLUMNS}
    with open(jsonl, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            if limit is not None and len(rows["id"]) >= limit:
                break
            try:
                example = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{jsonl} line {lineno} is not valid JSON ({e.msg}): "
                                 f"fix or remove that line") from None
            if not isinstance(example, dict):
                raise InputError(f"{jsonl} line {lineno} is not a JSON object")
            _check_columns(example.keys(), f"{jsonl} line {lineno}")
            for key in COLUMNS:
                value = example[key]
                if key.startswith("image_"):
                    data, stored = read_image(str(value))
                    check_image(data, f"{value}.png")
                    value = stored
                rows[key].append(value)
    if not rows["id"]:
        raise InputError(f"{jsonl} holds no examples")
    try:
        return datasets.Dataset.from_dict(rows, features=FEATURES)
    except (ValueError, TypeError) as e:
        raise InputError(f"{jsonl} has a field of the wrong type: {first_line(e)}") from None


def _check_columns(present: Iterable[str], where: str) -> None:
    missing = [c for c in COLUMNS if c not in set(present)]
    if missing:
        raise InputError(f"{where} lacks the Winoground column(s) {', '.join(missing)}")
