"""train-prune-export: run one pipeline recipe through every stage and ship exported/NAME{.onnx,.int8.onnx,.json}.

Each stage is scored through onnxruntime on the full test set of the artifact itself. Everything is built in the
run directory first; the three shipped files replace the old ones only after every stage and gate has passed.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from importlib import metadata as importlib_metadata
from pathlib import Path

from edgedigits import runtime
from edgedigits.runtime import data, timing
from edgedigits.training import export, graphstats, models, prune, quantize, report, structured, train
from edgedigits.runtime.artifacts import atomic_path, clean_stale, ensure_writable_dir, file_stats, replace_set
from edgedigits.training.config import PIPELINES_DIR, Pipeline, check_sizes, to_dict
from edgedigits.errors import AccuracyGateError

LIBRARIES = ("tensorflow", "tf-keras", "tensorflow-model-optimization", "tf2onnx", "onnx", "onnxruntime", "numpy")


def _machine() -> dict:
    facts = timing.machine_info()
    return {"cpu": facts["cpu"], "cores": facts["cores"], "features": facts["features"], "platform": platform.platform()}


def library_versions() -> dict:
    return {name: importlib_metadata.version(name) for name in LIBRARIES}


@contextlib.contextmanager
def timed(times: dict, step: str):
    """Record the wall time of the block in times[step], in seconds."""
    start = time.perf_counter()
    yield
    times[step] = round(time.perf_counter() - start, 2)


def export_and_score(model, path: Path, split: train.Split, pipeline: Pipeline, meta: dict, log) -> dict:
    """Export `model` to `path` with metadata, check parity, score on the full test set; returns stage facts.
    `path` is replaced only once parity and scoring passed: a failed export leaves the old file as it was."""
    train.check_model(model, len(meta["labels"]))
    proto = export.to_onnx(model, pipeline.export.opset)
    export.set_metadata(proto, **meta)
    n = pipeline.export.parity_images
    with atomic_path(path) as staged:
        export.save(proto, staged)
        check = export.parity(model, staged, split.x_test[:n], pipeline.export.parity_tolerance)
        acc = runtime.accuracy(staged, split.x_test, split.y_test)
    log(f"  {path.name}: parity max|diff| {check['max_abs_diff']:.2e}, argmax agreement {check['argmax_agreement']:.4f};"
        f" test accuracy {acc:.2f}% (onnxruntime, {len(split.y_test)} images)")
    return {"parity": check, "test_accuracy": acc}


def quantize_and_score(pruned_path: Path, int8_path: Path, ds, split: train.Split, pipeline: Pipeline, pruned: dict,
                       log, gate: bool = True) -> dict:
    """Quantize the pruned model, score it on the test set and count its non-zero weights; returns stage facts.

    `pruned` is the pruned stage's facts (test_accuracy and its sparsity report). With `gate`, losing more than
    quantize.max_accuracy_drop points is an AccuracyGateError; a sweep passes gate=False to chart the loss instead.
    """
    calibration = quantize.calibration_images(ds, pipeline)
    settings = quantize.quantize(pruned_path, int8_path, calibration, (split.x_val, split.y_val), pipeline.quantize)
    log(quantize.describe(settings))
    int8_acc = runtime.accuracy(int8_path, split.x_test, split.y_test)
    drop = pruned["test_accuracy"] - int8_acc
    log(f"  int8 test accuracy {int8_acc:.2f}% (drop {drop:+.2f} points, limit {pipeline.quantize.max_accuracy_drop})")
    if gate and drop > pipeline.quantize.max_accuracy_drop:
        raise AccuracyGateError(
            f"INT8 model lost {drop:.2f} accuracy points (limit {pipeline.quantize.max_accuracy_drop}); nothing written"
        )
    weights = graphstats.weight_stats(int8_path)
    # Kernels are counted in the INT8 graph itself (a weight can round to 0; a variant may keep some in fp32);
    # other parameters are as when pruned.
    kernel_nonzero = sum(layer["kernel"] - layer["zeros"] for layer in pruned["layers"].values())
    nonzero = (pruned["nonzero_parameters"] - kernel_nonzero + weights["int8_weights"] - weights["int8_zeros"]
               + weights["float_weights"] - weights["float_zeros"])
    return {"test_accuracy": int8_acc, "quantization": settings, "parameters": pruned["parameters"],
            "nonzero_parameters": nonzero, **weights}


def _finalize(path: Path, pipeline: Pipeline, meta: dict) -> None:
    """Stamp a stage's file with what it is and how it scored (export.finalize), in place."""
    import onnx

    proto = onnx.load(str(path))
    source = models.get_spec(pipeline.model).source
    export.finalize(proto, export.describe(meta, source), **meta)
    export.save(proto, path)


def run(pipeline: Pipeline, out_dir="exported", runs_dir="runs", data_dir=None, log=print) -> dict:
    # Every input is checked before the first line of progress, so a bad one gives exactly one line of error.
    out_dir = ensure_writable_dir(out_dir)
    run_dir = ensure_writable_dir(Path(runs_dir) / pipeline.name)
    clean_stale(run_dir)  # temp files of an earlier run that was killed
    models.get_spec(pipeline.model)
    ds = data.load(pipeline.dataset, data_dir)
    check_sizes(pipeline, len(ds.x_train), len(ds.x_test))
    log(f"pipeline {pipeline.path or pipeline.name}: model {pipeline.model}, dataset {pipeline.dataset}")
    log(f"data: {pipeline.dataset} from {ds.source}")
    split = train.Split.from_dataset(ds, pipeline.validation, pipeline.seed, pipeline.train_limit)
    log(f"split: {len(split.x_train)} train / {len(split.x_val)} validation / {len(split.x_test)} test images")
    meta = export.base_metadata(ds.labels, ds.name, pipeline.name)
    times = {}
    stages = {}

    shrinking = pipeline.structured.enabled
    total = 5 if shrinking else 4
    step = iter(range(1, total + 1))
    parameters = record_run(run_dir, pipeline, ds)
    log(f"[{next(step)}/{total}] train {pipeline.model} ({parameters:,} parameters)")
    with timed(times, "train"):
        dense = train.train(pipeline.model, split, pipeline.train, pipeline.seed, run_dir, ds.num_classes, log)
    report.write_run_info(run_dir, train_time_s=times["train"])
    with timed(times, "export_fp32"):
        fp32 = export_and_score(dense, run_dir / "fp32.onnx", split, pipeline, meta, log)
    stages["fp32"] = {**fp32, **prune.sparsity_report(dense), "macs": structured.macs(dense), "time_s": times["train"]}

    shrunk = None
    if shrinking:
        log(f"[{next(step)}/{total}] structured pruning to {pipeline.structured.widths} ({pipeline.structured.steps} steps)")
        with timed(times, "structured"):
            dense, shrunk = structured.structured_prune(dense, split, pipeline.structured, pipeline.seed, run_dir, log)
        kept = ", ".join(f"{k} {v['after']}/{v['before']}" for k, v in shrunk["widths"].items())
        log(f"  kept widths {kept}; "
            f"MACs {shrunk['macs']['before']:,} -> {shrunk['macs']['after']:,} ({shrunk['macs']['ratio']}x fewer)")
        with atomic_path(run_dir / "structured.keras") as tmp:
            dense.save(str(tmp))
        with timed(times, "export_structured"):
            scored = export_and_score(dense, run_dir / "structured.onnx", split, pipeline, meta, log)
        stages["structured"] = {**scored, **prune.sparsity_report(dense), "macs": structured.macs(dense),
                                "time_s": times["structured"]}

    log(f"[{next(step)}/{total}] prune to {pipeline.prune.target_sparsity:.0%} kernel sparsity ({pipeline.prune.epochs} epochs)")
    with timed(times, "prune"):
        pruned = prune.prune(dense, split, pipeline.prune, pipeline.seed, run_dir, log)
    sparsity = prune.sparsity_report(pruned)
    log("  sparsity: " + ", ".join(f"{k} {v['sparsity']:.1%}" for k, v in sparsity["layers"].items())
        + f"; all kernels {sparsity['kernel_sparsity']:.1%}")
    with atomic_path(run_dir / "pruned.keras") as tmp:
        pruned.save(str(tmp))
    report.write_run_info(run_dir, prune_time_s=times["prune"])

    log(f"[{next(step)}/{total}] export ONNX")
    pruned_path = run_dir / "pruned.onnx"
    with timed(times, "export"):
        scored = export_and_score(pruned, pruned_path, split, pipeline, meta, log)
    stages["pruned"] = {**scored, **sparsity, "macs": structured.macs(pruned), "time_s": times["prune"]}

    log(f"[{next(step)}/{total}] quantize INT8")
    int8_path = run_dir / "int8.onnx"
    with timed(times, "quantize"):
        stages["int8"] = quantize_and_score(pruned_path, int8_path, ds, split, pipeline, stages["pruned"], log)
    stages["int8"].update(macs=stages["pruned"]["macs"], time_s=times["quantize"])

    paths = {"fp32": run_dir / "fp32.onnx", "structured": run_dir / "structured.onnx", "pruned": pruned_path,
             "int8": int8_path}
    features = timing.machine_info()["features"]
    for stage in stages:
        path = paths[stage]
        stages[stage]["measured_on"] = features  # INT8 accuracy depends on the CPU's instruction set
        _finalize(path, pipeline, {**meta, "stage": stage, "test_accuracy": round(stages[stage]["test_accuracy"], 2),
                                   "measured_on": features, "kernel_sparsity": stages[stage]["kernel_sparsity"],
                                   "macs": stages[stage]["macs"]})
        stages[stage].update(file_stats(path))
    manifest = {
        "name": pipeline.name,
        "model": pipeline.model,
        "dataset": ds.name,
        "labels": list(ds.labels),
        "data_source": ds.origin,
        "data_sha256": ds.sha256,
        "test_images": int(len(split.y_test)),
        "input": {"name": export.INPUT_NAME, "shape": ["N", 28, 28, 1], "normalization": runtime.NORMALIZATION},
        "output": {"name": export.OUTPUT_NAME, "shape": ["N", ds.num_classes]},
        "stages": stages,
        # kept widths per layer, MACs and parameters before/after, the per-step history; null when not enabled
        "structured": shrunk,
        "times_s": times,
        "pipeline_file": pipeline_file(pipeline),
        "pipeline": {**to_dict(pipeline), "path": pipeline_file(pipeline)},
        "libraries": library_versions(),
        "machine": _machine(),
        "files": {"pruned": f"{pipeline.name}.onnx", "int8": f"{pipeline.name}.int8.onnx"},
    }
    log("report: curves, confusion matrices, classification reports")
    report.write(run_dir, data_dir, log)
    manifest["report"] = portable_path(run_dir / "report.md")
    _ship(out_dir, pipeline.name, pruned_path, int8_path, manifest)
    return manifest


def record_run(run_dir: Path, pipeline: Pipeline, ds) -> int:
    """Start run_dir/run.json (what is trained on what, for `edgedigits report`); returns the parameter count."""
    parameters = models.count_params(pipeline.model, ds.num_classes)
    report.write_run_info(run_dir, name=pipeline.name, model=pipeline.model, dataset=ds.name, parameters=parameters,
                          seed=pipeline.seed, pipeline=pipeline_file(pipeline))
    return parameters


def pipeline_file(pipeline: Pipeline) -> str:
    """The recipe as a manifest names it: pipelines/NAME.toml for a packaged recipe or one in ./pipelines, else the
    file's name. Manifests never carry a local or home path."""
    if not pipeline.path:
        return ""
    path = Path(pipeline.path)
    if path.resolve().parent in (PIPELINES_DIR.resolve(), Path("pipelines").resolve()):
        return f"pipelines/{path.name}"
    return path.name


def portable_path(path: Path) -> str:
    """`path` relative to the working directory when it lies below it, else only its last two parts."""
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else str(Path(*Path(path).parts[-2:]))


def _ship(out_dir: Path, name: str, pruned_path: Path, int8_path: Path, manifest: dict) -> None:
    """Replace out_dir's set for `name` as one unit (artifacts.replace_set), the manifest last."""
    replace_set(out_dir, name, [(f"{name}.onnx", pruned_path.read_bytes()),
                                (f"{name}.int8.onnx", int8_path.read_bytes()),
                                (f"{name}.json", (json.dumps(manifest, indent=2) + "\n").encode())])


def table(manifest: dict) -> str:
    rows = [("stage", "test acc %", "params", "non-zero", "MACs", "bytes", "gzip bytes", "time s")]
    for stage, s in manifest["stages"].items():  # fp32, [structured,] pruned, int8
        m = f"{s['macs']:,}" if "macs" in s else "-"  # manifests written before MACs were recorded
        rows.append((stage, f"{s['test_accuracy']:.2f}", f"{s['parameters']:,}", f"{s['nonzero_parameters']:,}", m,
                     f"{s['bytes']:,}", f"{s['gzip_bytes']:,}", f"{s['time_s']:.1f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows)
