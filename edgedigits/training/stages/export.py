"""Stage `export`: the model in hand to ONNX (tf2onnx), checked against Keras and scored on the full test set."""

from __future__ import annotations

import logging
from pathlib import Path

from edgedigits import runtime
from edgedigits.runtime.model.artifacts import atomic_path
from edgedigits.training import export, metadata, prune, structured, train
from edgedigits.training.stages import Result, Run, timed

log = logging.getLogger(__name__)


def describe(ctx: Run) -> str:
    return "export ONNX"


def run(ctx: Run) -> Result:
    times, path = {}, ctx.path(ctx.model_stage)
    with timed(times, "export"):
        facts = export_and_score(ctx, ctx.model, path)
    return Result(ctx.model_stage, path, {**facts, "time_s": ctx.model_time}, times)


def export_and_score(ctx: Run, model, path: Path) -> dict:
    """Export `model` to `path` with the contract's metadata, check parity, score on the full test set; returns the
    stage's facts (parity, test accuracy, parameters and sparsity, MACs). `path` is replaced only once parity and
    scoring passed: a failed export leaves the old file as it was."""
    recipe, split = ctx.recipe, ctx.split
    train.check_model(model, ctx.ds.num_classes)
    proto = export.to_onnx(model, recipe.export.opset)
    metadata.set_metadata(proto, **metadata.base_metadata(ctx.ds.labels, ctx.ds.name, recipe.name))
    with atomic_path(path) as staged:
        export.save(proto, staged)
        images = split.x_test[: recipe.export.parity_images]
        check = export.parity(model, staged, images, recipe.export.parity_tolerance)
        acc = runtime.accuracy(staged, split.x_test, split.y_test)
    log.info(f"  {path.name}: parity max|diff| {check['max_abs_diff']:.2e}, argmax agreement "
             f"{check['argmax_agreement']:.4f}; test accuracy {acc:.2f}% (onnxruntime, {len(split.y_test)} images)")
    return {"parity": check, "test_accuracy": acc, **prune.sparsity_report(model), "macs": structured.macs(model)}
