"""The models that travel inside the package, found one way: next to this module (package data; in a source tree,
links into exported/). Never looked up relative to the working directory, so a program reads the same way
wherever it is started; a model of your own is named explicitly (`--model`, `load_reader(model=...)`)."""

from __future__ import annotations

from pathlib import Path

SHIPPED = Path(__file__).resolve().parent / "shipped"


def default_model() -> Path:
    """The INT8 lenet that `edgedigits predict` and `webcam` read digits with by default."""
    return SHIPPED / "lenet.int8.onnx"


def crop_model() -> Path:
    """The INT8 crop classifier (pipelines/crop-digits.toml: gapnet-24 trained on MNIST and synthetic digit crops)
    that the page reader reads an image of one tight digit with (`reading.crop`)."""
    return SHIPPED / "crop-digits.int8.onnx"


def default_number_reader() -> Path:
    """The INT8 number reader that reads groups of touching digits."""
    return SHIPPED / "number-reader" / "number-reader.int8.onnx"
