"""Recipe checks beyond types: every number inside its range, layer names against the model, and sizes against
the dataset. A bad value is one InputError naming the key and what it may be."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from edgedigits.errors import InputError


@dataclass(frozen=True)
class Range:
    """Allowed values of a number: [low, high], either end open; floats must also be finite."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        low, high = (int(x) if float(x).is_integer() else x for x in (self.low, self.high))
        return f"{'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"


# The newest ONNX opset tf2onnx converts to (tf2onnx.constants.OPSET_TO_IR_VERSION; a test checks they agree).
MAX_OPSET = 18
MAX_EPOCHS = 10_000
# Every number of a recipe, by dotted key; the most specific match wins ("structured.epochs" before "epochs",
# "augment.rotation" for train.augment.rotation). Values outside give no useful model, or none at all.
RANGES = {
    "seed": Range(0, 2**32 - 1),  # numpy's and TensorFlow's seeds are unsigned 32-bit
    "validation": Range(1, 10_000_000),  # and fewer than the training images: checked against the dataset
    "train_limit": Range(0, 10_000_000),
    "learning_rate": Range(0, 10, low_open=True),
    "momentum": Range(0, 1, high_open=True),
    "batch_size": Range(1, 65_536),
    "epochs": Range(1, MAX_EPOCHS),
    "augment.rotation": Range(0, 180),
    "augment.zoom": Range(0, 1, high_open=True),
    "augment.shift": Range(0, 1, high_open=True),
    "augment.erase": Range(0, 1),
    "train.early_stopping_patience": Range(0, MAX_EPOCHS),
    "train.reduce_lr_factor": Range(0, 1, low_open=True, high_open=True),
    "train.reduce_lr_patience": Range(0, MAX_EPOCHS),
    "train.min_learning_rate": Range(0, 10),
    "prune.target_sparsity": Range(0, 1, high_open=True),
    "prune.ramp_epochs": Range(1, MAX_EPOCHS),
    "prune.frequency": Range(1, 1_000_000),
    "structured.steps": Range(1, 100),
    "structured.epochs": Range(0, MAX_EPOCHS),
    "structured.final_epochs": Range(0, MAX_EPOCHS),
    "distill": Range(0, 1),
    "temperature": Range(0, 100, low_open=True),
    "export.opset": Range(17, MAX_OPSET),
    "export.parity_images": Range(1, 1_000_000),  # and at most the test images: checked against the dataset
    "export.parity_tolerance": Range(0, 1),
    "quantize.calibration_images": Range(1, 1_000_000),  # checked against the training images too
    "max_accuracy_drop": Range(0, 100),  # percentage points a stage may lose against the one before
    "quantize.tie_band": Range(0, 1),  # p50s up to twice the fastest count as tied at most
    "quantize.timing_runs": Range(20, 1_000_000),
    "quantize.throughput_seconds": Range(0, 600, low_open=True),
}


FRACTIONS = {"validation": Range(0, 1, low_open=True, high_open=True)}  # a count (RANGES), or a fraction


def range_of(dotted: str) -> Range | None:
    parts = dotted.split(".")
    for start in range(len(parts)):
        found = RANGES.get(".".join(parts[start:]))
        if found:
            return found
    return None


def check_ranges(obj, prefix: str = "") -> None:
    """Every number in a recipe finite and inside its Range; one InputError naming the key and the range."""
    for f in dataclasses.fields(obj):
        value, key = getattr(obj, f.name), f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            check_ranges(value, f"{key}.")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        allowed = FRACTIONS[key] if isinstance(value, float) and key in FRACTIONS else range_of(key)
        kind = "an integer" if isinstance(value, int) else "a number"
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{key} must be a finite number{f' in {allowed}' if allowed else ''}, got {value}")
        if allowed is not None and value not in allowed:
            raise InputError(f"{key} must be {kind} in {allowed}, got {value!r}")


def check_teachers(pipeline) -> None:
    """Distillation's two keys go together in [train] and [prune]: a weight > 0 and a list of ONNX files."""
    for table, t in (("train", pipeline.train), ("prune", pipeline.prune)):
        if bool(t.distill) != bool(t.teachers) or any(not isinstance(n, str) or not n for n in t.teachers):
            raise InputError(f"{table}.distill > 0 and {table}.teachers (a list of ONNX files) go together, got "
                             f"distill {t.distill} and teachers {t.teachers!r}")


def check_layers(pipeline) -> None:
    """Layer names in [prune.layers] and [structured.widths] against the model's own layers, read from the
    registry without building it (models.layer_names), so a typo fails before any training."""
    from edgedigits.training import models

    names = models.layer_names(pipeline.model)
    if not names["complete"]:
        return  # some layers have Keras' automatic names: pruning checks against the built model
    unknown = sorted(set(pipeline.prune.layers) - set(names["prunable"]))
    if unknown:
        raise InputError(f"prune.layers names {', '.join(unknown)}, not prunable layers of {pipeline.model} "
                         f"(prunable: {', '.join(names['prunable'])})")
    unknown = sorted(set(pipeline.structured.widths) - set(names["shrinkable"]))
    if unknown:
        raise InputError(f"structured.widths names {', '.join(unknown)}, not layers of {pipeline.model} that can "
                         f"shrink (shrinkable: {', '.join(names['shrinkable']) or 'none'})")
    for layer, value in pipeline.structured.widths.items():
        full = names["widths"].get(layer)
        if isinstance(value, int) and isinstance(full, int) and value > full:
            raise InputError(f"structured.widths.{layer} must be a count in [1, {full}] ({layer} of {pipeline.model} "
                             f"has {full}) or a fraction in (0, 1], got {value}")


def check_sizes(pipeline, train_images: int, test_images: int) -> None:
    """The recipe's sizes against the dataset it trains on, right after loading the data and before any training."""
    v, limit = pipeline.validation, pipeline.train_limit
    if isinstance(v, float):  # a fraction: the count split_validation will hold out
        v = round(v * train_images)
    data = pipeline.dataset if isinstance(pipeline.dataset, str) else pipeline.dataset.name or pipeline.dataset.path
    if not 1 <= v <= train_images - 1:
        raise InputError(f"validation must be in [1, {train_images - 1}] ({data} has {train_images} "
                         f"training images), got {v}")
    left = train_images - v
    if limit > left:
        raise InputError(f"train_limit must be in [0, {left}] (0 = all; {train_images} training images less "
                         f"validation {v}), got {limit}")
    calibration = pipeline.quantize.calibration_images
    if calibration > left - 1:
        raise InputError(f"quantize.calibration_images must be in [1, {left - 1}] (drawn from the {left} training "
                         f"images left after validation), got {calibration}")
    p = pipeline.prune  # prune.py ends the ramp on a mask update: it must fall inside the fine-tuning steps
    steps = math.ceil((limit or left) / p.batch_size)
    if math.ceil(p.ramp_epochs * steps / p.frequency) * p.frequency > p.epochs * steps:
        raise InputError(f"prune.frequency must be in [1, {max(1, steps * (p.epochs - p.ramp_epochs))}] with "
                         f"ramp_epochs {p.ramp_epochs} of epochs {p.epochs} ({steps} steps per epoch): the ramp must "
                         f"end on a mask update inside the fine-tuning, got {p.frequency}")
    if pipeline.export.parity_images > test_images:
        raise InputError(f"export.parity_images must be in [1, {test_images}] (the test images), got "
                         f"{pipeline.export.parity_images}")
