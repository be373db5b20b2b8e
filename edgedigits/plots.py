"""Matplotlib for every plot edgedigits writes: the headless Agg backend chosen once, figures saved atomically."""

from __future__ import annotations

import os

from edgedigits.runtime.model.artifacts import atomic_path


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed; plots are files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | os.PathLike, dpi: int = 110) -> None:
    """Write `fig` as PNG through a temporary file, then close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    pyplot().close(fig)
