"""Sweep kind `grid`: every combination of recipe values on every fold of a stratified k-fold cross-validation."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from edgedigits import tables
from edgedigits.errors import InputError
from edgedigits.experiments.sweeps.optimizers import history_result
from edgedigits.experiments.outputs import Output
from edgedigits.experiments.sweeps import KINDS, Kind
from edgedigits.experiments.sweeps.runner import Sweep, Trial, cell_id, cells_of, parse_param, train_trial, trial_recipe, trial_run
from edgedigits.limits import MAX_FOLDS
from edgedigits.options import count
from edgedigits.training import config

PIPELINE = "lenet"
OPTIONS = [
    click.option("--param", "params", multiple=True, required=True, metavar="KEY=V1,V2",
                 help="A recipe key and the values to try, e.g. --param batch_size=32,64 --param optimizer=adam,rmsprop. "
                      "Bare keys are top-level or [train] keys; others are dotted (prune.epochs)."),
    click.option("--folds", default=5, show_default=True, type=count(1, MAX_FOLDS),
                 help="Stratified k-fold cross-validation over the training images (1 = the recipe's validation split)."),
]


def run(sweep: Sweep, params: tuple[str, ...], folds: int) -> Output:
    """Grid search with k-fold cross-validation: every combination of --param values on every fold; mean and
    standard deviation of validation accuracy per cell, and the best cell. Writes OUT_DIR/grid.{json,md}.
    Folds are carved from the training images whatever the recipe's `refit`; with --folds 1 a refit recipe is
    refused (its validation images would be trained on)."""
    grid = dict(parse_param(text) for text in params)
    if not 1 <= folds <= MAX_FOLDS:
        raise InputError(f"folds must be in [1, {MAX_FOLDS}], got {folds}")
    cells = cells_of(grid, folds)
    for cell in cells:
        if sweep.check(cell).refit and folds == 1:  # every cell is a valid recipe before anything runs
            raise InputError("grid with --folds 1 scores each cell on the recipe's validation images, which refit = "
                             "true trains on: search without refit (--set refit=false), then refit the chosen cell")
    trials = []
    for cell in cells:
        cid = cell_id(cell)
        for fold in range(folds):
            trials.append(Trial(f"{cid}-fold{fold + 1}", sweep.params(
                cell=cell, cell_id=cid, overrides=cell, fold=fold, folds=folds,
                run_dir=str(Path(sweep.runs_dir) / f"{cid}-fold{fold + 1}"))))
    summary = summarize(list(sweep.run(trials, grid_trial).values()), cells)
    name = sweep.recipe.name
    return Output("grid", {"pipeline": name, "folds": folds, **summary}, markdown(summary, name, folds))


def fold_split(ds, recipe: config.Pipeline, fold: int, folds: int):
    """Fold `fold` of a stratified k-fold over the training images (the test set is never part of tuning)."""
    from sklearn.model_selection import StratifiedKFold

    from edgedigits.runtime import normalize
    from edgedigits.training.split import Split

    x, y = ds.x_train, ds.y_train
    if recipe.train_limit:
        x, y = x[: recipe.train_limit], y[: recipe.train_limit]
    train_idx, val_idx = list(StratifiedKFold(folds, shuffle=True, random_state=recipe.seed).split(x, y))[fold]
    shape = ds.input_shape
    return Split(normalize(x[train_idx], shape), y[train_idx].astype(np.int64), normalize(x[val_idx], shape),
                 y[val_idx].astype(np.int64), ds.x_test, ds.y_test)


def grid_trial(params: dict) -> dict:
    """Train one grid cell on one fold; scored on that fold's held-out images."""
    from edgedigits.runtime import datasets

    recipe, folds = trial_recipe(params), int(params["folds"])
    ds = datasets.load(recipe.dataset, params.get("data_dir"), base=config.recipe_dir(recipe)) if folds > 1 else None
    fold = fold_split(ds, recipe, int(params["fold"]), folds) if folds > 1 else None
    run = trial_run(params, recipe, data=fold)
    _, seconds = train_trial(run)
    return {**history_result(run.run_dir, 1.0), "train_time_s": seconds,
            "train_images": int(len(run.data.x_train)), "validation_images": int(len(run.data.x_val))}


def summarize(rows: list[dict], cells: list[dict]) -> dict:
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


def markdown(summary: dict, name: str, folds: int) -> str:
    keys = list(summary["cells"][0]["cell"])
    title = (f"# Grid search: {name}, {folds}-fold cross-validation on the training images" if folds > 1 else
             f"# Grid search: {name}, one validation split")
    table = tables.markdown(
        [*keys, "mean val %", "std", "folds", "mean train s"],
        [[*(s["cell"][k] for k in keys), f"{s['mean_val_accuracy']:.2f}", f"{s['std_val_accuracy']:.2f}", s["folds"],
          f"{s['mean_train_time_s']:.0f}"] for s in sorted(summary["cells"], key=lambda s: -s["mean_val_accuracy"])])
    best = summary["best"]
    return (f"{title}\n\n{table}\n\nBest cell: " + ", ".join(f"{k}={v}" for k, v in best["cell"].items())
            + f" ({best['mean_val_accuracy']:.2f}% +/- {best['std_val_accuracy']:.2f})\n")


KINDS.register("grid")(Kind(run, PIPELINE, OPTIONS))
