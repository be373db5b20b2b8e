"""The one exception the CLI turns into a single line on stderr and exit code 2.

Raise InputError for anything the user can fix (unknown name, bad file, bad key); let real bugs raise normally so
they keep their traceback.
"""


class InputError(Exception):
    """A usage or input problem: the message is shown to the user as is, on one line."""


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
