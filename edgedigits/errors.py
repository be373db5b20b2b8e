"""The one exception the CLI turns into a single line on stderr and exit code 2.

Raise InputError for anything the user can fix (unknown name, bad file, bad key); let real bugs raise normally so
they keep their traceback.
"""


class InputError(Exception):
    """A usage or input problem: the message is shown to the user as is, on one line (any line break a value in it
    held, a file name's or a decoder's, is made a space)."""

    def __init__(self, message: str = "", *args):
        super().__init__(" ".join(str(message).split()), *args)


class GateError(Exception):
    """A quality check refused the result (exit 3): nothing was written."""


class AccuracyGateError(GateError):
    """A stage lost more accuracy than the pipeline allows."""


def one_line(message: str) -> str:
    """A message as one line of at most limits.MAX_MESSAGE_CHARS characters: whatever a value in it held (a
    recipe's 10 MB string, a decoder's several lines), the user reads one short line."""
    from edgedigits.limits import MAX_MESSAGE_CHARS

    text = " ".join(str(message).split())
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return f"{text[: MAX_MESSAGE_CHARS - 40]}... (cut: {len(text):,} characters in all)"


def shown(value, limit: int = 60) -> str:
    """repr(value) on one line, cut to `limit` characters: what a message says of a value it refuses (an array's
    repr spans lines, a recipe's string may be megabytes)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else f"{text[: limit - 3]}..."
