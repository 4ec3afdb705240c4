"""The one exception type for problems a user can fix (bad path, missing access, malformed file).

Scripts catch it and print its message as a single line; its text always says what to do.
"""


class InputError(Exception):
    """Bad input that the user can fix; the message is one line saying what is wrong and what to do."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (or its type name), for one-line error reports."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def gated(repo_id: str, page: str) -> InputError:
    """The one line for a hub repository (a dataset or a checkpoint) whose terms this machine's login lacks."""
    return InputError(f"{repo_id} is gated: accept its terms at {page} while logged in, then run `hf auth login` (or "
                      f"set HF_TOKEN) on this machine")


def gated_checkpoint(name_or_path: str, e: BaseException) -> InputError | None:
    """`gated` for a checkpoint when a gated repository is among the causes of `e` (transformers wraps it in an
    OSError), else None."""
    from huggingface_hub.errors import GatedRepoError

    while e is not None:
        if isinstance(e, GatedRepoError):
            return gated(name_or_path, f"https://huggingface.co/{name_or_path}")
        e = e.__cause__ or e.__context__
    return None
