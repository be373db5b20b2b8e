"""What the page reader's two tasks (tasks/finder.py, tasks/strips.py) draw their synthetic pages from, and where
they keep what they rendered.

Three sources that share no digit and no font: training pages are drawn from MNIST's training digits less the
validation ones and the training fonts; validation pages (model selection, the INT8 gate) from the held-out
validation digits and the validation fonts; test pages (the figures a manifest reports) from MNIST's test digits and
the validation fonts. Pen-stroke digits come from each page's own random stream. Rendered arrays are cached in the
run directory under a name that says what they were made from, so a second run renders nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits.errors import InputError
from edgedigits.runtime import datasets
from edgedigits.synth import GENERATOR, glyphs
from edgedigits.training import taskbase

log = logging.getLogger(__name__)


@dataclass
class Sources:
    """(digits, labels, font names) for each of the three splits."""

    train: tuple
    val: tuple
    test: tuple

    @classmethod
    def of(cls, recipe, ds) -> Sources:
        for split, fonts in (("training", glyphs.TRAIN_FONTS), ("validation", glyphs.VALIDATION_FONTS)):
            if not glyphs.find_fonts(fonts):  # MNIST digits alone would train a reader blind to other hands, silently
                raise InputError(f"none of the {split} handwriting fonts is installed ({', '.join(fonts[:3])}, ...): "
                                 "install the Debian font packages glyphs.py names (`make system` as root does)")
        x_tr, y_tr, x_val, y_val = datasets.split_validation(ds.x_train, ds.y_train, recipe.validation, recipe.seed)
        return cls((x_tr, y_tr, glyphs.TRAIN_FONTS), (x_val, y_val, glyphs.VALIDATION_FONTS),
                   (ds.x_test, ds.y_test, glyphs.VALIDATION_FONTS))

    def glyphs(self, split: str) -> glyphs.Glyphs:
        images, labels, fonts = getattr(self, split)
        return glyphs.Glyphs(images, labels, glyphs.find_fonts(fonts))


def cache_name(kind: str, *parts) -> str:
    """A cache file name that changes with everything the arrays were made from (and the generator's version)."""
    return "-".join([kind, *(str(p) for p in parts), f"g{GENERATOR}"]) + ".npz"


def cached(path: Path, make, compressed: bool = False) -> dict:
    """The arrays stored at `path`, or `make()`'s, stored there first (atomically; zip-compressed when
    `compressed`)."""
    from edgedigits.runtime.model.artifacts import atomic_path

    if path.is_file():
        try:
            with np.load(path) as stored:
                log.info(f"using the arrays rendered earlier: {path}")
                return dict(stored)
        except (OSError, ValueError, EOFError):
            log.info(f"re-rendering: {path} does not read back")
    arrays = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            (np.savez_compressed if compressed else np.savez)(f, **arrays)
    return arrays


def saved_path(recipe, section: str) -> Path | None:
    """The trained Keras model a recipe's table names (`saved`, from the recipe's folder), or None."""
    from edgedigits.training import config

    saved = getattr(recipe.tables.get(section), "saved", "")
    if not saved:
        return None
    base = config.recipe_dir(recipe)
    return Path(saved) if base is None or Path(saved).is_absolute() else base / saved


def training_count(recipe, section: str, count: int, calibration: int) -> int:
    """Training items to render: all of them to train, only the calibration ones when the recipe ships a saved model
    (nothing is trained; INT8 calibration is all that reads training data)."""
    return min(count, calibration) if saved_path(recipe, section) else count


def weights(run, section: str) -> tuple[dict, list]:
    """The manifest's "weights" entry (where the shipped weights come from) and the training history: the run's
    own, or the one saved beside the saved model (NAME.json)."""
    import hashlib
    import json

    path = saved_path(run.recipe, section)
    if path is None:
        return {"trained": "in this run, as the pipeline entry says"}, run.data.history
    history_file = path.with_suffix(".json")
    history = json.loads(history_file.read_text()) if history_file.is_file() else []
    return {"trained": "earlier, with the training settings of the pipeline entry (not retrained in this run: the "
                       "saved Keras model was exported, checked, quantized and shipped)",
            "saved_model": path.name, "saved_model_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}, history


class PageTask(taskbase.Unpruned):
    """What the page reader's two tasks do alike beyond having no pruning: parameters counted as they are (no pruning
    leaves zeros), scores that start from nothing (0%), shipping a model trained earlier when the task's table names
    it (`saved`), and the INT8 file as the default only where it runs faster."""

    SECTION = ""  # the task's table

    @classmethod
    def saved_model(cls, recipe) -> Path | None:
        return saved_path(recipe, cls.SECTION)

    @staticmethod
    def model_facts(model) -> dict:
        count = int(model.count_params())
        return {"parameters": count, "nonzero_parameters": count}

    @staticmethod
    def chance(run) -> float:
        return 0.0  # marking or reading nothing scores nothing

    @classmethod
    def page_manifest(cls, run, kind: str, labels: list, best, training: dict, **notes) -> dict:
        """The manifest entries, with where the weights come from and which file is the default; `best(history)`
        picks the best epoch."""
        weights_entry, history = weights(run, cls.SECTION)
        return cls.manifest_entries(run, kind, labels, history, best(history) if history else {}, training,
                                    default=faster_default(run), weights=weights_entry, **notes)


def faster_default(run) -> str:
    """"int8" when the INT8 file the quantize stage kept ran faster than the fp32 file it came from (its own timing,
    on the path an app uses), else "fp32"."""
    q = run.scored()["int8"].facts.get("quantization", {})
    fp32, int8 = q.get("reference", {}).get("p50_us"), q.get("candidates", {}).get(q.get("variant"), {}).get("p50_us")
    return "int8" if fp32 is not None and int8 is not None and int8 < fp32 else "fp32"
