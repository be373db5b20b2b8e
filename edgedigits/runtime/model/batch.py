"""Classify a batch of images from files with any edgedigits image classifier: the rows of a CSV (one column per
pixel, as the model's training data had them; an unlabelled Kaggle test file) or the image files under a folder
(resized to the model's input). One output row per image: its id, the class and its probability. What `edgedigits
classify` does; onnxruntime, numpy and OpenCV only."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits.errors import InputError
from edgedigits.runtime.datasets import readers
from edgedigits.runtime.model.artifacts import write_bytes_atomic
from edgedigits.runtime.model.classifier import Classifier, top1


@dataclass
class Classified:
    ids: list[str]  # per image: the CSV's id column or line number, or the file's path under the folder
    classes: list[str]  # the predicted class names
    probabilities: np.ndarray  # [N] the predicted class's probability
    accuracy: float | None  # % against the CSV's label column, when it has one


def classify(model: str | os.PathLike, source: str | os.PathLike, label: str = "label",
             threads: int = 0) -> Classified:
    """Every image of `source` (a .csv or a folder) through `model`; the CSV's `label` column, when present, is
    scored, never used as a pixel."""
    classifier = Classifier(model, threads=threads)
    shape = classifier.input_shape
    source = Path(source)
    if source.is_dir():
        files = readers.image_files(source)
        if not files:
            raise InputError(f"{source}: no images ({', '.join(sorted(readers.IMAGE_EXTENSIONS))})")
        x, _ = readers.decode_all(files, shape)
        ids, truth = [p.relative_to(source).as_posix() for p in files], None
    elif source.suffix.lower() == ".csv" or not source.exists():
        if not source.is_file():
            raise InputError(f"no such CSV file or folder: {source}")
        x, truth, ids, _ = readers.read_rows(source, label, shape)
    else:
        raise InputError(f"{source}: classify reads a .csv of pixel rows or a folder of images")
    probabilities = classifier.probabilities(x)
    best = probabilities.argmax(1)
    accuracy = None
    if truth is not None:
        lookup = {name: i for i, name in enumerate(classifier.labels)}
        indices = [lookup.get(v, int(v) if v.isdigit() and int(v) < len(lookup) else None) for v in truth]
        unknown = next((v for v, i in zip(truth, indices) if i is None), None)
        if unknown is not None:
            raise InputError(f"{source}: unknown label {unknown!r} in column {label!r} (the model's classes: "
                             f"{', '.join(classifier.labels)})")
        accuracy = top1(probabilities, np.array(indices))
    return Classified(ids, [classifier.labels[i] for i in best.tolist()],
                      probabilities[np.arange(len(best)), best], accuracy)


def as_csv(result: Classified) -> str:
    """The predictions as CSV text: image, class, probability (4 decimals)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "class", "probability"])
    writer.writerows([i, c, f"{p:.4f}"] for i, c, p in zip(result.ids, result.classes, result.probabilities.tolist()))
    return buffer.getvalue()


def write(result: Classified, out: str | os.PathLike) -> None:
    """The predictions CSV, written whole or not at all."""
    write_bytes_atomic(out, as_csv(result).encode())
