"""The data a run trains, selects and scores on: the recipe's dataset loaded and split (validation carved from
the training images, the test set untouched until the artifacts are scored). numpy only, so quantizing a file
needs no TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgedigits.runtime import datasets, normalize
from edgedigits.runtime.datasets import Dataset, split_validation
from edgedigits.training import checks, config


@dataclass
class Split:
    """Model-ready arrays: training images, the held-out validation images (model selection) and the test set."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray  # uint8, only ever scored through onnxruntime on the exported artifact
    y_test: np.ndarray
    # refit: the validation images are trained on too (epochs chosen on validation by a run without refit), so
    # training keeps its last epoch and validation scores only check export and quantization
    refit: bool = False

    @classmethod
    def from_dataset(cls, ds: Dataset, validation: int, seed: int, train_limit: int = 0, refit: bool = False) -> Split:
        x, y = ds.x_train, ds.y_train
        x_tr, y_tr, x_val, y_val = split_validation(x, y, validation, seed)
        if refit:
            x_tr, y_tr = x, y
        if train_limit:
            x_tr, y_tr = x_tr[:train_limit], y_tr[:train_limit]
        shape = ds.input_shape
        return cls(normalize(x_tr, shape), y_tr.astype(np.int64), normalize(x_val, shape), y_val.astype(np.int64),
                   ds.x_test, ds.y_test, refit)

    @classmethod
    def for_recipe(cls, ds: Dataset, recipe) -> Split:
        """The split a recipe names (its validation size, seed, training-image limit and refit)."""
        return cls.from_dataset(ds, recipe.validation, recipe.seed, recipe.train_limit, recipe.refit)

    def describe(self) -> str:
        seen = " (trained on too: refit, last epoch kept)" if self.refit else ""
        return (f"split: {len(self.x_train)} train / {len(self.x_val)} validation{seen} / {len(self.x_test)} test "
                f"images")


def load(recipe, data_dir=None) -> tuple[Dataset, Split]:
    """The recipe's dataset (built in, or in files: paths from the recipe's folder), its sizes checked against the
    recipe before any work, and its split."""
    ds = datasets.load(recipe.dataset, data_dir, base=config.recipe_dir(recipe))
    checks.check_sizes(recipe, len(ds.x_train), len(ds.x_test))
    return ds, Split.for_recipe(ds, recipe)


def calibration_images(ds: Dataset, recipe) -> np.ndarray:
    """A seeded sample of the training split for INT8 calibration: never validation images (model selection)
    nor test images."""
    x_train, y_train, _, _ = split_validation(ds.x_train, ds.y_train, recipe.validation, recipe.seed)
    _, _, sample, _ = split_validation(x_train, y_train, recipe.quantize.calibration_images, recipe.seed)
    return sample
