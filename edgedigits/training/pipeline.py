"""train-prune-export: one recipe through its stages (edgedigits/training/stages), every kind of model the same
way; and the single-step commands, which run the same stages on a run made from a saved model or an ONNX file.
Each stage is scored through onnxruntime on the full test set of the artifact itself. Everything is built in the
run directory first; the shipped files replace the old ones only after every stage and gate has passed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from edgedigits import runtime, tables
from edgedigits.runtime.model.artifacts import atomic_path, clean_stale, ensure_writable_dir
from edgedigits.training import stages, tasks
from edgedigits.training.config import Pipeline
from edgedigits.training.progress import quiet
from edgedigits.training.run import Result, Run
from edgedigits.training.stages.report import stamp

log = logging.getLogger(__name__)


def run(recipe: Pipeline, out_dir="exported", runs_dir="runs", data_dir=None, gate: bool = True) -> dict:
    """Every enabled stage of the recipe, then the shipped set and its manifest; returns the manifest. With
    gate=False (sweeps) every loss is measured and nothing is refused."""
    # Every input is checked before the first line of progress, so a bad one gives exactly one line of error.
    out_dir = ensure_writable_dir(out_dir)
    run_dir = ensure_writable_dir(Path(runs_dir) / recipe.name)
    clean_stale(run_dir)  # temp files of an earlier run that was killed
    names = stages.enabled(recipe)
    saved = getattr(tasks.TASKS.get(recipe.task), "saved_model", lambda recipe: None)(recipe)
    if saved is not None:  # a saved model starts at pruning: stage `saved` scores it as it is
        start = Run.from_saved_model(recipe, saved, run_dir, data_dir, gate=gate, out_dir=out_dir, record=True)
    else:
        start = Run.from_recipe(recipe, run_dir, data_dir, out_dir=out_dir, gate=gate)
    done = stages.run_stages(start, names)
    return done.results["ship"].manifest["shipped"]


def train_only(recipe: Pipeline, runs_dir="runs", data_dir=None) -> Run:
    """`edgedigits train`: the train stage and the run report, in RUNS_DIR/NAME."""
    done = Run.from_recipe(recipe, ensure_writable_dir(Path(runs_dir) / recipe.name), data_dir)
    return stages.run_stages(done, ["train", "report"])


def prune_only(recipe: Pipeline, model_path=None, runs_dir="runs", data_dir=None) -> Result:
    """`edgedigits prune`: the prune stage on a trained Keras model (default RUNS_DIR/NAME/dense.keras)."""
    run_dir = ensure_writable_dir(Path(runs_dir) / recipe.name)
    start = Run.from_saved_model(recipe, model_path or run_dir / "dense.keras", run_dir, data_dir)
    return stages.run_stages(start, ["prune"]).results["prune"]


def export_file(keras_path, output, recipe: Pipeline, data_dir=None) -> Result:
    """`edgedigits export`: the export stage on a saved Keras model, into `output`, stamped like a pipeline's file
    (as stage `pruned` if its kernels have zeros, else `fp32`)."""
    from edgedigits.training import prune
    from edgedigits.training.tasks import TASKS

    model = TASKS.get(recipe.task).load_model(keras_path)
    stage = "pruned" if prune.sparsity_report(model)["kernel_sparsity"] > 0 else "fp32"
    with quiet():
        done = Run.from_saved_model(recipe, model, Path(output).parent, data_dir, stage=stage, output=output)
        stages.run_stages(done, ["export"])
        stamp(done)
    return done.results["export"]


def quantize_file(onnx_path, output, recipe: Pipeline, data_dir=None) -> tuple[float, Result]:
    """`edgedigits quantize`: the quantize stage on an fp32 ONNX file; `output` is written only if the accuracy gate
    passed. Returns the fp32 file's test accuracy and the INT8 result."""
    from edgedigits.training import quantize

    runtime.open_session(onnx_path)  # a missing or unreadable model is one line of error, before any progress
    with quiet(), atomic_path(output) as staged:  # OUTPUT is replaced only if the gate passes
        done = Run.from_onnx(recipe, onnx_path, Path(output).parent, data_dir, output=staged)
        stages.run_stages(done, ["quantize"])
        stamp(done, ["int8"])
    result = done.results["quantize"]
    result.path = Path(output)
    log.info(quantize.describe(result.facts["quantization"]))
    return done.results["input"].facts["test_accuracy"], result


def table(manifest: dict) -> str:
    rows = [["stage", "test acc %", "params", "non-zero", "MACs", "bytes", "gzip bytes", "time s"]]
    for stage, s in manifest["stages"].items():  # fp32, [structured,] pruned, int8
        m = f"{s['macs']:,}" if "macs" in s else "-"  # manifests written before MACs were recorded
        rows.append([stage, f"{s['test_accuracy']:.2f}", f"{s['parameters']:,}", f"{s['nonzero_parameters']:,}", m,
                     f"{s['bytes']:,}", f"{s['gzip_bytes']:,}", f"{s['time_s']:.1f}"])
    return tables.text(rows)
