"""The images a run trains, selects and scores on: numpy only, so quantizing a file needs no TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgedigits.runtime import normalize
from edgedigits.runtime.datasets import Dataset, split_validation


@dataclass
class Split:
    """Model-ready arrays: training images, the held-out validation images (model selection) and the test set."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray  # uint8, only ever scored through onnxruntime on the exported artifact
    y_test: np.ndarray

    @classmethod
    def from_dataset(cls, ds: Dataset, validation: int, seed: int, train_limit: int = 0) -> Split:
        x, y = ds.x_train, ds.y_train
        x_tr, y_tr, x_val, y_val = split_validation(x, y, validation, seed)
        if train_limit:
            x_tr, y_tr = x_tr[:train_limit], y_tr[:train_limit]
        return cls(normalize(x_tr), y_tr.astype(np.int64), normalize(x_val), y_val.astype(np.int64), ds.x_test,
                   ds.y_test)

    @classmethod
    def for_recipe(cls, ds: Dataset, recipe) -> Split:
        """The split a recipe names (its validation size, seed and training-image limit)."""
        return cls.from_dataset(ds, recipe.validation, recipe.seed, recipe.train_limit)
