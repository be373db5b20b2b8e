"""Stage `prune`: magnitude pruning of the model in hand (tfmot) to the [prune] table's targets; the pruned model
is what the `export` stage ships."""

from __future__ import annotations

import logging

from edgedigits.training import distill, prune, report
from edgedigits.training.stages import Result, Run, timed

log = logging.getLogger(__name__)


def describe(ctx: Run) -> str:
    cfg = ctx.recipe.prune
    return f"prune to {cfg.target_sparsity:.0%} kernel sparsity ({cfg.epochs} epochs)"


def run(ctx: Run) -> Result:
    times, cfg, extra = {}, ctx.recipe.prune, {}
    teachers = distill.OnnxTeachers(cfg.teachers, ctx.ds.num_classes) if cfg.distill else None
    if teachers:
        extra["prune_distilled_from"] = teachers.facts(cfg.teachers)
    with timed(times, "prune"):
        pruned = prune.prune(ctx.model, ctx.split, cfg, ctx.recipe.seed, ctx.run_dir, teachers)
    sparsity = prune.sparsity_report(pruned)
    log.info("  sparsity: " + ", ".join(f"{k} {v['sparsity']:.1%}" for k, v in sparsity["layers"].items())
             + f"; all kernels {sparsity['kernel_sparsity']:.1%}")
    ctx.keep(pruned, "pruned", times["prune"], "pruned.keras")
    report.write_run_info(ctx.run_dir, prune_time_s=times["prune"])
    return Result(facts=sparsity, times=times, manifest=extra)
