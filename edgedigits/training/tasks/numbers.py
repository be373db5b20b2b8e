"""Task `numbers`: the number reader, a CRNN with a CTC head (training/crnn.py) that reads a group of handwritten
digits as one sequence. Trained on lines rendered from MNIST training digits (its own [numbers] table says how
many), validated on lines from the held-out training digits, and scored as the reader uses it: the runtime Reader
(the shipped classifier and this model) on camera frames of every MNIST test digit once, by how many digits it
reads right. The pipeline's stages export, check, quantize and ship it like any other model."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgedigits.errors import InputError
from edgedigits.runtime import datasets
from edgedigits.runtime.reading import sequence
from edgedigits.training import checks, linedata, taskbase
from edgedigits.training.tasks import TASKS

log = logging.getLogger(__name__)
MODEL = "crnn"  # the one network this task trains
INPUT, OUTPUT = "image", "probabilities"
DESCRIPTION = ("Number reader ({stage}), made by edgedigits: a fully convolutional CRNN with a CTC head (Shi, Bai & "
               "Yao 2015; Graves et al. 2006) that reads a group of handwritten digits, touching or apart, as one "
               "sequence. Input 'image': float32 [N,32,W,1] = uint8 / 255, white ink on black, the group's ink scaled "
               "to 26 rows centred in 32 with 8 blank columns either side, W a multiple of 4 (edgedigits.runtime."
               "reading.sequence.group_image). Output 'probabilities': [N,W/4,11], per 4-column strip the probability "
               "of digits 0-9 and of the CTC blank (index 10); read by best-path decoding "
               "(edgedigits.runtime.reading.sequence.decode).")


@dataclass
class Table:
    """[numbers]: how many camera frames of numbers are rendered to train and validate on."""

    frames: int = 96_000  # from the MNIST training digits (less the validation ones)
    val_frames: int = 4_000  # from the held-out validation digits
    calibration_lines: int = 512  # training lines the INT8 variants are calibrated on
    workers: int = 0  # processes rendering frames (0 = one per core)


@dataclass
class Lines:
    """The task's data: rendered lines (rendered on first use, cached in the run directory), the validation lines,
    and the test frames (every MNIST test digit once)."""

    recipe: object
    ds: object
    table: Table
    history: list = field(default_factory=list)
    _lines: dict | None = None
    _frames: dict | None = None
    cache_dir: Path | None = None

    def lines(self) -> dict:
        if self._lines is None:
            from edgedigits.training import crnn

            r, t = self.recipe, self.table
            x_tr, y_tr, x_val, y_val = datasets.split_validation(self.ds.x_train, self.ds.y_train, r.validation, r.seed)
            cache = Path(self.cache_dir or ".") / f"lines-{t.frames}-{t.val_frames}-{r.seed}.npz"
            self._lines = crnn.render(x_tr, y_tr, x_val, y_val, t.frames, t.val_frames, r.seed, t.workers, cache)
        return self._lines

    def describe(self) -> str:
        t = self.table
        return (f"lines: rendered from {t.frames:,} training and {t.val_frames:,} validation frames; test: every "
                f"{self.recipe.dataset} test digit once")

    def val(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        d = self.lines()
        return d["val_images"], d["val_widths"].astype(int), d["val_labels"]

    def test_frames(self) -> dict:
        if self._frames is None:
            from edgedigits.training import crnn

            self._frames = crnn.test_frames(self.ds.x_test, self.ds.y_test, seed=0)
        return self._frames


@TASKS.register("numbers")
class Numbers(taskbase.CTCReader):
    Table, MODEL, ROWS, INPUT, DESCRIPTION = Table, MODEL, sequence.HEIGHT, INPUT, DESCRIPTION
    reader = sequence.SequenceReader

    @classmethod
    def check(cls, recipe) -> None:
        super().check(recipe)
        if recipe.train.distill:
            raise InputError("task numbers has no distillation: leave train.distill and train.teachers out")

    @staticmethod
    def load(recipe, data_dir=None, run_dir=None):
        ds = datasets.load(recipe.dataset, data_dir)
        checks.check_sizes(recipe, len(ds.x_train), len(ds.x_test))
        table = recipe.tables.get("numbers", Table())
        return ds, Lines(recipe, ds, table, cache_dir=run_dir)

    @staticmethod
    def parameters(recipe, ds) -> int:
        from edgedigits.training import crnn

        return int(crnn.build(recipe.seed).count_params())

    @staticmethod
    def contract(run) -> dict:
        return {"labels": [str(k) for k in range(10)], "blank": sequence.BLANK, "dataset": run.ds.name,
                "pipeline": run.recipe.name, "input_name": INPUT, "input_shape": ["N", sequence.HEIGHT, "W", 1],
                "input_scale": 1 / 255, "ink": "white-on-black", "output_name": OUTPUT, "stride": sequence.STRIDE,
                "producer": "edgedigits"}

    @staticmethod
    def val(run):
        return run.data.val()

    @staticmethod
    def batch(crops):
        return sequence.batch(crops)[0]

    @staticmethod
    def stamp_facts(facts) -> dict:
        return {"test_digit_accuracy": {f"{r['advance'][0]}-{r['advance'][1]}": r["digit_accuracy"]
                                        for r in facts["test"]}}

    # --- training ------------------------------------------------------------------------------------------------

    @staticmethod
    def train(run):
        from edgedigits.training import crnn

        cfg = run.recipe.train
        model, history = crnn.train(run.data.lines(), cfg.epochs, cfg.batch_size, cfg.learning_rate, run.recipe.seed)
        run.data.history = history
        return model

    @staticmethod
    def model_facts(model) -> dict:
        from edgedigits.training import prune

        facts = prune.sparsity_report(model)
        return {key: facts[key] for key in ("parameters", "nonzero_parameters", "kernel_sparsity")}

    # --- scores --------------------------------------------------------------------------------------------------

    @staticmethod
    def score(run, path: Path) -> dict:
        """Digits read right by the runtime Reader with this model on every MNIST test digit once, per advance
        range and in all, and on the validation lines."""
        from edgedigits import runtime
        from edgedigits.training import crnn

        numbers = sequence.SequenceReader(path)
        reader = runtime.Reader(runtime.Classifier(runtime.default_model(), threads=1), sequence=numbers)
        log.info(f"  {path.name}: reading every MNIST test digit once")
        rows = crnn.score(reader, run.data.test_frames())
        for r in rows:
            log.info(f"    advance {r['advance'][0]}-{r['advance'][1]} ({r['looks']}): {r['digit_accuracy']:.2f}% of "
                     f"{r['digits']:,} digits, {r['exact']}/{r['numbers']} numbers exactly right")
        digits = sum(r["digits"] for r in rows)
        right = sum(r["digit_accuracy"] * r["digits"] / 100 for r in rows)
        return {"test_accuracy": round(100.0 * right / digits, 2),
                "validation_digit_accuracy": round(linedata.accuracy(numbers.run, *run.data.val()), 3), "test": rows}

    @staticmethod
    def validate(run):
        return lambda path: linedata.accuracy(sequence.SequenceReader(path).run, *run.data.val())

    @classmethod
    def calibration(cls, run) -> list[dict]:
        d = run.data.lines()
        return cls.calibration_feeds(d["train_images"], d["train_widths"].astype(int),
                                     run.data.table.calibration_lines, run.recipe.seed, 64)

    @staticmethod
    def calibration_facts(run) -> dict:
        return {"calibration_lines": run.data.table.calibration_lines}

    @classmethod
    def timing_inputs(cls, run) -> tuple[np.ndarray, np.ndarray]:
        images, widths, _ = run.data.val()
        batch = cls.batch([im[:, :w] for im, w in zip(images[:64], widths[:64])])
        return batch[:1], batch

    @staticmethod
    def chance(run) -> float:
        return 10.0  # a digit guessed

    # --- what the files and the manifest say ------------------------------------------------------------------------

    @classmethod
    def manifest(cls, run) -> dict:
        history, t = run.data.history, run.data.table
        d = run.data.lines()
        best = max(history, key=lambda h: h["val_digit_accuracy"]) if history else {}
        note = ("digits read right by the runtime reader (this model reads every number; where it reads one digit per "
                "blob, the more confident of it and the default classifier wins, digit by digit) on camera frames of "
                "every MNIST test digit once, 2-5 per number")
        training = {"frames": t.frames, "val_frames": t.val_frames, "groups": int(len(d["train_images"])),
                    "val_groups": int(len(d["val_images"]))}
        return cls.manifest_entries(run, "sequence", [str(k) for k in range(10)], history, best, training,
                                    test_note=note)

