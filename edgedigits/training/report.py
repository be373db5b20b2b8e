"""Run reports: six training curves, and test-set metrics of every ONNX model in a run directory.

A run directory holds run.json (what was trained, how long), history.csv (Keras' CSVLogger) and the exported
stages (fp32.onnx, pruned.onnx, int8.onnx). Metrics are scikit-learn's, computed on the full test set through
onnxruntime on the files themselves; plots are matplotlib's. No TensorFlow: `edgedigits report` runs in seconds.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from edgedigits import plots, runtime, tables
from edgedigits.errors import InputError
from edgedigits.runtime import datasets
from edgedigits.runtime.model.artifacts import write_bytes_atomic, write_json_atomic
from edgedigits.runtime.model.classifier import finite
from edgedigits.runtime.model.jsonfile import MAX_JSON_BYTES, read_json

log = logging.getLogger(__name__)

STAGES = ("fp32", "structured", "pruned", "int8")  # run_dir/STAGE.onnx, in pipeline order
HISTORIES = {"history.csv": "train", "prune_history.csv": "prune"}
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")  # what the curves plot


def write_run_info(run_dir: Path, **info) -> None:
    """Merge facts about the run (model, dataset, parameters, times) into run_dir/run.json."""
    path = Path(run_dir) / "run.json"
    current = read_json(path) if path.is_file() else {}
    write_json_atomic(path, {**current, **info})


def read_history(path: Path) -> dict[str, np.ndarray]:
    """Keras CSVLogger columns as float arrays (epoch, loss, accuracy, val_loss, val_accuracy, lr, ...)."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise InputError(f"{path}: larger than the {MAX_JSON_BYTES:,} bytes a training history may be")
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            raise InputError(f"{path} has no epochs")
        missing = [key for key in HISTORY_COLUMNS if key not in rows[0]]
        if missing:
            raise InputError(f"{path} is not a Keras training history: no column {', '.join(missing)}")
        history = {key: np.array([float(r[key]) for r in rows]) for key in rows[0] if key is not None}
    except (UnicodeDecodeError, ValueError, TypeError, csv.Error) as exc:
        raise InputError(f"{path} is not a Keras training history ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:120]})") from None
    if not all(np.isfinite(history[key]).all() for key in ("epoch", "accuracy", "val_accuracy")):
        raise InputError(f"{path} is not a Keras training history: non-finite epochs or accuracies")
    return history


def proper(probabilities: np.ndarray) -> np.ndarray:
    """float64 rows clipped away from 0 and summing to 1: float32 softmax sums drift from 1 by ~1e-7, and sklearn's
    log loss and ROC AUC want exact probability rows."""
    p = np.clip(probabilities.astype(np.float64), 1e-7, 1.0)
    return p / p.sum(axis=1, keepdims=True)


def log_loss(probabilities: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    from sklearn.metrics import log_loss as sk_log_loss

    return round(float(sk_log_loss(labels, proper(probabilities), labels=list(range(num_classes)))), 4)


def metrics(probabilities: np.ndarray, labels: np.ndarray, names: list[str]) -> dict:
    """Accuracy, log loss, ROC AUC (one-vs-one, macro), confusion matrix and classification report."""
    from sklearn.metrics import classification_report, confusion_matrix, roc_auc_score

    classes = list(range(len(names)))
    p = proper(probabilities)
    predicted = p.argmax(axis=1)
    per_class = classification_report(labels, predicted, labels=classes, target_names=names, output_dict=True,
                                       zero_division=0)
    return {
        "images": int(len(labels)),
        "accuracy": round(runtime.top1(p, labels), 2),
        "log_loss": log_loss(probabilities, labels, len(names)),
        "roc_auc_ovo": round(float(roc_auc_score(labels, p, multi_class="ovo", labels=classes)), 5),
        "f1_macro": round(per_class["macro avg"]["f1-score"], 4),
        "f1_weighted": round(per_class["weighted avg"]["f1-score"], 4),
        "classification_report": per_class,
        "confusion_matrix": confusion_matrix(labels, predicted, labels=classes).tolist(),
    }


def plot_curves(history: dict, path: Path, title: str) -> None:
    """Six plots: loss and accuracy per epoch for train and validation, and accuracy against loss."""
    plt = plots.pyplot()
    epoch = history["epoch"] + 1
    panels = [
        ("train loss", epoch, history["loss"], "epoch", "loss"),
        ("validation loss", epoch, history["val_loss"], "epoch", "loss"),
        ("train accuracy", epoch, history["accuracy"], "epoch", "accuracy"),
        ("validation accuracy", epoch, history["val_accuracy"], "epoch", "accuracy"),
        ("train: accuracy vs loss", history["accuracy"], history["loss"], "accuracy", "loss"),
        ("validation: accuracy vs loss", history["val_accuracy"], history["val_loss"], "accuracy", "loss"),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, (name, x, y, xlabel, ylabel) in zip(axes.T.flat, panels):
        ax.plot(x, y, marker="o", markersize=3)
        ax.set(title=name, xlabel=xlabel, ylabel=ylabel)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    plots.save(fig, path)


def plot_confusion(matrix: list, names: list[str], path: Path, title: str) -> None:
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, ax = plots.pyplot().subplots(figsize=(7.5, 6.5))
    ConfusionMatrixDisplay(np.array(matrix), display_labels=names).plot(ax=ax, colorbar=False, values_format="d",
                                                                       xticks_rotation=45 if len(names[0]) > 2 else 0)
    ax.set_title(title)
    fig.tight_layout()
    plots.save(fig, path)


def write(run_dir: str | Path, data_dir=None) -> dict:
    """(Re)generate report.json, report.md, curves and confusion matrices for a run directory."""
    run_dir = Path(run_dir)
    info_path = run_dir / "run.json"
    if not run_dir.is_dir():
        raise InputError(f"run directory not found: {run_dir}")
    if not info_path.is_file():
        raise InputError(f"{run_dir} is not a run directory (no run.json; runs are made by train or "
                         "train-prune-export)")
    try:
        info = read_json(info_path)
        dataset = info["dataset"]
        if not isinstance(dataset, str):
            raise TypeError(dataset)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise InputError(f"{info_path} is not a run description (a JSON object with at least a 'dataset')") from None
    files = info.get("dataset_files")  # a dataset in files: read again from where the run read it
    if isinstance(files, dict):
        try:
            dataset = datasets.FileSource(name=dataset, **files)
        except TypeError:
            raise InputError(f"{info_path}: dataset_files is not a dataset description") from None
    ds = datasets.load(dataset, data_dir)
    names = list(ds.labels)
    title = f"{info.get('name', run_dir.name)}: {info.get('model', '?')} on {ds.name}"
    report = {"run": info, "curves": {}, "models": {}}
    for filename, label in HISTORIES.items():
        if (run_dir / filename).is_file():
            png = run_dir / f"curves-{label}.png"
            history = read_history(run_dir / filename)
            plot_curves(history, png, f"{title} ({label})")
            report["curves"][label] = {"epochs": int(len(history["epoch"])), "png": png.name,
                                       "best_val_accuracy": round(100 * float(history["val_accuracy"].max()), 2)}
    for stage in STAGES:
        path = run_dir / f"{stage}.onnx"
        if not path.is_file():
            continue
        classifier = runtime.Classifier(path)
        if classifier.num_outputs != ds.num_classes:
            raise InputError(f"{path} has {classifier.num_outputs} outputs, but the run's dataset {ds.name} has "
                             f"{ds.num_classes} classes")
        probabilities = finite(classifier.probabilities(ds.x_test), path)  # scikit-learn would trace back on NaN
        scored = metrics(probabilities, ds.y_test, names)
        png = run_dir / f"confusion-{stage}.png"
        plot_confusion(scored["confusion_matrix"], names, png,
                       f"{title}, {stage} ({scored['accuracy']:.2f}% of {scored['images']:,} test images)")
        report["models"][stage] = {"file": path.name, "bytes": path.stat().st_size, "confusion_png": png.name, **scored}
        log.info(f"  report {stage}: accuracy {scored['accuracy']:.2f}%, log loss {scored['log_loss']:.4f}, "
            f"ROC AUC (OvO) {scored['roc_auc_ovo']:.5f}, macro F1 {scored['f1_macro']:.4f}")
    if not report["curves"] and not report["models"]:
        raise InputError(f"{run_dir} has neither a history CSV nor an exported .onnx to report on")
    write_json_atomic(run_dir / "report.json", report)
    write_bytes_atomic(run_dir / "report.md", markdown(report, names).encode())
    return report


def markdown(report: dict, names: list[str]) -> str:
    info = report["run"]
    lines = [f"# Run report: {info.get('name', '')}", ""]
    facts = [("model", info.get("model")), ("dataset", info.get("dataset")), ("parameters", info.get("parameters")),
             ("training time s", info.get("train_time_s")), ("pruning time s", info.get("prune_time_s")),
             ("seed", info.get("seed"))]
    lines += [f"- {key}: {value:,}" if isinstance(value, int) else f"- {key}: {value}"
              for key, value in facts if value is not None]
    for label, curve in report["curves"].items():
        lines.append(f"- {label} curves: {curve['epochs']} epochs, best validation accuracy "
                     f"{curve['best_val_accuracy']:.2f}% ([{curve['png']}]({curve['png']}))")
    if report["models"]:
        first = next(iter(report["models"].values()))
        lines += ["", f"## Test set ({first['images']:,} images, onnxruntime on each file)", "", tables.markdown(
            ["model", "accuracy %", "log loss", "ROC AUC (OvO)", "F1 macro", "F1 weighted", "bytes"],
            [[stage, f"{m['accuracy']:.2f}", f"{m['log_loss']:.4f}", f"{m['roc_auc_ovo']:.5f}", f"{m['f1_macro']:.4f}",
              f"{m['f1_weighted']:.4f}", f"{m['bytes']:,}"] for stage, m in report["models"].items()])]
        for stage, m in report["models"].items():
            per_class = [(name, m["classification_report"][name]) for name in [*names, "macro avg", "weighted avg"]]
            lines += ["", f"### {stage}: classification report ([confusion matrix]({m['confusion_png']}))", "",
                      tables.markdown(["class", "precision", "recall", "F1", "support"],
                                      [[name, f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1-score']:.4f}",
                                        f"{int(r['support']):,}"] for name, r in per_class])]
    return "\n".join(lines) + "\n"
