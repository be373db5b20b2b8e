"""Stage `train`: a fresh registry model trained as the [train] table says, saved, exported and scored as `fp32`."""

from __future__ import annotations

from edgedigits.training import distill, report, train
from edgedigits.training.stages import Result, Run, timed
from edgedigits.training.stages.export import export_and_score


def describe(ctx: Run) -> str:
    return f"train {ctx.recipe.model} ({ctx.parameters:,} parameters)"


def run(ctx: Run) -> Result:
    recipe, times = ctx.recipe, {}
    cfg, extra = recipe.train, {}
    teachers = distill.OnnxTeachers(cfg.teachers, ctx.ds.num_classes) if cfg.distill else None
    if teachers:
        extra["distilled_from"] = teachers.facts(cfg.teachers)
    with timed(times, "train"):
        model = train.train(recipe.model, ctx.split, cfg, recipe.seed, ctx.run_dir, ctx.ds.num_classes, teachers)
    report.write_run_info(ctx.run_dir, train_time_s=times["train"])
    ctx.keep(model, "fp32", times["train"], "dense.keras")
    path = ctx.path("fp32")
    with timed(times, "export_fp32"):
        facts = export_and_score(ctx, model, path)
    return Result("fp32", path, {**facts, "time_s": times["train"]}, times, extra)
