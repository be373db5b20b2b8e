"""Tables as text: one renderer for markdown (reports, sweeps, comparisons, bench) and aligned console text."""

from __future__ import annotations


def markdown(header: list[str], rows: list[list]) -> str:
    """A GitHub markdown table, cells as given (format them first)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def text(rows: list[list[str]], left: set[int] = frozenset({0})) -> str:
    """Aligned columns for a terminal, the first row being the header: columns in `left` flush left, others right."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                     .rstrip() for r in rows)
