"""Pipeline recipes: pipelines/NAME.toml parsed into typed dataclasses; any unknown key or wrong type is an InputError.
The dataclass defaults are the documented defaults: a TOML file only says what differs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from edgedigits.errors import InputError, shown
from edgedigits.limits import MAX_RECIPE_BYTES, MAX_RECIPE_DEPTH
from edgedigits.runtime.datasets import FileSource
from edgedigits.training import variants
from edgedigits.training.checks import check_ranges
from edgedigits.training.stages import STAGES
from edgedigits.training.tasks import TASKS

# The recipes shipped with the package (pipelines/ of the source tree, package data in a wheel).
PIPELINES_DIR = Path(__file__).resolve().parent.parent / "pipelines"
QUANT_VARIANTS = tuple(variants.VARIANTS)
DEFAULT_QUANT_VARIANTS = variants.DEFAULT
QUANT_SELECT = ("fastest", "accurate")
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
CRITERIA = ("l1-outgoing", "l1")  # structured pruning's unit rankings, defined in edgedigits/training/structured.py
OPTIMIZERS = ("sgd", "adam", "adamax", "nadam", "adadelta", "adagrad", "rmsprop")
STARTS = ("auto", "train", "prune")


@dataclass
class Augment:
    rotation: float = 0.0  # degrees, +/-
    zoom: float = 0.0  # fraction, +/-
    shift: float = 0.0  # fraction of width/height, +/-
    flip: bool = False  # mirror left-right with probability 1/2 (garments; never digits)
    erase: float = 0.0  # probability of one random rectangle filled with noise (random erasing, Zhong et al. 2017)


@dataclass
class Optimizer:
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.0  # sgd only
    nesterov: bool = False  # sgd only
    batch_size: int = 128
    epochs: int = 15


@dataclass
class Train(Optimizer):
    augment: Augment = field(default_factory=Augment)
    early_stopping_patience: int = 5  # epochs without val_accuracy improvement; best weights restored
    reduce_lr_factor: float = 0.5  # ReduceLROnPlateau on val_loss
    reduce_lr_patience: int = 2
    min_learning_rate: float = 1e-5
    cosine_decay: bool = False  # decay the learning rate to 0 along a cosine over all epochs, no ReduceLROnPlateau
    teachers: list = field(default_factory=list)  # ONNX classifiers teaching together, paths from the recipe's folder
    distill: float = 0.0  # weight of the teachers' soft predictions in the loss (0: labels only; needs teachers)
    temperature: float = 4.0  # softening of the teachers' and the model's predictions for distillation


@dataclass
class Prune(Optimizer):
    enabled: bool = True  # off: the trained model is exported and quantized as it is
    target_sparsity: float = 0.9  # of conv and dense kernels, polynomial decay from 0
    ramp_epochs: int = 10  # the ramp ends after this many fine-tuning epochs; the rest recover accuracy
    frequency: int = 100  # steps between mask updates
    cosine_decay: bool = False  # decay the learning rate to 0 along a cosine over all fine-tuning epochs
    layers: dict = field(default_factory=dict)  # per-layer targets, e.g. {dense1 = 0.95}; others use target_sparsity
    augment: Augment = field(default_factory=Augment)
    learning_rate: float = 5e-4
    epochs: int = 20
    teachers: list = field(default_factory=list)  # ONNX files teaching the fine-tuning while pruning, as in [train]
    distill: float = 0.0  # weight of the teachers' soft predictions in the fine-tuning loss (0: labels only)
    temperature: float = 4.0  # softening of the teachers' and the model's predictions for distillation
    max_accuracy_drop: float = 2.0  # test-set points the pruned model may lose against the one before (the gate)


@dataclass
class Structured(Optimizer):
    """Remove whole filters/units (edgedigits/training/structured.py) after training, before magnitude pruning."""

    enabled: bool = False  # off: the pipeline is exactly as without this table
    # kept filters/units per layer: a count, or a fraction in (0, 1] of the trained width; others keep theirs
    widths: dict = field(default_factory=dict)
    criterion: str = "l1-outgoing"  # or "l1" (plain incoming-kernel norm)
    steps: int = 3  # shrinks from full to target width, each followed by fine-tuning
    epochs: int = 3  # fine-tuning epochs after each step but the last
    final_epochs: int = 0  # fine-tuning epochs after the last step (0: as `epochs`)
    cosine_decay: bool = False  # decay the learning rate to 0 along a cosine within each step's fine-tuning
    distill: float = 0.0  # weight of the full-width model's soft predictions in the fine-tuning loss (0: labels only)
    temperature: float = 4.0  # softening of both models' predictions for distillation
    augment: Augment = field(default_factory=Augment)
    learning_rate: float = 5e-4
    max_accuracy_drop: float = 2.0  # test-set points the narrow model may lose against the full-width one


@dataclass
class Export:
    opset: int = 17
    parity_images: int = 1000
    parity_tolerance: float = 1e-4


@dataclass
class Quantize:
    calibration_images: int = 1000  # drawn from the training split, never from the test set
    max_accuracy_drop: float = 0.3  # points INT8 may lose against its fp32 source, on validation and on the test set
    per_channel: bool = True
    calibration_method: str = "minmax"  # minmax, entropy or percentile
    # variants to build; which one is shipped is `select`'s choice (see edgedigits/training/quantize.py for why a choice)
    variants: list = field(default_factory=lambda: list(DEFAULT_QUANT_VARIANTS))
    # fastest: the lowest batch-1 p50 on the running CPU among variants within max_accuracy_drop on validation;
    # accurate: the best validation accuracy, whatever its speed
    select: str = "fastest"
    tie_band: float = 0.05  # "fastest": p50s within this fraction of the fastest count as tied; the smallest file wins
    timing_runs: int = 2000  # batch-1 runs per variant, interleaved across variants
    throughput_seconds: float = 1.0  # batch-256 throughput time per variant


@dataclass
class Pipeline:
    task: str = "classifier"  # the kind of model (edgedigits/training/tasks): classifier or numbers
    model: str = "lenet"
    dataset: str | FileSource = "mnist"
    start: str = "auto"  # the first stage: auto (train; a saved .keras model: prune), train or prune
    seed: int = 42
    # images held out of the training set for early stopping and model selection, or that fraction of them (0.1)
    validation: int | float = 5000
    # train and prune on all training images, validation too, keeping the last epoch (settings chosen without it)
    refit: bool = False
    train_limit: int = 0  # use only the first N training images (0 = all); for smoke tests
    train: Train = field(default_factory=Train)
    prune: Prune = field(default_factory=Prune)
    structured: Structured = field(default_factory=Structured)
    export: Export = field(default_factory=Export)
    quantize: Quantize = field(default_factory=Quantize)
    tables: dict = field(default_factory=dict)  # tables of stages and tasks that bring their own
    name: str = ""  # set from the file name
    path: str = ""
    sha256: str = ""  # of the recipe's settings (settings_sha256): names exactly what was trained, comments aside

    def __post_init__(self):
        check_ranges(self)
        for section in (self.train, self.prune, self.structured):
            if section.optimizer not in OPTIMIZERS:
                raise InputError(f"unknown optimizer '{section.optimizer}' (known: {', '.join(OPTIMIZERS)})")
        for layer, value in self.prune.layers.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise InputError(f"prune.layers.{layer} must be a number in [0, 1), got {value!r}")
        if self.prune.ramp_epochs > self.prune.epochs:
            raise InputError(f"prune.ramp_epochs must be in [1, prune.epochs = {self.prune.epochs}] (the ramp ends "
                             f"inside the fine-tuning), got {self.prune.ramp_epochs}")
        s = self.structured
        for layer, value in s.widths.items():
            if isinstance(value, bool) or not (
                (isinstance(value, int) and value >= 1) or (isinstance(value, float) and 0.0 < value <= 1.0)
            ):
                raise InputError(f"structured.widths.{layer} must be a count >= 1 or a fraction in (0, 1], got {value!r}")
        if s.criterion not in CRITERIA:
            raise InputError(f"unknown structured.criterion '{s.criterion}' (known: {', '.join(CRITERIA)})")
        if s.enabled and not s.widths:
            raise InputError("structured.enabled needs structured.widths (e.g. conv1 = 3, or conv1 = 0.5)")
        if not self.quantize.variants or any(v not in QUANT_VARIANTS for v in self.quantize.variants):
            raise InputError(
                f"quantize.variants must be a non-empty list of {', '.join(QUANT_VARIANTS)}, got {self.quantize.variants}"
            )
        q = self.quantize
        for key, value, known in (("start", self.start, STARTS), ("quantize.select", q.select, QUANT_SELECT),
                                  ("quantize.calibration_method", q.calibration_method, CALIBRATION_METHODS)):
            if value not in known:
                raise InputError(f"{key} must be one of {', '.join(known)}, got {value!r}")
        TASKS.get(self.task).check(self)

    @property
    def manifest_path(self) -> str:
        """The recipe as a manifest names it: pipelines/NAME.toml for a packaged recipe or one in ./pipelines, else
        the file's name. Manifests never carry a local or home path."""
        if not self.path:
            return ""
        path = Path(self.path)
        if path.resolve().parent in (PIPELINES_DIR.resolve(), Path("pipelines").resolve()):
            return f"pipelines/{path.name}"
        return path.name


def resolve(name_or_path: str) -> Path:
    """A recipe by name (./pipelines/NAME.toml if the working directory has one, else the packaged recipe), or a
    path to a .toml file of the user's own."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.parent != Path("."):
        if not path.is_file():
            raise InputError(f"pipeline file not found: {path}")
        return path
    for candidate in (Path("pipelines") / f"{name_or_path}.toml", PIPELINES_DIR / f"{name_or_path}.toml"):
        if candidate.is_file():
            return candidate
    raise InputError(f"unknown pipeline '{name_or_path}' (known: {', '.join(known())}; or give a path to a .toml file)")


def known() -> list[str]:
    """Names of the packaged recipes and of those in ./pipelines/."""
    return sorted({p.stem for d in (PIPELINES_DIR, Path("pipelines")) if d.is_dir() for p in d.glob("*.toml")})


def load(name_or_path: str, **overrides) -> Pipeline:
    """A recipe file, parsed and checked. Files over limits.MAX_RECIPE_BYTES, or nested deeper than
    limits.MAX_RECIPE_DEPTH, are refused before they are parsed or built."""
    path = resolve(name_or_path)
    try:
        size = path.stat().st_size
        if size > MAX_RECIPE_BYTES:
            raise InputError(f"pipeline {path} is {size:,} bytes, over the {MAX_RECIPE_BYTES:,}-byte limit for a "
                             f"recipe")
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"malformed pipeline {path}: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise InputError(f"malformed pipeline {path}: nested deeper than {MAX_RECIPE_DEPTH} levels") from None
    except OSError as exc:
        raise InputError(f"cannot read pipeline {path}: {exc.strerror or exc}") from None
    check_depth(raw, str(path))
    raw.update({k: v for k, v in overrides.items() if v is not None})
    pipeline = from_dict(Pipeline, raw, where=str(path))
    pipeline.name, pipeline.path = path.stem, str(path)
    pipeline.sha256 = settings_sha256(to_dict(pipeline))
    return pipeline


def check_depth(value, where: str, depth: int = 0) -> None:
    """Refuse a value nested deeper than limits.MAX_RECIPE_DEPTH (no recipe key is more than four deep)."""
    if depth > MAX_RECIPE_DEPTH:
        raise InputError(f"malformed pipeline {where}: nested deeper than {MAX_RECIPE_DEPTH} levels")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        check_depth(child, where, depth + 1)


def settings_sha256(settings: dict) -> str:
    """sha256 of a recipe's settings as canonical JSON (every key, defaults included; not its name, path or
    comments): two manifests with the same hash were trained with the same settings."""
    kept = {k: v for k, v in settings.items() if k not in ("name", "path", "sha256")}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def from_dict(cls, raw: dict, where: str = "pipeline"):
    """Build dataclass `cls` from a TOML table, refusing unknown keys and values of the wrong type."""
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a table, got {shown(raw)}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)} - {"tables"}
    kwargs = {}
    for key, value in raw.items():
        if cls is Pipeline and key not in known and _stage_table(key):
            kwargs.setdefault("tables", {})[key] = from_dict(_stage_table(key), value, where=f"{where} [{key}]")
            continue
        if key not in known:
            raise InputError(f"{where}: unknown key {shown(key)} (known: {', '.join(sorted(known))})")
        kind = hints[key]
        if isinstance(kind, types.UnionType):  # a name or a table (dataset = "mnist", or [dataset] path = ...)
            value = _one_of(kind.__args__, value, key, where)
        elif dataclasses.is_dataclass(kind):
            value = from_dict(kind, value, where=f"{where} [{key}]")
        elif kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise InputError(f"{where}: '{key}' must be {kind.__name__}, got {shown(value)}")
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def _one_of(kinds: tuple, value, key: str, where: str):
    """`value` as the first of `kinds` it fits: a table for the dataclass among them, else a plain value."""
    for kind in kinds:
        if dataclasses.is_dataclass(kind) and isinstance(value, dict):
            return from_dict(kind, value, where=f"{where} [{key}]")
        if not dataclasses.is_dataclass(kind) and isinstance(value, kind) and not isinstance(value, bool):
            return value
    names = " or ".join("a table" if dataclasses.is_dataclass(k) else k.__name__ for k in kinds)
    raise InputError(f"{where}: '{key}' must be {names}, got {value!r}")


def recipe_dir(pipeline: Pipeline) -> Path | None:
    """The folder a recipe's relative paths (dataset files, model files) start from: its own file's folder."""
    return Path(pipeline.path).parent if pipeline.path else None


def _stage_table(name: str):
    """The table dataclass of a registered stage or task that brings its own, else None."""
    for registry in (STAGES, TASKS):
        if name in registry and registry.get(name).Table is not None:
            return registry.get(name).Table
    return None


def to_dict(pipeline: Pipeline) -> dict:
    """The recipe as its TOML tables would say it (a stage's own table at the top level, like the built-in ones)."""
    raw = dataclasses.asdict(pipeline)
    raw.update(raw.pop("tables"))
    return raw


def parse_value(text: str):
    """A command-line value as a TOML literal (4, 0.5, true, "x"), else as the plain string."""
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()
    except RecursionError:
        raise InputError(f"value {shown(text)} is nested deeper than {MAX_RECIPE_DEPTH} levels") from None
    check_depth(value, "value")
    return value


def parse_override(text: str) -> tuple[str, object]:
    """'structured.widths.conv1=4' -> ('structured.widths.conv1', 4); the value is read as TOML, else as a string."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"an override is KEY=VALUE with a dotted key (structured.widths.conv1=4), got {text!r}")
    return key.strip(), parse_value(value)


def with_overrides(pipeline: Pipeline, overrides: dict) -> Pipeline:
    """A copy of `pipeline` with dotted keys replaced, e.g. {"structured.widths.conv1": 4, "prune.epochs": 8}.

    For sweeps: the result is validated exactly like a recipe file (unknown keys, types, ranges), so a bad value is
    one InputError naming the key. Name and path are kept; a sweep gives each variant its own runs/out directory.
    A bare key that is not a top-level one means the [train] table's (batch_size -> train.batch_size).
    """
    raw = to_dict(pipeline)
    for dotted, value in overrides.items():
        *tables, key = dotted.split(".")
        if not tables and key not in raw and key in raw["train"]:
            tables = ["train"]
        node = raw
        for i, table in enumerate(tables):
            if not isinstance(node.get(table), dict):
                raise InputError(f"override {dotted}: '{'.'.join(tables[: i + 1])}' is not a table")
            node = node[table]
        node[key] = value
    changed = from_dict(Pipeline, raw, where=f"{pipeline.path or pipeline.name} with overrides")
    changed.sha256 = settings_sha256(to_dict(changed))
    return changed
