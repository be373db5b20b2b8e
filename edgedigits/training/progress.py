"""Progress of a run: step timings for the manifest, and quiet blocks for single steps whose one output line (or
one refusal) is their result."""

from __future__ import annotations

import contextlib
import logging
import time


@contextlib.contextmanager
def timed(times: dict, step: str):
    """Record the wall time of the block in times[step], in seconds."""
    start = time.perf_counter()
    yield
    times[step] = round(time.perf_counter() - start, 2)


@contextlib.contextmanager
def quiet():
    """No progress lines within the block (warnings still show)."""
    logger = logging.getLogger("edgedigits")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
