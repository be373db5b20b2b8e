"""Stage `report`: every scored file stamped with what it is and how it scored, then the run report (curves,
confusion matrices, classification reports) written into the run directory."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from edgedigits.runtime.bench import timing
from edgedigits.runtime.model.artifacts import file_stats
from edgedigits.training import metadata, models, report
from edgedigits.training.stages import Result, Run

log = logging.getLogger(__name__)


def run(ctx: Run) -> Result:
    stamp(ctx)
    log.info("report: curves, confusion matrices, classification reports")
    report.write(ctx.run_dir, ctx.data_dir)
    return Result(manifest={"report": portable_path(ctx.run_dir / "report.md")})


def stamp(ctx: Run, stages: list[str] | None = None) -> None:
    """Write into each scored file (or those of `stages`) its stage, test accuracy, the CPU features it was measured
    on, sparsity and MACs (metadata_props and doc string), then record its size and sha256 in its facts."""
    import onnx

    features = timing.machine_info()["features"]  # INT8 accuracy depends on the CPU's instruction set
    base = metadata.base_metadata(ctx.ds.labels, ctx.ds.name, ctx.recipe.name)
    source = models.get_spec(ctx.recipe.model).source
    for stage, result in ctx.scored().items():
        if stages is not None and stage not in stages:
            continue
        facts = result.facts
        facts["measured_on"] = features
        meta = {**base, "stage": stage, "test_accuracy": round(facts["test_accuracy"], 2), "measured_on": features,
                "kernel_sparsity": facts["kernel_sparsity"], "macs": facts["macs"]}
        proto = onnx.load(str(result.path))
        metadata.finalize(proto, metadata.describe(meta, source), **meta)
        metadata.save(proto, result.path)
        facts.update(file_stats(result.path))


def portable_path(path: Path) -> str:
    """`path` relative to the working directory when it lies below it, else only its last two parts."""
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else str(Path(*Path(path).parts[-2:]))
