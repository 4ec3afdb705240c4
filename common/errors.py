"""The one exception type for problems a user can fix (bad path, missing access, malformed file).

Scripts catch it and print its message as a single line; its text always says what to do.
"""


class InputError(Exception):
    """Bad input that the user can fix; the message is one line saying what is wrong and what to do."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (or its type name), for one-line error reports."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
