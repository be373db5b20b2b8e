"""Task `strips`: the strip reader, a CRNN with a CTC head (training/stripreader.py) that reads the digits of a number
cut out of a grey image as a level strip (runtime/reading/strips.py) and reads separators, ruling, texture and
specks as nothing. Trained first on strips along the true centre lines of synthetic pages (jittered, parts of
numbers, clutter), then tuned with strips along the lines a trained number finder finds (the recipe's
`strips.finder`: its misses and its finds on clutter included). Scored by the share of strips read exactly right:
on validation strips for choosing epochs and the INT8 variant, on test strips for the manifest, which also says how
many whole test images of each kind the finder and this reader read right together."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgedigits.errors import InputError
from edgedigits.runtime import datasets
from edgedigits.runtime.reading import strips
from edgedigits.training import checks, config, pagedata, taskbase
from edgedigits.training.tasks import TASKS

log = logging.getLogger(__name__)
MODEL = "strip-reader"
INPUT, OUTPUT = "image", "probabilities"
IMAGE_SETS = {"photos": 60, "pages": 40, "cheque": 200, "register": 200, "digits": 300, "usps": 300}  # test images
DESCRIPTION = ("Strip reader ({stage}), made by edgedigits: a fully convolutional CRNN with a CTC head (Shi, Bai & "
               "Yao 2015; Graves et al. 2006) that reads the digits of a handwritten number cut out as a level grey "
               "strip, and reads separators, lines and texture as nothing. Input 'image': float32 [N,32,W,1], paper 0 "
               "and ink 1 (edgedigits.runtime.reading.strips.cut and normalize), digits 20 rows tall, W a multiple "
               "of 4. Output 'probabilities': [N,W/4,11], per 4 columns the probability of digits 0-9 and of the CTC "
               "blank (10), read by best-path decoding (edgedigits.runtime.reading.sequence.decode).")


@dataclass
class Table:
    """[strips]: how many strips are rendered, the tuning on the finder's lines, and the network's width."""

    strips: int = 48_000  # along the true lines: numbers, parts of numbers, clutter
    found_strips: int = 16_000  # along the lines the finder finds (tuning)
    val_strips: int = 3_000  # half along true lines, half along found ones
    test_strips: int = 3_000
    finder: str = "../exported/page-finder/page-finder.onnx"  # the finder the tuning reads (from the recipe's folder)
    tune_epochs: int = 4  # epochs on true + found strips after train.epochs on true ones (0: no tuning)
    tune_learning_rate: float = 5e-4
    width: int = 24  # channels of the first convolutions (x2, x3, x4 deeper)
    calibration_strips: int = 512  # training strips the INT8 variants are calibrated on
    workers: int = 0  # processes rendering pages (0 = one per core)
    saved: str = ""  # a trained (and tuned) Keras strip reader to ship instead of training (from the recipe's folder)


@dataclass
class Strips:
    """The task's data: strips along true and found lines for each split (rendered on first use, cached), and the
    test images read end to end."""

    recipe: object
    sources: pagedata.Sources
    table: Table
    cache_dir: Path
    history: list = field(default_factory=list)
    _found: dict | None = None
    _true: dict | None = None
    _images: dict | None = None

    def finder_path(self) -> Path:
        path = Path(self.table.finder)
        base = config.recipe_dir(self.recipe)
        return path if path.is_absolute() or base is None else base / path

    def _render(self, kind: str, counts: dict[str, int], finder: Path | None) -> dict:
        from edgedigits.training import stripdata

        r, t = self.recipe, self.table
        key = hashlib.sha256(finder.read_bytes()).hexdigest()[:12] if finder else "true"

        def render():
            out = {}
            for k, (split, count) in enumerate(counts.items()):
                images, labels, fonts = getattr(self.sources, split)
                d = stripdata.make(images, labels, fonts, count, r.seed * 10 + k + (kind == "found") * 5, t.workers,
                                   finder)
                out.update({f"{split}_{name}": a for name, a in d.items()})
                log.info(f"rendered {count:,} {split} strips along {kind} lines")
            return out

        name = pagedata.cache_name(f"strips-{kind}", *counts.values(), r.validation, r.seed, key)
        return pagedata.cached(self.cache_dir / name, render)

    def true(self) -> dict:
        if self._true is None:
            t = self.table
            train = pagedata.training_count(self.recipe, "strips", t.strips, t.calibration_strips)
            self._true = self._render("true", {"train": train, "val": t.val_strips // 2,
                                               "test": t.test_strips // 2}, None)
        return self._true

    def found(self) -> dict:
        if self._found is None:
            t, path = self.table, self.finder_path()
            if not path.is_file():
                raise InputError(f"strips.finder: no number finder at {path} (train pipelines/page-finder.toml first)")
            train = pagedata.training_count(self.recipe, "strips", t.found_strips, t.calibration_strips)
            self._found = self._render("found", {"train": train, "val": t.val_strips - t.val_strips // 2,
                                                 "test": t.test_strips - t.test_strips // 2}, path)
        return self._found

    def split(self, split: str, tuned: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(images, widths, labels) of a split: strips along true lines, and along found ones when `tuned`."""
        parts = [self.true()] + ([self.found()] if tuned and (split != "train" or self.table.tune_epochs) else [])
        return tuple(np.concatenate([p[f"{split}_{k}"] for p in parts]) for k in ("images", "widths", "labels"))

    def training(self, tuned: bool) -> dict:
        """What stripreader.train reads: training strips (with the found ones when `tuned`) and validation."""
        x, w, y = self.split("train", tuned)
        xv, wv, yv = self.split("val")
        return {"images": x, "widths": w, "labels": y, "val_images": xv, "val_widths": wv, "val_labels": yv}

    def test_images(self) -> dict:
        if self._images is None:
            from edgedigits.synth import sets

            source = self.sources.glyphs("test")
            self._images = {name: sets.make_set(name, source, count, self.recipe.seed + 100 + k)
                            for k, (name, count) in enumerate(IMAGE_SETS.items())}
        return self._images

    def describe(self) -> str:
        t = self.table
        if pagedata.saved_path(self.recipe, "strips"):
            return (f"strips: {t.calibration_strips:,} training strips along true and found lines each (INT8 "
                    f"calibration of the saved model), {t.val_strips:,} validation, {t.test_strips:,} test strips")
        return (f"strips: {t.strips:,} along true lines and {t.found_strips:,} along the lines {t.finder} finds, "
                f"{t.val_strips:,} validation, {t.test_strips:,} test strips of synthetic pages")


def exact(path: Path, images, widths, labels) -> tuple[float, float]:
    from edgedigits.training import stripreader

    return stripreader.accuracy(strips.StripReader(path).run, images, widths.astype(int), labels)


def read_right(reader, items) -> float:
    """% of (image, digits) pairs whose digits the reader reads exactly, in order (spaces aside)."""
    from edgedigits.runtime import as_text

    return 100.0 * float(np.mean([as_text(reader.read(im), mark_uncertain=False).replace(" ", "") == t
                                  for im, t in items]))


@TASKS.register("strips")
class StripTask(taskbase.CTCReader, pagedata.PageTask):
    Table, MODEL, SECTION, ROWS, INPUT, DESCRIPTION = Table, MODEL, "strips", strips.STRIP_ROWS, INPUT, DESCRIPTION
    reader = strips.StripReader

    @staticmethod
    def load(recipe, data_dir=None, run_dir=None):
        ds = datasets.load(recipe.dataset, data_dir)
        checks.check_sizes(recipe, len(ds.x_train), len(ds.x_test))
        table = recipe.tables.get("strips", Table())
        data = Strips(recipe, pagedata.Sources.of(recipe, ds), table, Path(run_dir or "."))
        if table.tune_epochs and not data.finder_path().is_file():  # one error before any progress
            data.found()
        return ds, data

    @staticmethod
    def contract(run) -> dict:
        return {"kind": strips.KIND, "labels": [str(k) for k in range(10)], "blank": strips.BLANK,
                "dataset": run.ds.name, "pipeline": run.recipe.name, "input_name": INPUT,
                "input_shape": ["N", strips.STRIP_ROWS, "W", 1], "strip_values": "paper 0, ink 1",
                "output_name": OUTPUT, "stride": strips.STRIDE, "producer": "edgedigits"}

    @staticmethod
    def val(run):
        return run.data.split("val")

    @staticmethod
    def batch(crops):
        return strips.batch([strips.normalize(c) for c in crops])[0]

    @staticmethod
    def stamp_facts(facts) -> dict:
        return {"test_strips_exact": facts["test_accuracy"]}

    @staticmethod
    def parameters(recipe, ds) -> int:
        from edgedigits.training import stripreader

        return int(stripreader.build(recipe.seed, recipe.tables.get("strips", Table()).width).count_params())

    # --- training ------------------------------------------------------------------------------------------------

    @staticmethod
    def train(run):
        """train.epochs on strips along true lines (kept in the run directory: tuning again starts from it), then
        tune_epochs on those and the found ones at tune_learning_rate."""
        from edgedigits.training import stripreader, train

        cfg, t, d = run.recipe.train, run.data.table, run.data
        base = run.run_dir / pagedata.cache_name("base", t.strips, cfg.epochs, cfg.batch_size, cfg.learning_rate,
                                                 t.width, run.recipe.seed).replace(".npz", ".keras")
        if base.is_file() and base.with_suffix(".json").is_file():
            log.info(f"starting from the strip reader trained earlier on true lines: {base}")
            model, history = train.load_model(base), json.loads(base.with_suffix(".json").read_text())
        else:
            model, history = stripreader.train(d.training(False), cfg.epochs, cfg.batch_size, cfg.learning_rate,
                                               run.recipe.seed, t.width)
            model.save(str(base))
            base.with_suffix(".json").write_text(json.dumps(history))
        if t.tune_epochs:
            model, tuned = stripreader.train(d.training(True), t.tune_epochs, cfg.batch_size, t.tune_learning_rate,
                                             run.recipe.seed, t.width, model=model)
            history += [{**h, "tuning": True} for h in tuned]
        run.data.history = history
        return model

    # --- scores --------------------------------------------------------------------------------------------------

    @staticmethod
    def score(run, path: Path) -> dict:
        """Test strips read exactly right (as "test_accuracy", which the gates read) and their digits read right;
        whole test images of each kind read right by the recipe's finder and this reader; MACs for 6 strips."""
        from edgedigits.runtime import Classifier, Reader, default_model
        from edgedigits.runtime.reading import page
        from edgedigits.training import graphstats

        digits, right = exact(path, *run.data.split("test"))
        reader = Reader(Classifier(default_model(), threads=1),
                        pages=page.PageReader(run.data.finder_path(), path, threads=1))
        images = {name: round(read_right(reader, items), 2) for name, items in run.data.test_images().items()}
        log.info(f"  {Path(path).name}: test strips {right:.2f}% exactly right ({digits:.2f}% of digits); test "
                 f"images read right: {images}")
        return {"test_accuracy": round(right, 2), "test_digit_accuracy": round(digits, 3),
                "test_images_read_right": images, "macs": graphstats.macs_at(path, (6, strips.STRIP_ROWS, 128, 1))}

    @staticmethod
    def validate(run):
        return lambda path: exact(path, *run.data.split("val"))[1]

    @classmethod
    def calibration(cls, run) -> list[dict]:
        images, widths, _ = run.data.split("train")
        return cls.calibration_feeds(images, widths, run.data.table.calibration_strips, run.recipe.seed, 32)

    @staticmethod
    def calibration_facts(run) -> dict:
        return {"calibration_strips": run.data.table.calibration_strips}

    @classmethod
    def timing_inputs(cls, run) -> tuple[np.ndarray, np.ndarray]:
        """Six validation strips 128 columns wide (a frame with six numbers: one call) and a batch of 64."""
        images, _, _ = run.data.split("val")
        batch = cls.batch([im[:, :128] for im in images[:64]])
        return batch[:6], batch

    # --- what the files and the manifest say ------------------------------------------------------------------------

    @classmethod
    def manifest(cls, run) -> dict:
        t = run.data.table
        return cls.page_manifest(
            run, strips.KIND, [str(k) for k in range(10)], lambda history: max(history, key=lambda h: h["val_exact"]),
            {"strips": t.strips, "found_strips": t.found_strips, "val_strips": t.val_strips,
             "test_strips": t.test_strips, "tune_epochs": t.tune_epochs, "width": t.width},
            finder=t.finder,
            test_note="test_accuracy: test strips read exactly right (%), half along the true lines, half along the "
                      "lines the finder finds, from synthetic pages drawn with MNIST test digits and the validation "
                      "fonts; test_images_read_right: whole synthetic images of each kind whose digits the finder "
                      "and this reader read exactly, in order",
            default_note="the INT8 file is the default only where it runs faster than fp32 (six strips 128 columns "
                         "wide in one call, on the CPU that built the set)")
