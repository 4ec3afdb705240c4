"""The Hugging Face hub as the benchmark loaders use it: list a dataset's files, download one, one-line errors.

`Hub` is the two operations a loader needs, so tests can substitute local files for the real hub;
`HuggingFaceHub` is the real one, with the token from `hf auth login` or HF_TOKEN and huggingface_hub's
cache, which it falls back to when the hub can't be reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from common.errors import InputError, first_line, gated

# The revision where the hub keeps its automatic parquet conversion of a dataset.
PARQUET_CONVERSION = "refs/convert/parquet"


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
        return gated(repo_id, page)
    if isinstance(e, errors.RepositoryNotFoundError):
        return InputError(f"dataset {repo_id} not found or not accessible: check the id, accept its terms at "
                          f"{page} and log in with `hf auth login` (or set HF_TOKEN)")
    if _is_offline(e):
        return InputError(f"cannot reach the Hugging Face hub and {repo_id} is not in the local cache: "
                          f"connect once to download it, or pass a local copy of the data")
    return InputError(f"downloading {repo_id} failed ({type(e).__name__}: {first_line(e)})")
