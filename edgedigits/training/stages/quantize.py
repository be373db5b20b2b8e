"""Stage `quantize`: INT8 of the last scored file (onnxruntime static QDQ variants, the [quantize] table's choice),
refused past quantize.max_accuracy_drop on the test set; its non-zero weights are counted in the INT8 graph."""

from __future__ import annotations

from edgedigits.training import graphstats, quantize
from edgedigits.training.stages import Result, Run, timed


def describe(ctx: Run) -> str:
    return "quantize INT8"


def run(ctx: Run) -> Result:
    source, path, times = ctx.last_scored(), ctx.path("int8"), {}
    cfg = ctx.recipe.quantize
    with timed(times, "quantize"):
        settings, accuracy = quantize.quantize_with_accuracy_control(
            source.path, path, source.facts["test_accuracy"], ctx.ds, ctx.split, ctx.recipe,
            cfg.max_accuracy_drop if ctx.gate else None)
        facts = {"test_accuracy": accuracy, "quantization": settings, **_counts(source.facts, path)}
    macs = source.facts["macs"] if "macs" in source.facts else graphstats.macs(source.path)
    return Result("int8", path, {**facts, "macs": macs, "time_s": times["quantize"]}, times)


def _counts(source: dict, path) -> dict:
    """Parameters and non-zero parameters counted in the INT8 graph itself, as a user gets it (a weight can round
    to 0, a variant may keep some kernels in fp32, batch norm is folded into the convolutions: one bias per channel,
    not four statistics), with its weight statistics."""
    return {**graphstats.parameter_stats(path), **graphstats.weight_stats(path)}
