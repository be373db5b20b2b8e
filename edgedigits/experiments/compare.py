"""`edgedigits compare`: models side by side ("comparison at a glance"), measured the same way for every model.

Each model goes through the whole pipeline (train, prune, export, quantize), or a finished run's manifest is
reused. Then every shipped file is scored on the full test set through onnxruntime (accuracy and log loss from
scikit-learn) and timed at batch 1, round-robin across all models so they see the same machine.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edgedigits import runtime, tables
from edgedigits.errors import InputError
from edgedigits.experiments import outputs
from edgedigits.runtime import datasets
from edgedigits.runtime.bench import timing
from edgedigits.runtime.model.artifacts import ensure_writable_dir
from edgedigits.training import config, graphstats

log = logging.getLogger(__name__)

STAGES = (("pruned", "pruned fp32"), ("int8", "INT8"))


def recipe_for(name: str, dataset: str) -> config.Pipeline:
    """A pipeline by name, else the recipe in pipelines/ that trains model `name` on `dataset`, else the defaults."""
    from edgedigits.training import models

    candidates = []
    for path in sorted(config.PIPELINES_DIR.glob("*.toml")):
        recipe = config.load(str(path))
        if recipe.name == name or (recipe.model == name and recipe.dataset == dataset):
            candidates.append(recipe)
    exact = [r for r in candidates if r.name == name]
    for recipe in exact or candidates:
        if recipe.dataset != dataset:
            raise InputError(f"pipeline '{recipe.name}' trains on {recipe.dataset}, not {dataset}")
        return recipe
    models.get_spec(name)  # an unknown model is refused here, with the list of known ones
    recipe = config.Pipeline(model=name, dataset=dataset)
    recipe.name = f"{dataset}-{name}"
    return recipe


def run(names: list[str], dataset: str = "mnist", out_dir=None, exported_dir="exported", runs_dir="runs",
        retrain: bool = False, latency_runs: int = 2000, data_dir=None) -> tuple[str, list[Path]]:
    """`edgedigits compare`: each model's finished run reused (or its pipeline run into OUT_DIR/models), then all
    measured the same way; returns the markdown table and the files written (compare-DATASET.{md,json,png})."""
    out = ensure_writable_dir(out_dir or Path("compare") / dataset)
    models_dir = out / "models"
    recipes = [recipe_for(name, dataset) for name in names]  # every name checked before any training
    entries = []
    for recipe in recipes:
        found = None if retrain else finished(recipe, [Path(exported_dir), models_dir])
        if found:
            log.info(f"{recipe.name}: reusing {found[1] / (recipe.name + '.json')}")
            entries.append({"manifest": found[0], "dir": found[1], "reused": True})
            continue
        from edgedigits.training import pipeline

        log.info(f"{recipe.name}: running the pipeline ({recipe.model} on {recipe.dataset})")
        entries.append({"manifest": pipeline.run(recipe, models_dir, runs_dir, data_dir), "dir": models_dir,
                        "reused": False})
    rows = measure(entries, dataset, data_dir, latency_runs)
    machine = timing.machine_info()
    text = markdown(rows, dataset, machine)
    title = f"{dataset}: accuracy, weights and latency"
    data = {"dataset": dataset, "machine": machine, "rows": rows}
    return text, outputs.write(out, outputs.Output(f"compare-{dataset}", data, text, lambda p: plot(rows, p, title)))


def finished(recipe: config.Pipeline, dirs: list[Path]) -> tuple[dict, Path] | None:
    """A manifest (and its directory) already made for this recipe, in the first directory that has one."""
    for directory in dirs:
        path = directory / f"{recipe.name}.json"
        if path.is_file():
            manifest = read_manifest(directory, recipe.name)
            if manifest.get("dataset") == recipe.dataset and manifest.get("model") == recipe.model:
                return manifest, directory
    return None


# What `measure` reads from a manifest: stage -> keys (numbers); every one must be there.
MANIFEST_KEYS = {
    "fp32": ("test_accuracy", "time_s", "gzip_bytes"),
    "pruned": ("parameters", "nonzero_parameters", "kernel_sparsity", "time_s", "gzip_bytes", "sha256"),
    "int8": ("gzip_bytes", "sha256"),
}


def read_manifest(directory: Path, name: str) -> dict:
    """A finished run's manifest, checked for what `measure` needs and against its files' sha256s
    (artifacts.verify_set): a malformed one, or a missing or altered .onnx, is one InputError naming it."""
    from edgedigits.runtime.model.artifacts import verify_set

    path = directory / f"{name}.json"
    manifest = verify_set(directory, name)
    problem = None
    if not isinstance(manifest, dict) or not all(isinstance(manifest.get(k), str)
                                                 for k in ("name", "model", "dataset")):
        problem = "no name, model and dataset"
    else:
        stages = manifest.get("stages")
        for stage, keys in MANIFEST_KEYS.items():
            facts = stages.get(stage) if isinstance(stages, dict) else None
            absent = [k for k in keys if not isinstance(facts, dict) or isinstance(facts.get(k), bool)
                      or not isinstance(facts.get(k), (int, float, str))]
            if absent:
                problem = f"stages.{stage} lacks {', '.join(absent)}"
                break
    if problem:
        raise InputError(f"{path} is not an edgedigits manifest: {problem}")
    return manifest


def measure(entries: list[dict], dataset: str, data_dir=None, latency_runs: int = 2000) -> list[dict]:
    """Score and time the shipped files of each entry ({recipe, manifest, dir}); returns one row per model."""
    from edgedigits.training.report import log_loss

    ds = datasets.load(dataset, data_dir)
    timed = {}
    rows = []
    for entry in entries:
        manifest, directory = entry["manifest"], entry["dir"]
        stages = manifest["stages"]
        row = {
            "name": manifest["name"], "model": manifest["model"], "dataset": manifest["dataset"],
            "parameters": stages["pruned"]["parameters"],  # of the shipped network (narrower if structured-pruned)
            "macs": graphstats.macs(directory / manifest["files"]["pruned"]),  # from the file: older manifests lack it
            "nonzero_parameters": stages["pruned"]["nonzero_parameters"],
            "kernel_sparsity": stages["pruned"]["kernel_sparsity"],
            # the shipped network before magnitude pruning: for a structured-pruned model, its narrow dense network
            "dense_test_accuracy": stages.get("structured", stages["fp32"])["test_accuracy"],
            "train_time_s": stages["fp32"]["time_s"], "prune_time_s": stages["pruned"]["time_s"],
            "dense_gzip_bytes": stages["fp32"]["gzip_bytes"], "reused": entry["reused"],
        }
        for stage, _ in STAGES:
            path = directory / manifest["files"][stage]
            session = runtime.Classifier(path, threads=1)
            probs = session.probabilities(ds.x_test)
            row[f"{stage}_test_accuracy"] = round(runtime.top1(probs, ds.y_test), 2)
            row[f"{stage}_log_loss"] = log_loss(probs, ds.y_test, ds.num_classes)
            row[f"{stage}_bytes"] = path.stat().st_size
            row[f"{stage}_gzip_bytes"] = stages[stage]["gzip_bytes"]
            images = runtime.normalize(ds.x_test[:256])
            timed[(manifest["name"], stage)] = (runtime.runner(session.session), images)
        rows.append(row)
    log.info(f"batch-1 latency, 1 thread, {latency_runs} runs per file, round-robin over {len(timed)} files")
    samples = timing.interleaved_latency_us(timed, warmup=100, count=latency_runs)
    for row in rows:
        for stage, _ in STAGES:
            p = timing.percentiles(samples[(row["name"], stage)])
            row[f"{stage}_p50_us"], row[f"{stage}_p90_us"] = round(p["p50_us"], 1), round(p["p90_us"], 1)
    return rows


def markdown(rows: list[dict], dataset: str, machine: dict) -> str:
    table = tables.markdown(
        ["model", "params", "non-zero after pruning", "MACs", "dense %", "pruned %", "INT8 %", "INT8 log loss",
         "train s", "INT8 gzip B", "pruned fp32 p50 us", "INT8 p50 us"],
        [[f"{r['name']} ({r['model']})", f"{r['parameters']:,}", f"{r['nonzero_parameters']:,}", f"{r['macs']:,}",
          f"{r['dense_test_accuracy']:.2f}", f"{r['pruned_test_accuracy']:.2f}", f"{r['int8_test_accuracy']:.2f}",
          f"{r['int8_log_loss']:.4f}", f"{r['train_time_s']:.0f}", f"{r['int8_gzip_bytes']:,}",
          f"{r['pruned_p50_us']:.0f}", f"{r['int8_p50_us']:.0f}"] for r in sorted(rows, key=lambda r: r["parameters"])])
    return (f"# Comparison at a glance: {dataset}\n\nTest accuracy and log loss on the full test set through "
            f"onnxruntime on each shipped file; batch-1 latency p50 with one thread, round-robin over all files, on "
            f"{machine['cpu']} ({machine['cores']} cores).\n\n{table}\n")


def plot(rows: list[dict], path: Path, title: str) -> None:
    """Accuracy against parameters (dense and after pruning), and batch-1 latency per model."""
    from edgedigits import plots

    rows = sorted(rows, key=lambda r: r["parameters"])
    fig, (left, right) = plots.pyplot().subplots(1, 2, figsize=(13, 5))
    for r in rows:
        left.plot([r["parameters"], r["nonzero_parameters"]], [r["dense_test_accuracy"], r["int8_test_accuracy"]],
                  color="lightgray", zorder=1)
    left.scatter([r["parameters"] for r in rows], [r["dense_test_accuracy"] for r in rows], label="dense fp32",
                 zorder=2)
    left.scatter([r["nonzero_parameters"] for r in rows], [r["int8_test_accuracy"] for r in rows], marker="s",
                 label="pruned INT8 (non-zero weights)", zorder=2)
    for r in rows:
        left.annotate(r["name"], (r["parameters"], r["dense_test_accuracy"]), textcoords="offset points",
                      xytext=(4, 4), fontsize=8)
    left.set(xscale="log", xlabel="parameters (log)", ylabel="test accuracy %")
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=8)
    x = np.arange(len(rows))
    right.bar(x - 0.2, [r["pruned_p50_us"] for r in rows], 0.4, label="pruned fp32")
    right.bar(x + 0.2, [r["int8_p50_us"] for r in rows], 0.4, label="INT8")
    right.set_xticks(x, [r["name"] for r in rows], rotation=30)
    right.set(ylabel="batch-1 latency p50, us (1 thread)", yscale="log")
    right.grid(alpha=0.3, axis="y")
    right.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    plots.save(fig, path)
