"""Stage `report`: every scored file stamped with what it is and how it scored (size and sha256 recorded in its
facts), then, for a task that has one, the run report (curves, confusion matrices, classification reports)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from edgedigits.runtime.bench import timing
from edgedigits.runtime.model.artifacts import file_stats
from edgedigits.training.run import Result, Run
from edgedigits.training.stages import STAGES, Stage

log = logging.getLogger(__name__)


@STAGES.register("report")
class Report(Stage):
    order, needs, makes = 60, ("onnx",), ("report",)

    @staticmethod
    def run(run: Run) -> Result:
        stamp(run)
        written = run.task.report(run)
        return Result(manifest={"report": portable_path(written)} if written else {})


def stamp(run: Run, stages: list[str] | None = None) -> None:
    """Each scored file (or those of `stages`) says what it is; then its size and sha256 go into its facts. The CPU
    features its accuracy was measured on (INT8 accuracy can depend on the instruction set) go into the facts, the
    manifest, and not into the file: a file names nothing of the machine that made it, so the same recipe gives the
    same bytes on every CPU."""
    features = timing.machine_info()["features"]
    for stage, result in run.scored().items():
        if stages is not None and stage not in stages:
            continue
        result.facts["measured_on"] = features
        run.task.stamp(run, stage, result)
        result.facts.update(file_stats(result.path))


def portable_path(path: Path) -> str:
    """`path` relative to the working directory when it lies below it, else only its last two parts."""
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else str(Path(*Path(path).parts[-2:]))
