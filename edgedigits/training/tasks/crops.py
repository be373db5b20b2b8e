"""Task `crops`: the crop classifier, the digit classifier the reader hands an image of one tight digit to
(`runtime.reading.crop`). A classifier task whose training and validation images are the dataset's plus synthetic
crops (`synth.crops`: digits cut from forms and 16x16 size-normalized digits, from MNIST digits, handwriting fonts
and pen strokes, normalized as the reader normalizes a crop): training crops from the training digits and training
fonts, validation crops from the held-out digits and the held-out fonts. Scored on the dataset's full test set, and
on crops made from its test digits and the held-out fonts (`crop_accuracy`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits import runtime
from edgedigits.errors import InputError
from edgedigits.training import pagedata, split
from edgedigits.training.tasks import TASKS
from edgedigits.training.tasks.classifier import Classifier

log = logging.getLogger(__name__)


@dataclass
class Table:
    """[crops]: how many synthetic crops join the dataset's training and validation images, and how many are scored."""

    train: int = 60_000
    val: int = 5_000
    test: int = 5_000


@dataclass
class Split(split.Split):
    crops_test: np.ndarray | None = None  # uint8 crops from the test digits and the held-out fonts
    crops_test_labels: np.ndarray | None = None


@TASKS.register("crops")
class Crops(Classifier):
    Table = Table

    @staticmethod
    def check(recipe) -> None:
        if recipe.dataset != "mnist":
            raise InputError(f"task crops makes crops of handwritten digits: its dataset is mnist, not "
                             f"{recipe.dataset!r}")
        Classifier.check(recipe)

    @staticmethod
    def load(recipe, data_dir=None, run_dir=None):
        ds, data = split.load(recipe, data_dir)
        table = recipe.tables.get("crops", Table())
        sources = pagedata.Sources.of(recipe, ds)
        shape = ds.input_shape
        made = {}
        for part, count, seed in (("train", table.train, recipe.seed), ("val", table.val, recipe.seed + 1),
                                  ("test", table.test, recipe.seed + 2)):
            name = pagedata.cache_name("crops", part, count, recipe.validation, seed)
            log.info(f"crops: {count:,} from the {part} digits and fonts")
            made[part] = pagedata.cached(Path(run_dir or ".") / name,
                                         lambda p=part, c=count, s=seed: _crops(sources, p, c, s), compressed=True)
        out = Split(np.concatenate([data.x_train, runtime.normalize(made["train"]["x"], shape)]),
                    np.concatenate([data.y_train, made["train"]["y"]]),
                    np.concatenate([data.x_val, runtime.normalize(made["val"]["x"], shape)]),
                    np.concatenate([data.y_val, made["val"]["y"]]), data.x_test, data.y_test,
                    crops_test=made["test"]["x"], crops_test_labels=made["test"]["y"])
        return ds, out

    @staticmethod
    def score(run, path: Path) -> dict:
        data = run.data
        return {"test_accuracy": runtime.accuracy(path, data.x_test, data.y_test),
                "crop_accuracy": runtime.accuracy(path, data.crops_test, data.crops_test_labels)}


def _crops(sources: pagedata.Sources, part: str, count: int, seed: int) -> dict:
    from edgedigits.synth import crops

    x, y = crops.make(sources.glyphs(part), count, seed)
    return {"x": x, "y": y}
