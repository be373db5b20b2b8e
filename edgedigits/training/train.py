"""Training with tf_keras: optimizer, augmentation and callbacks all come from the pipeline's [train] table.

`fit` is shared with pruning, so both stages build data, optimizers and logs the same way.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import cv2
import numpy as np

from edgedigits.training import models
from edgedigits.training.config import Augment, Optimizer, Train
from edgedigits.training.split import Split
from edgedigits.training.stack import keras

__all__ = ["Split", "fit", "load_model", "make_optimizer", "steps_per_epoch", "train"]
log = logging.getLogger(__name__)


def make_optimizer(cfg: Optimizer, total_steps: int = 0):
    """The pipeline's optimizer; with `cosine_decay` and `total_steps`, a cosine-decayed rate."""
    lr = cfg.learning_rate
    if getattr(cfg, "cosine_decay", False) and total_steps:
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=total_steps)
    if cfg.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    return {
        "adam": keras.optimizers.Adam,
        "adamax": keras.optimizers.Adamax,
        "nadam": keras.optimizers.Nadam,
        "adadelta": keras.optimizers.Adadelta,
        "adagrad": keras.optimizers.Adagrad,
        "rmsprop": keras.optimizers.RMSprop,
    }[cfg.optimizer](lr)


class Batches(keras.utils.Sequence):
    """Shuffled training batches, re-augmented every epoch with one random affine warp per image (OpenCV).

    Same ranges as Keras' ImageDataGenerator (rotation degrees, zoom and shift fractions, black fill), but one
    cv2.warpAffine per image is an order of magnitude cheaper per epoch than Keras' augmentation layers on 2 cores.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, augment: Augment, seed: int):
        super().__init__()
        self.x, self.y, self.batch_size, self.augment = x, y, batch_size, augment
        self.rng = np.random.default_rng(seed)
        self.brightest = float(x.max()) if augment.erase and x.size else 1.0  # erasing noise spans the data's range
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, i):
        batch = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        return self.epoch_x[batch], self.y[batch]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.x))
        a = self.augment
        self.epoch_x = self.x if not (a.rotation or a.zoom or a.shift) else self._warp(a)
        if (a.flip or a.erase) and self.epoch_x is self.x:
            self.epoch_x = self.x.copy()  # mirrored and erased in place: never the training images themselves
        if a.flip:
            mirrored = self.rng.random(len(self.x)) < 0.5
            self.epoch_x[mirrored] = self.epoch_x[mirrored, :, ::-1]
        if a.erase:
            self._erase(a.erase)

    def _erase(self, p: float) -> None:
        """Random erasing (Zhong et al. 2017): with probability p, a rectangle of 2-40% of the image with aspect
        0.3-3.3 is filled with uniform noise, so no single part of a garment or digit can carry the decision."""
        n, h, w = self.epoch_x.shape[:3]
        for i in np.flatnonzero(self.rng.random(n) < p):
            area = self.rng.uniform(0.02, 0.4) * h * w
            aspect = math.exp(self.rng.uniform(math.log(0.3), math.log(1 / 0.3)))
            eh, ew = min(h, round(math.sqrt(area * aspect))), min(w, round(math.sqrt(area / aspect)))
            top, left = int(self.rng.integers(0, h - eh + 1)), int(self.rng.integers(0, w - ew + 1))
            patch = self.rng.uniform(0, self.brightest, (eh, ew) + self.epoch_x.shape[3:])
            self.epoch_x[i, top : top + eh, left : left + ew] = patch.astype(self.epoch_x.dtype)

    def _warp(self, a: Augment) -> np.ndarray:
        n, h, w = self.x.shape[:3]
        angles = self.rng.uniform(-a.rotation, a.rotation, n)
        scales = self.rng.uniform(1 - a.zoom, 1 + a.zoom, n)
        shifts = self.rng.uniform(-a.shift, a.shift, (n, 2)) * (w, h)
        out = np.empty_like(self.x)
        centre = ((w - 1) / 2, (h - 1) / 2)
        for i in range(n):
            m = cv2.getRotationMatrix2D(centre, angles[i], scales[i])
            m[:, 2] += shifts[i]
            if self.x.shape[-1] == 1:
                out[i, ..., 0] = cv2.warpAffine(self.x[i, ..., 0], m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
            else:  # colour: all channels in one warp
                out[i] = cv2.warpAffine(self.x[i], m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        return out


class EpochLog(keras.callbacks.Callback):
    """One line per epoch: what a user watching a minutes-long run wants to see."""

    def __init__(self, label: str, total: int):
        super().__init__()
        self.label, self.total = label, total

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        lr = float(keras.backend.get_value(self.model.optimizer.learning_rate))
        extra = f" sparsity {logs['sparsity']:.3f}" if "sparsity" in logs else ""
        log.info(
            f"  {self.label} epoch {epoch + 1}/{self.total}: loss {logs.get('loss', 0):.4f} "
            f"acc {logs.get('accuracy', 0):.4f}"
            f"  val_loss {logs.get('val_loss', 0):.4f} val_acc {logs.get('val_accuracy', 0):.4f}  lr {lr:.2g}{extra}"
            f"  ({time.perf_counter() - self.t0:.1f}s)"
        )


def fit(model, split: Split, cfg: Optimizer, augment: Augment, seed: int, callbacks: list, label: str) -> dict:
    """Compile and fit `model` on the split; returns the Keras history dict."""
    data = Batches(split.x_train, split.y_train, cfg.batch_size, augment, seed)
    optimizer = make_optimizer(cfg, total_steps=len(data) * cfg.epochs)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(
        data,
        epochs=cfg.epochs,
        validation_data=(split.x_val, split.y_val),
        validation_batch_size=1000,
        callbacks=callbacks + [EpochLog(label, cfg.epochs)],
        verbose=0,
    )
    return history.history


def steps_per_epoch(split: Split, batch_size: int) -> int:
    return math.ceil(len(split.x_train) / batch_size)


def train(make_model, split: Split, cfg: Train, seed: int, run_dir: Path, teachers=None):
    """Train the model `make_model()` gives (called once the seed is set, so its initial weights are the seed's);
    keeps the best validation epoch (with split.refit the last), writes history.csv and best.keras. With `teachers`
    (distill.OnnxTeachers) and cfg.distill, it learns from their predictions too (distill.Distiller)."""
    keras.utils.set_random_seed(seed)
    model = make_model()
    run_dir.mkdir(parents=True, exist_ok=True)
    last = split.refit  # validation is trained on: every epoch runs and the last is kept
    callbacks = [] if last else [keras.callbacks.EarlyStopping("val_accuracy", patience=cfg.early_stopping_patience,
                                                                restore_best_weights=True)]
    if not cfg.cosine_decay:  # a cosine schedule owns the learning rate (make_optimizer)
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            "val_loss", factor=cfg.reduce_lr_factor, patience=cfg.reduce_lr_patience, min_lr=cfg.min_learning_rate
        ))
    callbacks += [keras.callbacks.ModelCheckpoint(str(run_dir / "best.keras"), "val_accuracy", save_best_only=not last),
                  keras.callbacks.CSVLogger(str(run_dir / "history.csv"))]
    trainee = model
    if cfg.distill and teachers is not None:
        from edgedigits.training.distill import Distiller

        trainee = Distiller(model, teachers, cfg.distill, cfg.temperature)
        callbacks = [_SaveBest(model, run_dir / "best.keras", last)
                     if isinstance(c, keras.callbacks.ModelCheckpoint) else c
                     for c in callbacks]  # the student is saved, not the wrapper
    fit(trainee, split, cfg, cfg.augment, seed, callbacks, "train")
    return model


class _SaveBest(keras.callbacks.Callback):
    """ModelCheckpoint of `model` on the best validation accuracy (or every epoch: `last`), for a wrapper
    (Distiller) that cannot be saved."""

    def __init__(self, model, path: Path, last: bool = False):
        super().__init__()
        self.student, self.path, self.best, self.last = model, path, -1.0, last

    def on_epoch_end(self, epoch, logs=None):
        if self.last or (logs or {}).get("val_accuracy", -1.0) > self.best:
            self.best = logs["val_accuracy"]
            self.student.save(str(self.path))


def check_model(model, num_classes: int, input_shape: tuple = models.INPUT_SHAPE) -> None:
    """A Keras model the pipeline can prune and export: one input [N, *input_shape], output [N,num_classes];
    anything else is an InputError before any work (tf2onnx and Keras would fail deep inside with a traceback)."""
    from edgedigits.errors import InputError

    shape_in, shape_out = model.input_shape, model.output_shape
    if not isinstance(shape_in, tuple) or tuple(shape_in[1:]) != tuple(input_shape):
        raise InputError(f"model {model.name!r} takes input {_shape(shape_in)}, expected {_shape((None, *input_shape))}"
                         f" (the dataset's images)")
    if not isinstance(shape_out, tuple) or len(shape_out) != 2 or shape_out[1] != num_classes:
        raise InputError(f"model {model.name!r} outputs {_shape(shape_out)}, expected [N, {num_classes}] "
                         f"(one probability per class of the dataset)")


def _shape(shape) -> str:
    if isinstance(shape, list):
        return " and ".join(_shape(s) for s in shape)
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def load_model(path: str | Path):
    """Load a saved Keras model (dense or stripped-pruned); a missing or unreadable file is an InputError."""
    from edgedigits.errors import InputError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"Keras model not found: {path}")
    try:
        return keras.models.load_model(str(path))
    except Exception as exc:  # Keras raises many types for a bad file
        raise InputError(f"cannot load Keras model {path}: {str(exc).splitlines()[0]}") from None
