"""The pipeline's stages, one module each, listed once in REGISTRY in the order a recipe runs them.

A stage module has `run(ctx: Run) -> Result`: it reads its recipe table and the run so far (the data split, the
model the previous stage left in `ctx.model`, the files earlier stages scored) and returns what it made. Optional:
`describe(ctx)`, its numbered progress line; `enabled(recipe)`, whether a recipe runs it (default: always); `Table`,
the dataclass of its own TOML table, for a stage the built-in recipe tables do not cover (it then runs when a recipe
has that table). `pipeline.run` loops over the enabled stages and builds the manifest from their results; the
single-step commands call the same modules, so a file is made and stamped the same way whichever command made it.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

REGISTRY = {  # name -> module, in pipeline order
    "train": "edgedigits.training.stages.train",
    "structured": "edgedigits.training.stages.structured",
    "prune": "edgedigits.training.stages.prune",
    "export": "edgedigits.training.stages.export",
    "quantize": "edgedigits.training.stages.quantize",
    "report": "edgedigits.training.stages.report",
}

log = logging.getLogger(__name__)


@dataclass
class Result:
    """What a stage made: the file it scored under its manifest stage name, the facts it measured, its wall times."""

    stage: str = ""  # the manifest's name for the scored file (fp32, structured, pruned, int8); "" if it scores none
    path: Path | None = None
    facts: dict = field(default_factory=dict)  # manifest["stages"][stage]
    times: dict = field(default_factory=dict)  # manifest["times_s"] entries, seconds
    manifest: dict = field(default_factory=dict)  # other top-level manifest entries


@dataclass
class Run:
    """One run of a recipe: its data and directory, the model in hand, and every stage's result so far."""

    recipe: object  # config.Pipeline
    ds: object  # runtime.datasets.Dataset
    split: object  # split.Split
    run_dir: Path
    data_dir: str | None = None
    parameters: int = 0
    model: object = None  # the Keras model the next stage works on
    model_stage: str = "fp32"  # what that model is called in the manifest
    model_time: float = 0.0  # and the seconds it took to make
    gate: bool = True  # False: measure an accuracy loss instead of refusing it (sweeps)
    results: dict[str, Result] = field(default_factory=dict)  # by stage name, in run order
    files: dict[str, Path] = field(default_factory=dict)  # where a stage's ONNX file goes, if not run_dir/STAGE.onnx

    def path(self, stage: str) -> Path:
        return Path(self.files.get(stage, self.run_dir / f"{stage}.onnx"))

    def scored(self) -> dict[str, Result]:
        return {r.stage: r for r in self.results.values() if r.stage}

    def last_scored(self) -> Result:
        return list(self.scored().values())[-1]

    def times(self) -> dict:
        return {k: v for r in self.results.values() for k, v in r.times.items()}

    def keep(self, model, stage: str, seconds: float, keras_file: str) -> None:
        """Hand `model` on to the next stage as `stage`, saved as run_dir/keras_file (atomically)."""
        from edgedigits.runtime.model.artifacts import atomic_path

        with atomic_path(self.run_dir / keras_file) as tmp:
            model.save(str(tmp))
        self.model, self.model_stage, self.model_time = model, stage, seconds


def unit(name: str):
    """The module of stage `name`."""
    return importlib.import_module(REGISTRY[name])


def enabled(recipe) -> list[str]:
    """The stages `recipe` runs, in order."""
    names = []
    for name in REGISTRY:
        module = unit(name)
        if hasattr(module, "Table") and name not in recipe.tables:
            continue
        if getattr(module, "enabled", lambda r: True)(recipe):
            names.append(name)
    return names


def table(name: str):
    """The dataclass of stage `name`'s own TOML table, or None (unknown stage, or one using the built-in tables)."""
    return getattr(unit(name), "Table", None) if name in REGISTRY else None


def run(ctx: Run, names: list[str]) -> Run:
    """Run stages `names` in order on `ctx`, each with a numbered progress line if it has one."""
    counted = [n for n in names if hasattr(unit(n), "describe")]
    for name in names:
        module = unit(name)
        if name in counted:
            log.info(f"[{counted.index(name) + 1}/{len(counted)}] {module.describe(ctx)}")
        ctx.results[name] = module.run(ctx)
    return ctx


def open_run(recipe, run_dir: Path, data_dir=None, record: bool = True, model=None) -> Run:
    """Load the recipe's dataset and split; with `record`, start run_dir/run.json (for `edgedigits report`). A
    `model` given (a single step on a saved one) is checked against the dataset before the first line of progress,
    and is the model the first stage works on."""
    from edgedigits.runtime import datasets
    from edgedigits.training import config, models, report
    from edgedigits.training.split import Split

    ds = datasets.load(recipe.dataset, data_dir)
    config.check_sizes(recipe, len(ds.x_train), len(ds.x_test))
    if model is not None:
        from edgedigits.training import train

        train.check_model(model, ds.num_classes)
    log.info(f"pipeline {recipe.path or recipe.name}: model {recipe.model}, dataset {recipe.dataset}")
    log.info(f"data: {recipe.dataset} from {ds.source}")
    split = Split.for_recipe(ds, recipe)
    log.info(f"split: {len(split.x_train)} train / {len(split.x_val)} validation / {len(split.x_test)} test images")
    ctx = Run(recipe, ds, split, Path(run_dir), data_dir, model=model)
    if record:
        ctx.parameters = models.count_params(recipe.model, ds.num_classes)
        report.write_run_info(run_dir, name=recipe.name, model=recipe.model, dataset=ds.name,
                              parameters=ctx.parameters, seed=recipe.seed, pipeline=pipeline_file(recipe))
    return ctx


def pipeline_file(recipe) -> str:
    """The recipe as a manifest names it: pipelines/NAME.toml for a packaged recipe or one in ./pipelines, else the
    file's name. Manifests never carry a local or home path."""
    from edgedigits.training.config import PIPELINES_DIR

    if not recipe.path:
        return ""
    path = Path(recipe.path)
    if path.resolve().parent in (PIPELINES_DIR.resolve(), Path("pipelines").resolve()):
        return f"pipelines/{path.name}"
    return path.name


@contextlib.contextmanager
def quiet():
    """No progress lines within the block (warnings still show): for single steps whose output is their result, so
    a refusal is the one line on stderr."""
    logger = logging.getLogger("edgedigits")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def timed(times: dict, step: str):
    """Record the wall time of the block in times[step], in seconds."""
    start = time.perf_counter()
    yield
    times[step] = round(time.perf_counter() - start, 2)
