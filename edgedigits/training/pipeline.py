"""train-prune-export: run one recipe through its stages (edgedigits/training/stages) and ship
exported/NAME{.onnx,.int8.onnx,.json}; and the single-step commands, which run the same stage modules.

Each stage is scored through onnxruntime on the full test set of the artifact itself. Everything is built in the
run directory first; the three shipped files replace the old ones only after every stage and gate has passed.
"""

from __future__ import annotations

import json
import logging
import platform
from importlib import metadata as importlib_metadata
from pathlib import Path

from edgedigits import runtime, tables
from edgedigits.runtime.bench import timing
from edgedigits.runtime.model.artifacts import atomic_path, clean_stale, ensure_writable_dir, replace_set
from edgedigits.training import metadata, models, stages
from edgedigits.training.config import Pipeline, to_dict
from edgedigits.training.stages import Result, Run, pipeline_file
from edgedigits.training.stages.report import stamp

log = logging.getLogger(__name__)
LIBRARIES = ("tensorflow", "tf-keras", "tensorflow-model-optimization", "tf2onnx", "onnx", "onnxruntime", "numpy")


def run(pipeline: Pipeline, out_dir="exported", runs_dir="runs", data_dir=None) -> dict:
    """Every enabled stage of the recipe, then the manifest from their results; returns the shipped manifest."""
    # Every input is checked before the first line of progress, so a bad one gives exactly one line of error.
    out_dir = ensure_writable_dir(out_dir)
    run_dir = ensure_writable_dir(Path(runs_dir) / pipeline.name)
    clean_stale(run_dir)  # temp files of an earlier run that was killed
    models.get_spec(pipeline.model)
    ctx = stages.run(stages.open_run(pipeline, run_dir, data_dir), stages.enabled(pipeline))
    manifest = build_manifest(ctx)
    name, scored = pipeline.name, ctx.scored()
    # the shipped set replaced as one unit (artifacts.replace_set), the manifest last
    replace_set(out_dir, name, [(f"{name}.onnx", scored["pruned"].path.read_bytes()),
                                (f"{name}.int8.onnx", scored["int8"].path.read_bytes()),
                                (f"{name}.json", (json.dumps(manifest, indent=2) + "\n").encode())])
    return manifest


def build_manifest(ctx: Run) -> dict:
    recipe, ds = ctx.recipe, ctx.ds
    extra = {key: value for result in ctx.results.values() for key, value in result.manifest.items()}
    facts = timing.machine_info()
    return {
        "name": recipe.name,
        "model": recipe.model,
        "dataset": ds.name,
        "labels": list(ds.labels),
        "data_source": ds.origin,
        "data_sha256": ds.sha256,
        "test_images": int(len(ctx.split.y_test)),
        "input": {"name": metadata.INPUT_NAME, "shape": ["N", 28, 28, 1], "normalization": runtime.NORMALIZATION},
        "output": {"name": metadata.OUTPUT_NAME, "shape": ["N", ds.num_classes]},
        "stages": {stage: result.facts for stage, result in ctx.scored().items()},
        # kept widths per layer, MACs and parameters before/after, the per-step history; null when not enabled
        "structured": extra.pop("structured", None),
        "times_s": ctx.times(),
        "pipeline_file": pipeline_file(recipe),
        "pipeline": {**to_dict(recipe), "path": pipeline_file(recipe)},
        "libraries": {name: importlib_metadata.version(name) for name in LIBRARIES},
        "machine": {"cpu": facts["cpu"], "cores": facts["cores"], "features": facts["features"],
                    "platform": platform.platform()},
        "files": {"pruned": f"{recipe.name}.onnx", "int8": f"{recipe.name}.int8.onnx"},
        **extra,
    }


def train_only(recipe: Pipeline, runs_dir="runs", data_dir=None) -> Run:
    """`edgedigits train`: the train stage and the run report, in RUNS_DIR/NAME."""
    ctx = stages.open_run(recipe, ensure_writable_dir(Path(runs_dir) / recipe.name), data_dir)
    return stages.run(ctx, ["train", "report"])


def prune_only(recipe: Pipeline, model_path=None, runs_dir="runs", data_dir=None) -> Result:
    """`edgedigits prune`: the prune stage on a trained Keras model (default RUNS_DIR/NAME/dense.keras)."""
    from edgedigits.training import train

    run_dir = ensure_writable_dir(Path(runs_dir) / recipe.name)
    ctx = stages.open_run(recipe, run_dir, data_dir, model=train.load_model(model_path or run_dir / "dense.keras"))
    return stages.run(ctx, ["prune"]).results["prune"]


def export_file(keras_path, output, recipe: Pipeline, data_dir=None) -> Result:
    """`edgedigits export`: the export stage on a saved Keras model, into `output`, stamped like a pipeline's file
    (as stage `pruned` if its kernels have zeros, else `fp32`)."""
    from edgedigits.training import prune, train

    model = train.load_model(keras_path)
    with stages.quiet():
        ctx = stages.open_run(recipe, Path(output).parent, data_dir, record=False, model=model)
        ctx.model_stage = "pruned" if prune.sparsity_report(model)["kernel_sparsity"] > 0 else "fp32"
        ctx.files[ctx.model_stage] = Path(output)
        stages.run(ctx, ["export"])
        stamp(ctx)
    return ctx.results["export"]


def quantize_file(onnx_path, output, recipe: Pipeline, data_dir=None) -> tuple[float, Result]:
    """`edgedigits quantize`: the quantize stage on an fp32 ONNX file; `output` is written only if the accuracy gate
    passed. Returns the fp32 file's test accuracy and the INT8 result."""
    from edgedigits.training import quantize

    runtime.open_session(onnx_path)  # a missing or unreadable model is one line of error, before any progress
    with stages.quiet(), atomic_path(output) as staged:  # OUTPUT is replaced only if the gate passes
        ctx = stages.open_run(recipe, Path(output).parent, data_dir, record=False)
        ctx.files["int8"] = staged
        before = runtime.accuracy(onnx_path, ctx.ds.x_test, ctx.ds.y_test)
        ctx.results["input"] = Result("fp32", Path(onnx_path), {"test_accuracy": before})
        stages.run(ctx, ["quantize"])
        stamp(ctx, ["int8"])
    result = ctx.results["quantize"]
    result.path = Path(output)
    log.info(quantize.describe(result.facts["quantization"]))
    return before, result


def table(manifest: dict) -> str:
    rows = [["stage", "test acc %", "params", "non-zero", "MACs", "bytes", "gzip bytes", "time s"]]
    for stage, s in manifest["stages"].items():  # fp32, [structured,] pruned, int8
        m = f"{s['macs']:,}" if "macs" in s else "-"  # manifests written before MACs were recorded
        rows.append([stage, f"{s['test_accuracy']:.2f}", f"{s['parameters']:,}", f"{s['nonzero_parameters']:,}", m,
                     f"{s['bytes']:,}", f"{s['gzip_bytes']:,}", f"{s['time_s']:.1f}"])
    return tables.text(rows)
