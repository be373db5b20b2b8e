"""JSON files as the standard has them, read and written one way: no NaN or Infinity (Python's json module reads
and writes both; other readers refuse them), and only regular files of a bounded size are read (a FIFO would block,
a huge file fill memory)."""

from __future__ import annotations

import errno
import json
import math
import os
from pathlib import Path

MAX_JSON_BYTES = 64 * 2**20  # a manifest, a run's record, a trial's result


def read_json(path: str | os.PathLike, limit: int = MAX_JSON_BYTES):
    """A JSON file as the standard has it: NaN, Infinity and -Infinity (which Python's json reads) are a
    ValueError, so no figure read from disk is ever one of them. Only a regular file of at most `limit` bytes is
    read (a FIFO would block, a huge file fill memory): anything else is an OSError."""
    path = Path(path)
    if not path.is_file():
        raise OSError(errno.ENOENT if not path.exists() else errno.EINVAL, "not a regular file", str(path))
    if path.stat().st_size > limit:
        raise OSError(errno.EFBIG, f"larger than {limit:,} bytes", str(path))
    return loads(path.read_text())


def loads(text: str):
    """JSON text as the standard has it: NaN and Infinity, and nesting deeper than Python's parser recurses, are a
    ValueError."""
    try:
        return json.loads(text, parse_constant=_not_json)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _not_json(name: str):
    raise ValueError(f"{name} is not a JSON number")


def standard(obj):
    """`obj` with every float that is NaN or infinite replaced by None, in dicts, lists and tuples."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: standard(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [standard(value) for value in obj]
    return obj
