"""Stage `prune`: magnitude pruning of the model in hand (tfmot) to the [prune] table's targets; the pruned model
is what the `export` stage ships."""

from __future__ import annotations

import logging

from edgedigits.training.progress import timed
from edgedigits.training.run import Result, Run
from edgedigits.training.stages import STAGES, Stage

log = logging.getLogger(__name__)


@STAGES.register("prune")
class Prune(Stage):
    switch = "prune"
    order, needs, makes = 30, ("model",), ("model",)

    @staticmethod
    def describe(run: Run) -> str:
        cfg = run.recipe.prune
        return f"prune to {cfg.target_sparsity:.0%} kernel sparsity ({cfg.epochs} epochs)"

    @staticmethod
    def run(run: Run) -> Result:
        from edgedigits.training import prune

        times, cfg = {}, run.recipe.prune
        teachers = run.task.teachers(run, cfg)
        with timed(times, "prune"):
            pruned = prune.prune(run.model, run.data, cfg, run.recipe.seed, run.run_dir, teachers)
        sparsity = prune.sparsity_report(pruned)
        log.info("  sparsity: " + ", ".join(f"{k} {v['sparsity']:.1%}" for k, v in sparsity["layers"].items())
                 + f"; all kernels {sparsity['kernel_sparsity']:.1%}")
        run.keep(pruned, "pruned", times["prune"], "pruned.keras")
        run.task.record_time(run, prune_time_s=times["prune"])
        return Result(facts=sparsity, times=times)
