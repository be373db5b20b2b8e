"""Sweeps: independent trials (sparsities, optimizers, grid cells x folds) in worker processes or on a Ray cluster.

Each finished trial is written at once to OUT/trials/ID.json, so an interrupted sweep resumes where it stopped:
a trial whose file exists is not rerun. The files are the same whichever way the trials ran. Trials are plain Ray
tasks rather than Ray Tune trials: Tune's own checkpoint/resume layout would duplicate the one-file-per-trial
bookkeeping that also serves the local path, and none of these sweeps needs Tune's schedulers.

The trial functions import TensorFlow inside the worker; the parent process only schedules and aggregates.
"""

from __future__ import annotations

import itertools
import json
import math
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from edgedigits.training import config
from edgedigits.runtime.artifacts import ensure_writable_dir, write_json_atomic
from edgedigits.errors import InputError
from edgedigits.limits import MAX_FOLDS, MAX_TRIALS

SPARSITIES = (0.0, 0.5, 0.75, 0.9, 0.95, 0.98)
# The classic optimizer comparison. Learning rates are Keras' defaults, except Adadelta's 1.0 (the paper's and Keras'
# before 2.3: with 0.001 it barely moves in a few epochs) and SGD's momentum 0.9 for the Nesterov variant.
OPTIMIZERS = {
    "sgd": {"optimizer": "sgd", "learning_rate": 0.01},
    "sgd-nesterov": {"optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.9, "nesterov": True},
    "adam": {"optimizer": "adam", "learning_rate": 0.001},
    "adamax": {"optimizer": "adamax", "learning_rate": 0.001},
    "nadam": {"optimizer": "nadam", "learning_rate": 0.001},
    "adadelta": {"optimizer": "adadelta", "learning_rate": 1.0},
    "adagrad": {"optimizer": "adagrad", "learning_rate": 0.01},
    "rmsprop": {"optimizer": "rmsprop", "learning_rate": 0.001},
}


@dataclass
class Trial:
    id: str
    params: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------- scheduling


def run_trials(trials: list[Trial], fn: Callable[[dict], dict], out_dir: Path, workers: int = 1,
               ray_address: str | None = None, log=print) -> dict[str, dict]:
    """Run every trial not yet finished in out_dir/trials; returns {id: result} for all trials, in trial order."""
    check_trials(len(trials))
    trials_dir = ensure_writable_dir(Path(out_dir) / "trials")
    results, todo = {}, []
    for trial in trials:
        path = trials_dir / f"{trial.id}.json"
        if path.is_file():
            results[trial.id] = json.loads(path.read_text())
        else:
            todo.append(trial)
    where = f"Ray at {ray_address}" if ray_address else f"{workers} local worker process{'es' * (workers > 1)}"
    log(f"{len(trials)} trials: {len(results)} already finished in {trials_dir}, {len(todo)} to run on {where}")
    start = time.perf_counter()
    run = _run_on_ray(todo, fn, ray_address) if ray_address else _run_locally(todo, fn, workers)
    for n, (trial, result) in enumerate(run, 1):
        record = {"id": trial.id, "params": trial.params, **result}
        write_json_atomic(trials_dir / f"{trial.id}.json", record)
        results[trial.id] = record
        log(f"  trial {trial.id} done ({n}/{len(todo)}, {time.perf_counter() - start:.0f} s elapsed)")
    return {trial.id: results[trial.id] for trial in trials}


def _init_worker(threads: int) -> None:
    os.environ["EDGEDIGITS_THREADS"] = str(threads)


def _run_locally(todo: list[Trial], fn, workers: int):
    """Each trial in a fresh spawned process (TensorFlow state never leaks between trials); yields as they finish."""
    if not todo:
        return
    workers = max(1, min(workers, len(todo)))
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(threads,),
                             max_tasks_per_child=1) as pool:
        pending = {pool.submit(fn, trial.params): trial for trial in todo}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future.result()


def _run_on_ray(todo: list[Trial], fn, address: str):
    """One Ray task per trial; `address` is a cluster (ray://host:10001, host:6379, auto) or 'local' for a new one."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs Ray: pip install 'edgedigits[ray]'") from None
    if not todo:
        return
    ray.init(address=None if address == "local" else address, ignore_reinit_error=True, log_to_driver=False,
             include_dashboard=False)
    task = ray.remote(fn)
    pending = {task.remote(trial.params): trial for trial in todo}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        yield pending.pop(ready[0]), ray.get(ready[0])


# ------------------------------------------------------------------------------------------------ overrides


def parse_param(text: str) -> tuple[str, list]:
    """'batch_size=32,64' -> ('batch_size', [32, 64]); values are TOML literals, else plain strings."""
    key, sep, values = text.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise InputError(f"--param must look like name=value1,value2, got {text!r}")
    return key.strip(), [config.parse_value(raw) for raw in values.split(",")]


# ------------------------------------------------------------------------------------------- trial functions
# Module-level functions of one dict, so both a spawned process and a Ray worker can import and call them.


def _quiet(message: str) -> None:
    pass


def _setup(params: dict):
    from edgedigits.runtime import data
    from edgedigits.training import train

    recipe = config.with_overrides(config.load(params["pipeline"]), params.get("overrides", {}))
    ds = data.load(recipe.dataset, params.get("data_dir"))
    return recipe, ds, train


def _train(recipe: config.Pipeline, ds, split, run_dir: Path):
    """Train a fresh model as the recipe says, quietly; returns it and the training seconds."""
    from edgedigits.training import train
    from edgedigits.training.pipeline import timed

    times = {}
    with timed(times, "train"):
        model = train.train(recipe.model, split, recipe.train, recipe.seed, run_dir, ds.num_classes, _quiet)
    return model, round(times["train"], 1)


def train_base_trial(params: dict) -> dict:
    """Train the pipeline's model once; the sparsity sweep prunes this same model to every sparsity."""
    recipe, ds, train = _setup(params)
    split = train.Split.from_dataset(ds, recipe.validation, recipe.seed, recipe.train_limit)
    run_dir = Path(params["run_dir"])
    model, seconds = _train(recipe, ds, split, run_dir)
    model.save(str(run_dir / "base.keras"))
    return {"model": str(run_dir / "base.keras"), "train_time_s": seconds}


def sparsity_trial(params: dict) -> dict:
    """Prune the base model to one overall sparsity (0 = the dense model as is), export, quantize, score."""
    from edgedigits.training import export, pipeline, prune
    from edgedigits.runtime.artifacts import file_stats

    recipe, ds, train = _setup(params)
    split = train.Split.from_dataset(ds, recipe.validation, recipe.seed, recipe.train_limit)
    run_dir = ensure_writable_dir(params["run_dir"])
    model = train.load_model(params["base"])
    target = float(params["sparsity"])
    layer_targets = prune.scaled_targets(model, recipe.prune, target)
    times = {"prune": 0.0}
    if target > 0:
        cfg = replace(recipe.prune, target_sparsity=target, layers=layer_targets)
        with pipeline.timed(times, "prune"):
            model = prune.prune(model, split, cfg, recipe.seed, run_dir, _quiet)
    sparsity = prune.sparsity_report(model)
    meta = export.base_metadata(ds.labels, ds.name, recipe.name)
    fp32_path, int8_path = run_dir / "pruned.onnx", run_dir / "int8.onnx"
    scored = pipeline.export_and_score(model, fp32_path, split, recipe, meta, _quiet)
    fp32 = {**scored, **sparsity}
    int8 = pipeline.quantize_and_score(fp32_path, int8_path, ds, split, recipe, fp32, _quiet, gate=False)
    int8_file = file_stats(int8_path)
    return {
        "target_sparsity": target,
        "layer_targets": layer_targets,
        "kernel_sparsity": sparsity["kernel_sparsity"],
        "parameters": sparsity["parameters"],
        "nonzero_parameters": sparsity["nonzero_parameters"],
        "fp32_test_accuracy": scored["test_accuracy"],
        "fp32_gzip_bytes": file_stats(fp32_path)["gzip_bytes"],
        "int8_test_accuracy": int8["test_accuracy"],
        "int8_nonzero_parameters": int8["nonzero_parameters"],
        "int8_variant": int8["quantization"]["variant"],
        "int8_bytes": int8_file["bytes"],
        "int8_gzip_bytes": int8_file["gzip_bytes"],
        "prune_time_s": round(times["prune"], 1),
    }


def _history_result(run_dir: Path, target: float) -> dict:
    from edgedigits.training.report import read_history

    history = read_history(run_dir / "history.csv")
    val = history["val_accuracy"]
    reached = np.flatnonzero(val >= target)
    return {
        "val_accuracy": [round(float(v), 5) for v in val],
        "val_loss": [round(float(v), 5) for v in history["val_loss"]],
        "final_val_accuracy": round(100 * float(val[-1]), 2),
        "best_val_accuracy": round(100 * float(val.max()), 2),
        "best_epoch": int(val.argmax()) + 1,
        "epochs": int(len(val)),
        "epochs_to_target": int(reached[0]) + 1 if len(reached) else None,
    }


def optimizer_trial(params: dict) -> dict:
    """Train with one optimizer for a fixed budget (no early stopping), then score the export on the test set."""
    from edgedigits.training import export, pipeline

    recipe, ds, train = _setup(params)
    split = train.Split.from_dataset(ds, recipe.validation, recipe.seed, recipe.train_limit)
    run_dir = ensure_writable_dir(params["run_dir"])
    model, seconds = _train(recipe, ds, split, run_dir)
    meta = export.base_metadata(ds.labels, ds.name, recipe.name)
    scored = pipeline.export_and_score(model, run_dir / "fp32.onnx", split, recipe, meta, _quiet)
    return {**_history_result(run_dir, params["target"]), "train_time_s": seconds,
            "test_accuracy": scored["test_accuracy"]}


def fold_split(ds, recipe: config.Pipeline, fold: int, folds: int):
    """Fold `fold` of a stratified k-fold over the training images (the test set is never part of tuning)."""
    from sklearn.model_selection import StratifiedKFold

    from edgedigits.training import train
    from edgedigits.runtime import normalize

    x, y = ds.x_train, ds.y_train
    if recipe.train_limit:
        x, y = x[: recipe.train_limit], y[: recipe.train_limit]
    train_idx, val_idx = list(StratifiedKFold(folds, shuffle=True, random_state=recipe.seed).split(x, y))[fold]
    return train.Split(normalize(x[train_idx]), y[train_idx].astype(np.int64), normalize(x[val_idx]),
                       y[val_idx].astype(np.int64), ds.x_test, ds.y_test)


def grid_trial(params: dict) -> dict:
    """Train one grid cell on one fold; scored on that fold's held-out images."""
    recipe, ds, train = _setup(params)
    folds = int(params["folds"])
    if folds > 1:
        split = fold_split(ds, recipe, int(params["fold"]), folds)
    else:
        split = train.Split.from_dataset(ds, recipe.validation, recipe.seed, recipe.train_limit)
    run_dir = ensure_writable_dir(params["run_dir"])
    _, seconds = _train(recipe, ds, split, run_dir)
    return {**_history_result(run_dir, 1.0), "train_time_s": seconds,
            "train_images": int(len(split.x_train)), "validation_images": int(len(split.x_val))}


def pipeline_trial(params: dict) -> dict:
    """The whole train-prune-export for one cell (e.g. structured widths); its files go to the trial's own dirs."""
    from edgedigits.training import pipeline

    recipe = config.with_overrides(config.load(params["pipeline"]), params.get("overrides", {}))
    run_dir = Path(params["run_dir"])
    manifest = pipeline.run(recipe, run_dir / "exported", run_dir / "runs", params.get("data_dir"), _quiet)
    stages = manifest["stages"]
    last = stages["int8"]
    return {
        "stages": {name: {key: s.get(key) for key in ("test_accuracy", "parameters", "nonzero_parameters", "macs",
                                                      "gzip_bytes")} for name, s in stages.items()},
        "widths": {k: v["after"] for k, v in (manifest.get("structured") or {}).get("widths", {}).items()},
        "macs": last.get("macs"), "int8_test_accuracy": last["test_accuracy"],
        "pruned_test_accuracy": stages["pruned"]["test_accuracy"], "int8_gzip_bytes": last["gzip_bytes"],
        "int8_variant": last["quantization"]["variant"], "exported": str(run_dir / "exported"),
    }


# ---------------------------------------------------------------------------------------------- the sweeps


def _slug(value) -> str:
    return str(value).replace(".", "p").replace("/", "-").replace(" ", "")


def sparsity(recipe: config.Pipeline, sparsities, out_dir: Path, runs_dir: Path, base: str | None = None,
             data_dir=None, workers: int = 1, ray_address=None, overrides=None, log=print) -> list[dict]:
    """Prune one trained model to each sparsity; rows sorted by sparsity."""
    common = {"pipeline": recipe.path or recipe.name, "data_dir": data_dir, "overrides": overrides or {}}
    runs_dir = ensure_writable_dir(runs_dir)
    if base is None:
        trained = run_trials([Trial("base", {**common, "run_dir": str(runs_dir / "base")})], train_base_trial,
                             out_dir, workers, ray_address, log)
        base = trained["base"]["model"]
    elif not Path(base).is_file():
        raise InputError(f"base model not found: {base}")
    trials = [Trial(f"sparsity-{_slug(f'{100 * s:g}')}", {**common, "sparsity": s, "base": str(base),
                                                             "run_dir": str(runs_dir / f"sparsity-{_slug(s)}")})
              for s in sparsities]
    results = run_trials(trials, sparsity_trial, out_dir, workers, ray_address, log)
    return sorted(results.values(), key=lambda r: r["target_sparsity"])


def optimizers(recipe: config.Pipeline, names, epochs: int, target: float, out_dir: Path, runs_dir: Path,
               data_dir=None, workers: int = 1, ray_address=None, overrides=None, log=print) -> list[dict]:
    unknown = [n for n in names if n not in OPTIMIZERS]
    if unknown:
        raise InputError(f"unknown optimizer {', '.join(unknown)} (known: {', '.join(OPTIMIZERS)})")
    trials = []
    for name in names:
        budget = {f"train.{k}": v for k, v in OPTIMIZERS[name].items()}
        budget.update({"train.epochs": epochs, "train.early_stopping_patience": epochs})
        trials.append(Trial(f"optimizer-{name}", {
            "pipeline": recipe.path or recipe.name, "data_dir": data_dir, "overrides": {**(overrides or {}), **budget},
            "target": target, "run_dir": str(Path(runs_dir) / f"optimizer-{name}"), "optimizer": name}))
    config.with_overrides(recipe, trials[0].params["overrides"])  # a bad override fails here, not in every worker
    return list(run_trials(trials, optimizer_trial, out_dir, workers, ray_address, log).values())


def grid(recipe: config.Pipeline, params: dict[str, list], folds: int, out_dir: Path, runs_dir: Path, data_dir=None,
         workers: int = 1, ray_address=None, overrides=None, log=print) -> dict:
    """Every combination of `params` x every fold; returns per-trial rows, per-cell mean/std, and the best cell."""
    if not 1 <= folds <= MAX_FOLDS:
        raise InputError(f"folds must be in [1, {MAX_FOLDS}], got {folds}")
    cells = cells_of(params, folds)
    for cell in cells:
        config.with_overrides(recipe, {**(overrides or {}), **cell})  # every cell is a valid recipe before anything runs
    trials = []
    for cell in cells:
        cid = cell_id(cell)
        for fold in range(folds):
            trials.append(Trial(f"{cid}-fold{fold + 1}", {
                "pipeline": recipe.path or recipe.name, "data_dir": data_dir, "cell": cell, "cell_id": cid,
                "overrides": {**(overrides or {}), **cell}, "fold": fold, "folds": folds,
                "run_dir": str(Path(runs_dir) / f"{cid}-fold{fold + 1}")}))
    results = run_trials(trials, grid_trial, out_dir, workers, ray_address, log)
    return summarize_grid(list(results.values()), cells)


def check_trials(n: int, per_cell: int = 1) -> None:
    if n * per_cell > MAX_TRIALS:
        raise InputError(f"{n * per_cell:,} trials{f' ({n:,} cells x {per_cell} folds)' if per_cell > 1 else ''}: "
                         f"a sweep runs at most {MAX_TRIALS:,}")


def cells_of(params: dict[str, list], folds: int = 1) -> list[dict]:
    check_trials(math.prod(len(values) for values in params.values()), folds)  # before building the product
    keys = list(params)
    return [dict(zip(keys, values)) for values in itertools.product(*params.values())]


def cell_id(cell: dict) -> str:
    return "-".join(f"{_slug(k)}={_slug(v)}" for k, v in cell.items()) or "recipe"


def pipelines(recipe: config.Pipeline, params: dict[str, list], out_dir: Path, runs_dir: Path, data_dir=None,
              workers: int = 1, ray_address=None, overrides=None, log=print) -> list[dict]:
    """train-prune-export once per combination of `params` (e.g. structured.widths.conv1=3,4); one row per cell."""
    cells = cells_of(params)
    for cell in cells:
        config.with_overrides(recipe, {**(overrides or {}), **cell})
    trials = [Trial(cell_id(cell), {"pipeline": recipe.path or recipe.name, "data_dir": data_dir, "cell": cell,
                                    "overrides": {**(overrides or {}), **cell},
                                    "run_dir": str(Path(runs_dir) / cell_id(cell))}) for cell in cells]
    return list(run_trials(trials, pipeline_trial, out_dir, workers, ray_address, log).values())


def pipelines_markdown(rows: list[dict], name: str) -> str:
    keys = list(rows[0]["params"]["cell"])
    lines = [f"# Pipeline sweep: {name}", "", "Each cell is a full train-prune-export; accuracy on the full test set "
             "through onnxruntime.", "",
             "| " + " | ".join(keys) + " | MACs | pruned % | INT8 % | INT8 gzip B | INT8 variant |",
             "|" + "---|" * (len(keys) + 5)]
    for r in rows:
        lines.append("| " + " | ".join(str(r["params"]["cell"][k]) for k in keys) +
                     f" | {r['macs']:,} | {r['pruned_test_accuracy']:.2f} | {r['int8_test_accuracy']:.2f} | "
                     f"{r['int8_gzip_bytes']:,} | {r['int8_variant']} |")
    return "\n".join(lines) + "\n"


def summarize_grid(rows: list[dict], cells: list[dict]) -> dict:
    """Mean and sample standard deviation of the folds' best validation accuracy per cell; best cell by mean."""
    summary = []
    for cell in cells:
        scores = [r["best_val_accuracy"] for r in rows if r["params"]["cell"] == cell]
        summary.append({"cell": cell, "folds": len(scores), "mean_val_accuracy": round(float(np.mean(scores)), 3),
                        "std_val_accuracy": round(float(np.std(scores, ddof=1)), 3) if len(scores) > 1 else 0.0,
                        "fold_val_accuracy": scores,
                        "mean_train_time_s": round(float(np.mean([r["train_time_s"] for r in rows
                                                                   if r["params"]["cell"] == cell])), 1)})
    best = max(summary, key=lambda s: s["mean_val_accuracy"])
    return {"cells": summary, "best": best, "trials": rows}


# --------------------------------------------------------------------------------------------------- reports


def first_loss(rows: list[dict], points: float = 0.5) -> dict | None:
    """The first sparsity whose INT8 model is more than `points` below the dense fp32 model (rows by sparsity)."""
    dense = rows[0]["fp32_test_accuracy"]
    return next((r for r in rows if dense - r["int8_test_accuracy"] > points), None)


def sparsity_markdown(rows: list[dict], name: str) -> str:
    dense = rows[0]
    lines = [f"# Sparsity sweep: {name}", "",
             "The same trained model pruned (tfmot, recipe's per-layer shape scaled to each overall target), exported "
             "and quantized; accuracy on the full test set through onnxruntime on each file.", "",
             "| target sparsity | kernel sparsity | non-zero params | fp32 test % | INT8 test % | INT8 vs dense | "
             "INT8 gzip B | fp32 gzip B | INT8 variant |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['target_sparsity']:.0%} | {r['kernel_sparsity']:.1%} | {r['nonzero_parameters']:,} | "
                     f"{r['fp32_test_accuracy']:.2f} | {r['int8_test_accuracy']:.2f} | "
                     f"{r['int8_test_accuracy'] - dense['fp32_test_accuracy']:+.2f} | {r['int8_gzip_bytes']:,} | "
                     f"{r['fp32_gzip_bytes']:,} | {r['int8_variant']} |")
    loss = first_loss(rows)
    lines += ["", (f"INT8 first loses more than 0.5 points against the dense model ({dense['fp32_test_accuracy']:.2f}%) "
                   f"at {loss['target_sparsity']:.0%} sparsity: {loss['int8_test_accuracy']:.2f}%."
                   if loss else f"INT8 stays within 0.5 points of the dense model ({dense['fp32_test_accuracy']:.2f}%) "
                                f"at every sparsity swept, up to {rows[-1]['target_sparsity']:.0%}.")]
    return "\n".join(lines) + "\n"


def plot_sparsity(rows: list[dict], path: Path, title: str) -> None:
    """Accuracy against non-zero parameters and against gzipped INT8 bytes, with the dense model as reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgedigits.training.report import _save_figure

    dense = rows[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    nonzero = [r["nonzero_parameters"] for r in rows]
    left.plot(nonzero, [r["fp32_test_accuracy"] for r in rows], "o-", label="pruned fp32")
    left.plot([r["int8_nonzero_parameters"] for r in rows], [r["int8_test_accuracy"] for r in rows], "s--",
              label="pruned INT8")
    for r in rows:
        left.annotate(f"{r['target_sparsity']:.0%}", (r["nonzero_parameters"], r["fp32_test_accuracy"]),
                      textcoords="offset points", xytext=(4, 6), fontsize=8)
    right.plot([r["int8_gzip_bytes"] for r in rows], [r["int8_test_accuracy"] for r in rows], "s--", color="C1",
               label="pruned INT8")
    right.plot([r["fp32_gzip_bytes"] for r in rows], [r["fp32_test_accuracy"] for r in rows], "o-", color="C0",
               label="pruned fp32")
    for ax, xlabel in ((left, "non-zero parameters (log)"), (right, "gzipped model file, bytes (log)")):
        ax.axhline(dense["fp32_test_accuracy"], color="gray", lw=1, ls=":",
                   label=f"dense fp32 {dense['fp32_test_accuracy']:.2f}%")
        ax.axhline(dense["fp32_test_accuracy"] - 0.5, color="red", lw=0.8, ls=":", label="dense - 0.5 points")
        ax.set(xscale="log", xlabel=xlabel, ylabel="test accuracy % (onnxruntime, 10,000 images)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    _save_figure(fig, path)


def optimizers_markdown(rows: list[dict], name: str, epochs: int, target: float) -> str:
    lines = [f"# Optimizer sweep: {name}, {epochs} epochs each, same seed, no early stopping", "",
             f"| optimizer | learning rate | final val % | best val % (epoch) | epochs to {100 * target:g}% val | "
             "train s | test % (ONNX) |", "|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -r["best_val_accuracy"]):
        settings = OPTIMIZERS[r["params"]["optimizer"]]
        lines.append(f"| {r['params']['optimizer']} | {settings['learning_rate']:g} | {r['final_val_accuracy']:.2f} | "
                     f"{r['best_val_accuracy']:.2f} ({r['best_epoch']}) | {r['epochs_to_target'] or 'not reached'} | "
                     f"{r['train_time_s']:.0f} | {r['test_accuracy']:.2f} |")
    return "\n".join(lines) + "\n"


def plot_optimizers(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgedigits.training.report import _save_figure

    fig, (acc, loss) = plt.subplots(1, 2, figsize=(12, 4.5))
    for r in rows:
        epochs = range(1, len(r["val_accuracy"]) + 1)
        acc.plot(epochs, [100 * v for v in r["val_accuracy"]], marker="o", ms=3, label=r["params"]["optimizer"])
        loss.plot(epochs, r["val_loss"], marker="o", ms=3, label=r["params"]["optimizer"])
    acc.set(xlabel="epoch", ylabel="validation accuracy %")
    loss.set(xlabel="epoch", ylabel="validation loss", yscale="log")
    for ax in (acc, loss):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    _save_figure(fig, path)


def grid_markdown(summary: dict, name: str, folds: int) -> str:
    keys = list(summary["cells"][0]["cell"])
    lines = [f"# Grid search: {name}, {folds}-fold cross-validation on the training images" if folds > 1 else
             f"# Grid search: {name}, one validation split", "",
             "| " + " | ".join(keys) + " | mean val % | std | folds | mean train s |",
             "|" + "---|" * (len(keys) + 4)]
    for s in sorted(summary["cells"], key=lambda s: -s["mean_val_accuracy"]):
        lines.append("| " + " | ".join(str(s["cell"][k]) for k in keys) +
                     f" | {s['mean_val_accuracy']:.2f} | {s['std_val_accuracy']:.2f} | {s['folds']} | "
                     f"{s['mean_train_time_s']:.0f} |")
    best = summary["best"]
    lines += ["", "Best cell: " + ", ".join(f"{k}={v}" for k, v in best["cell"].items()) +
              f" ({best['mean_val_accuracy']:.2f}% +/- {best['std_val_accuracy']:.2f})"]
    return "\n".join(lines) + "\n"


def default_workers() -> int:
    """One trial per 2 cores: a TensorFlow training step uses about two threads well on these small models."""
    return max(1, math.floor((os.cpu_count() or 1) / 2))
