"""Stage `export`: the model in hand to ONNX (tf2onnx), checked against Keras and scored on the full test set."""

from __future__ import annotations

import logging
from pathlib import Path

from edgedigits.runtime.model.artifacts import atomic_path
from edgedigits.training.progress import timed
from edgedigits.training.run import Result, Run
from edgedigits.training.stages import STAGES, Stage

log = logging.getLogger(__name__)


@STAGES.register("export")
class Export(Stage):
    order, needs, makes = 40, ("model",), ("onnx",)

    @staticmethod
    def describe(run: Run) -> str:
        return "export ONNX"

    @staticmethod
    def run(run: Run) -> Result:
        times, path = {}, run.path(run.model_stage)
        with timed(times, "export"):
            facts = export_and_score(run, run.model, path)
        return Result(run.model_stage, path, {**facts, "time_s": run.model_time}, times)


def export_and_score(run: Run, model, path: Path) -> dict:
    """Export `model` to `path` with the task's contract, check parity, score on the full test set; returns the
    stage's facts (parity, test scores, the model's parameters, sparsity and MACs). `path` is replaced only once
    parity and scoring passed: a failed export leaves the old file as it was."""
    from edgedigits.training import export

    task, cfg = run.task, run.recipe.export
    task.check_model(model, run.ds)
    proto = export.to_onnx(task.exportable(model), task.signature(run), cfg.opset)
    task.finalize(proto, run)
    with atomic_path(path) as staged:
        export.save(proto, staged)
        check = export.parity(task.exportable(model), staged, task.parity_inputs(run), cfg.parity_tolerance)
        scores = task.score(run, staged)
    log.info(f"  {path.name}: parity max|diff| {check['max_abs_diff']:.2e}, argmax agreement "
             f"{check['argmax_agreement']:.4f}; test accuracy {scores['test_accuracy']:.2f}% (onnxruntime)")
    return {"parity": check, **scores, **task.model_facts(model)}
