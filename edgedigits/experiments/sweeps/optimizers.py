"""Sweep kind `optimizers`: the same model trained with each optimizer, same seed and epoch budget."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from edgedigits import tables
from edgedigits.errors import InputError
from edgedigits.experiments.outputs import Output
from edgedigits.experiments.sweeps import KINDS, Kind
from edgedigits.experiments.sweeps.runner import Sweep, Trial, train_trial, trial_run
from edgedigits.options import Finite, count

# Learning rates are Keras' defaults, except Adadelta's 1.0 (Zeiler 2012's and Keras' before 2.3: with 0.001 it
# barely moves in a few epochs) and SGD's momentum 0.9 for the Nesterov variant.
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
PIPELINE = "lenet"
OPTIONS = [
    click.option("--optimizers", "names", default=",".join(OPTIMIZERS), show_default=True),
    click.option("--epochs", default=10, show_default=True, type=count(1, 10_000),
                 help="Training budget per optimizer (no early stopping)."),
    click.option("--target", default=0.99, show_default=True, type=Finite(0.0, 1.0),
                 help="Validation accuracy for 'epochs to target'."),
]


def run(sweep: Sweep, names: str, epochs: int, target: float) -> Output:
    """Train the same model with each optimizer, same seed and epochs: final and best validation accuracy, epochs
    to reach --target, time, and the exported model's test accuracy. Writes OUT_DIR/optimizers.{json,md,png}."""
    names = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in names if n not in OPTIMIZERS]
    if unknown:
        raise InputError(f"unknown optimizer {', '.join(unknown)} (known: {', '.join(OPTIMIZERS)})")
    trials = []
    for name in names:
        budget = {f"train.{k}": v for k, v in OPTIMIZERS[name].items()}
        budget.update({"train.epochs": epochs, "train.early_stopping_patience": epochs})
        trials.append(Trial(f"optimizer-{name}", sweep.params(overrides=budget, target=target, optimizer=name,
                                                              run_dir=str(Path(sweep.runs_dir) / f"optimizer-{name}"))))
    sweep.check(trials[0].params["overrides"])
    rows = list(sweep.run(trials, optimizer_trial).values())
    name = sweep.recipe.name
    return Output("optimizers", {"pipeline": name, "epochs": epochs, "rows": rows}, markdown(rows, name, epochs, target),
                  lambda path: plot(rows, path, f"{name}: optimizers, {epochs} epochs, same seed"))


def history_result(run_dir: Path, target: float) -> dict:
    """Validation curves of a finished training run (history.csv), and when it reached `target`."""
    from edgedigits.training.report import read_history

    history = read_history(Path(run_dir) / "history.csv")
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
    """Train with one optimizer for a fixed budget (no early stopping): the pipeline's train stage, which also
    exports and scores the model on the test set."""
    run = trial_run(params)
    _, seconds = train_trial(run)
    return {**history_result(run.run_dir, params["target"]), "train_time_s": seconds,
            "test_accuracy": run.results["train"].facts["test_accuracy"]}


def markdown(rows: list[dict], name: str, epochs: int, target: float) -> str:
    table = tables.markdown(
        ["optimizer", "learning rate", "final val %", "best val % (epoch)", f"epochs to {100 * target:g}% val",
         "train s", "test % (ONNX)"],
        [[r["params"]["optimizer"], f"{OPTIMIZERS[r['params']['optimizer']]['learning_rate']:g}",
          f"{r['final_val_accuracy']:.2f}", f"{r['best_val_accuracy']:.2f} ({r['best_epoch']})",
          r["epochs_to_target"] or "not reached", f"{r['train_time_s']:.0f}", f"{r['test_accuracy']:.2f}"]
         for r in sorted(rows, key=lambda r: -r["best_val_accuracy"])])
    return f"# Optimizer sweep: {name}, {epochs} epochs each, same seed, no early stopping\n\n{table}\n"


def plot(rows: list[dict], path: Path, title: str) -> None:
    from edgedigits import plots

    fig, (acc, loss) = plots.pyplot().subplots(1, 2, figsize=(12, 4.5))
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
    plots.save(fig, path)


KINDS.register("optimizers")(Kind(run, PIPELINE, OPTIONS))
