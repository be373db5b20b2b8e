"""What a sweep or a comparison leaves behind: NAME.json, NAME.md and, when it has a plot, NAME.png; one writer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edgedigits.runtime.model.artifacts import write_bytes_atomic, write_json_atomic


@dataclass
class Output:
    name: str  # the files' stem
    data: dict  # written as NAME.json
    markdown: str  # written as NAME.md, and printed
    plot: Callable[[Path], None] | None = None  # draws NAME.png


def write(out_dir: Path, output: Output) -> list[Path]:
    """Write the files, each atomically; returns their paths (markdown first, as the commands list them)."""
    out_dir = Path(out_dir)
    paths = [out_dir / f"{output.name}.md", out_dir / f"{output.name}.json"]
    write_json_atomic(paths[1], output.data)
    write_bytes_atomic(paths[0], output.markdown.encode())
    if output.plot:
        paths.append(out_dir / f"{output.name}.png")
        output.plot(paths[-1])
    return paths
