"""Datasets from your own files: a labelled CSV (a label column and one column per pixel, as Kaggle gives them), a
folder with one subfolder of images per class (the layout of Keras' image_dataset_from_directory), or an .npz in
Keras' layout (x_train, y_train, x_test, y_test). numpy and OpenCV only: nothing in a data folder is ever imported
or unpickled. `load(name_or_source)` reads a built-in dataset by name or one of these by its path or FileSource.

When the data has no labelled test set, a stratified part of it is held out as the test set, always the same part
for the same data (a fixed seed), so a model is scored on it again by `bench` anywhere. Bad data is one InputError
naming the file, the row or image, and what is wrong."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgedigits.errors import InputError
from edgedigits.runtime.datasets import readers, sources
from edgedigits.runtime.datasets.formats import DATASETS, read_npz
from edgedigits.runtime.datasets.sources import Dataset

HOLDOUT_SEED = 0  # the held-out test split is a property of the data, not of a recipe
MAX_SIDE = 4096  # dataset.shape's height and width: a model input larger than this is not a small classifier
GENERIC = ("train", "training", "data", "dataset", "images")  # file names that say nothing: the folder's name does
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass
class FileSource:
    """A dataset in files, as a recipe's [dataset] table names it."""

    path: str = ""  # a labelled .csv, a folder with one subfolder of images per class, or an .npz in Keras' layout
    test: str = ""  # a labelled test set in the same format (not for .npz: it holds its own); default: held out of path
    name: str = ""  # what manifests and the model's metadata call the dataset (default: the file or folder name)
    label: str = "label"  # CSV: the label column, matched in any case; a column named "id" is never a pixel
    shape: list = field(default_factory=list)  # [height, width, channels], 1 or 3 channels; default: inferred
    classes: list = field(default_factory=list)  # class names in index order (default: found in the labels)
    test_fraction: float = 0.1  # of each class held out as the test set when the data has no labelled test set

    def __post_init__(self):
        if not self.path:
            raise InputError("dataset.path is required: a labelled .csv, an image folder or an .npz")
        if self.name and (not NAME.fullmatch(self.name) or self.name in DATASETS):
            raise InputError(f"dataset.name must be letters, digits, '.', '_' or '-' (at most 64) and not a built-in "
                             f"dataset's name, got {self.name!r}")
        if self.shape and not (len(self.shape) == 3 and all(type(d) is int for d in self.shape)
                               and all(1 <= d <= MAX_SIDE for d in self.shape[:2]) and self.shape[2] in (1, 3)):
            raise InputError(f"dataset.shape must be [height, width, channels] with sides in [1, {MAX_SIDE}] and 1 "
                             f"or 3 channels, got {self.shape}")
        names = self.classes
        if names and (len(names) < 2 or not all(isinstance(c, str) and c.strip() == c and c for c in names)
                      or len(set(names)) != len(names)):
            raise InputError(f"dataset.classes must be two or more distinct, non-empty names, got {names}")
        if not isinstance(self.label, str) or not self.label.strip():
            raise InputError("dataset.label must name the label column")
        if not 0.0 < self.test_fraction <= 0.5:
            raise InputError(f"dataset.test_fraction must be in (0, 0.5], got {self.test_fraction}")


def load(name_or_source, data_dir=None, base: str | os.PathLike | None = None) -> Dataset:
    """A built-in dataset by name (`sources.load`), or a dataset in files: a FileSource, or the path of a CSV, image
    folder or .npz (relative paths from `base`, default the working directory)."""
    if isinstance(name_or_source, str) and name_or_source in DATASETS:
        return sources.load(name_or_source, data_dir)
    if isinstance(name_or_source, str):
        if not is_path(name_or_source, base):
            raise InputError(f"unknown dataset {name_or_source!r} (built in: {', '.join(sorted(DATASETS))}; or the "
                             f"path of a labelled .csv, an image folder or an .npz)")
        name_or_source = FileSource(path=name_or_source)
    if not isinstance(name_or_source, FileSource):
        raise InputError(f"a dataset is a name or a FileSource, got {type(name_or_source).__name__}")
    return read(name_or_source, base)


def is_path(text: str, base=None) -> bool:
    """Whether a dataset named by a string means files: a .csv or .npz, a path with a folder, or a folder."""
    return (Path(text).suffix.lower() in (".csv", ".npz") or len(Path(text).parts) > 1
            or resolve(text, base).is_dir())


def resolve(path: str, base=None) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() or base is None else Path(base) / path


def kind(path: Path) -> str:
    """The format of a dataset path: csv, npz or folder; anything else is an InputError."""
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise InputError(f"dataset not found: {path}")
    if path.suffix.lower() in (".csv", ".npz"):
        return path.suffix.lower()[1:]
    raise InputError(f"{path}: a dataset is a labelled .csv, a folder of class subfolders or an .npz")


def read(source: FileSource, base=None) -> Dataset:
    """The dataset `source` names, checked, with its test split (its own, or held out and said so)."""
    path = resolve(source.path, base)
    fmt = kind(path)
    shape = tuple(source.shape) or None
    if fmt == "npz":
        if source.test:
            raise InputError(f"{path}: an .npz holds its own test set (x_test, y_test); dataset.test is for CSV "
                             f"files and folders")
        arrays, classes = _npz(path, shape, list(source.classes))
        held_out = ""
    else:
        reader = readers.read_csv if fmt == "csv" else readers.read_folder
        x, labels, shape = reader(path, source.label, shape)
        classes, y = class_indices(labels, list(source.classes), path)
        if source.test:
            test = resolve(source.test, base)
            if kind(test) != fmt:
                raise InputError(f"dataset.test {test} is not a {fmt} like dataset.path {path}")
            x_test, test_labels, _ = reader(test, source.label, shape)
            _, y_test = class_indices(test_labels, classes, test, fixed=True)
            arrays, held_out = {"x_train": x, "y_train": y, "x_test": x_test, "y_test": y_test}, ""
        else:
            arrays = holdout(x, y, classes, source.test_fraction, path)
            held_out = (f"held out of {path.name}: {source.test_fraction:g} of each class (stratified, seed "
                        f"{HOLDOUT_SEED})")
    _check_counts(arrays["y_train"], classes, path)
    x = arrays["x_train"]
    shape = (*x.shape[1:3], x.shape[3] if x.ndim == 4 else 1)
    name = source.name or default_name(path, fmt)
    spec = {"path": str(path.resolve()), "test": str(resolve(source.test, base).resolve()) if source.test else "",
            "label": source.label, "test_fraction": source.test_fraction, "shape": list(shape),
            "classes": list(classes)}
    return Dataset(name, **arrays, source=f"{fmt} {path}", origin=f"{sources.USER_ORIGIN} {fmt} {path.name}",
                   sha256=sources.content_sha256(arrays), classes=tuple(classes), test_split=held_out, spec=spec)


def default_name(path: Path, fmt: str) -> str:
    """A dataset's name when the recipe gives none: the file's (or, for train.csv and the like, its folder's),
    made of the characters a name may have, and never a built-in dataset's (mnist.csv is not the built-in mnist)."""
    stem = path.resolve().parent.name if path.stem.lower() in GENERIC else path.stem
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:60] or "data"
    return f"{name}-{fmt}" if name in DATASETS else name


def class_indices(labels: list[str], classes: list[str], path: Path, fixed: bool = False):
    """Labels (as written) to class indices, and the class names. A label is a class name or the index of one;
    without `classes`, integer labels 0..K-1 name classes "0".."K-1" and any other labels are the class names,
    sorted. With `fixed`, `classes` are final: a label outside them is an InputError."""
    if not classes:
        if all(_is_index(v) for v in labels):
            classes = [str(i) for i in range(max(int(v) for v in labels) + 1)]
        else:
            classes = sorted(set(labels))
    lookup = {name: i for i, name in enumerate(classes)}
    y = np.empty(len(labels), np.int64)
    for row, value in enumerate(labels):
        index = lookup.get(value)
        if index is None and _is_index(value) and int(value) < len(classes):
            index = int(value)
        if index is None:
            shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
            raise InputError(f"{path}: unknown label {value!r} ({_where(path, row)}; classes: {shown})")
        y[row] = index
    return classes, y


def _is_index(value: str) -> bool:
    return value.isdigit() and value.isascii()


def _where(path: Path, row: int) -> str:
    return f"line {row + 2}" if path.suffix.lower() == ".csv" else f"image {row + 1}"


def holdout(x: np.ndarray, y: np.ndarray, classes: list[str], fraction: float, path: Path) -> dict:
    """Hold out `fraction` of each class (at least one image) as the test set, the same images every time."""
    rng = np.random.default_rng(HOLDOUT_SEED)
    test = []
    for c, name in enumerate(classes):
        members = np.flatnonzero(y == c)
        count = max(1, round(fraction * len(members)))
        if len(members) - count < 2:
            raise InputError(f"{path}: class {name!r} has {len(members)} images, too few to split (at least "
                             f"{count + 2}: {count} held out as test, 2 left to train and validate on)")
        test.append(rng.permutation(members)[:count])
    held = np.zeros(len(y), bool)
    held[np.concatenate(test)] = True
    return {"x_train": x[~held], "y_train": y[~held], "x_test": x[held], "y_test": y[held]}


def _check_counts(y: np.ndarray, classes: list[str], path: Path) -> None:
    counts = np.bincount(y, minlength=len(classes))
    if len(classes) < 2:
        raise InputError(f"{path}: {len(classes)} class; a classifier needs at least 2")
    for name, n in zip(classes, counts):
        if n < 2:
            raise InputError(f"{path}: class {name!r} has {n} training images, too few to split (at least 2: one to "
                             f"train and one to validate on)")


def _npz(path: Path, shape, classes: list[str]) -> tuple[dict, list[str]]:
    """Keras' .npz layout: uint8 images [N,H,W] or [N,H,W,C], integer labels [N] (or [N,1], as CIFAR's)."""
    arrays, _ = read_npz(path, str(path))
    out = {}
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if x.dtype != np.uint8 or x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] not in (1, 3)):
            raise InputError(f"{path}: x_{part} is {x.dtype} {list(x.shape)}, expected uint8 images [N, H, W] or "
                             f"[N, H, W, 1 or 3]")
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or len(y) != len(x) or not len(x):
            raise InputError(f"{path}: y_{part} is {y.dtype} {list(y.shape)}, expected {len(x)} integer labels")
        if y.min() < 0:
            raise InputError(f"{path}: unknown label {int(y.min())} in y_{part} (labels are class indices from 0)")
        out[f"x_{part}"], out[f"y_{part}"] = readers.fit_images(x, shape), y.astype(np.int64)
    if out["x_train"].shape[1:] != out["x_test"].shape[1:]:
        raise InputError(f"{path}: x_train images are {list(out['x_train'].shape[1:])} but x_test images "
                         f"{list(out['x_test'].shape[1:])}; give dataset.shape to resize both")
    top = int(max(out["y_train"].max(), out["y_test"].max()))
    if classes and top >= len(classes):
        raise InputError(f"{path}: unknown label {top} ({len(classes)} classes in dataset.classes)")
    return out, classes or [str(i) for i in range(top + 1)]
