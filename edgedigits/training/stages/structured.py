"""Stage `structured` (when [structured] is enabled): whole filters and units removed, the narrow model exported and
scored as `structured`; its kept widths and MACs go into the manifest."""

from __future__ import annotations

import logging

from edgedigits.training import structured
from edgedigits.training.stages import Result, Run, timed
from edgedigits.training.stages.export import export_and_score

log = logging.getLogger(__name__)


def enabled(recipe) -> bool:
    return recipe.structured.enabled


def describe(ctx: Run) -> str:
    cfg = ctx.recipe.structured
    return f"structured pruning to {cfg.widths} ({cfg.steps} steps)"


def run(ctx: Run) -> Result:
    times = {}
    with timed(times, "structured"):
        model, shrunk = structured.structured_prune(ctx.model, ctx.split, ctx.recipe.structured, ctx.recipe.seed,
                                                    ctx.run_dir)
    kept = ", ".join(f"{k} {v['after']}/{v['before']}" for k, v in shrunk["widths"].items())
    log.info(f"  kept widths {kept}; "
             f"MACs {shrunk['macs']['before']:,} -> {shrunk['macs']['after']:,} ({shrunk['macs']['ratio']}x fewer)")
    ctx.keep(model, "structured", times["structured"], "structured.keras")
    path = ctx.path("structured")
    with timed(times, "export_structured"):
        facts = export_and_score(ctx, model, path)
    return Result("structured", path, {**facts, "time_s": times["structured"]}, times, {"structured": shrunk})
