"""One run of a recipe: its task, its data, its directory, the model in hand and every stage's result so far.

A Run is made by one of its named constructors (from a recipe, from a saved Keras model, from an ONNX file) and
then only the stages change it: callers never set its fields by hand.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from edgedigits.runtime.model.artifacts import atomic_path
from edgedigits.training import tasks

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
    recipe: object  # config.Pipeline
    task: object  # the recipe's task (edgedigits.training.tasks): what kind of model, its data and its scores
    ds: object  # runtime.datasets.Dataset
    data: object  # the task's split (training.split.Split for a classifier)
    run_dir: Path
    data_dir: str | None = None
    parameters: int = 0
    model: object = None  # the Keras model the next stage works on
    model_stage: str = "fp32"  # what that model is called in the manifest
    model_time: float = 0.0  # and the seconds it took to make
    gate: bool = True  # False: measure an accuracy loss instead of refusing it (sweeps)
    out_dir: Path | None = None  # where the ship stage writes the shipped set
    results: dict[str, Result] = field(default_factory=dict)  # by stage name, in run order
    files: dict[str, Path] = field(default_factory=dict)  # where a stage's ONNX file goes, if not run_dir/STAGE.onnx

    # --- named constructors ---------------------------------------------------------------------------------------

    @classmethod
    def from_recipe(cls, recipe, run_dir, data_dir=None, *, out_dir=None, record: bool = True, gate: bool = True,
                    data=None) -> Run:
        """A run that starts from nothing: the recipe's data loaded and split (checked against the recipe before
        the first line of progress), or `data` in place of the split (k-fold cross-validation); with `record`,
        run_dir/run.json started for `edgedigits report`."""
        task = tasks.TASKS.get(recipe.task)
        ds, split = task.load(recipe, data_dir, Path(run_dir))  # a bad dataset is one error before any progress
        data = split if data is None else data
        parameters = task.parameters(recipe, ds)  # a user's model is built (and checked) here, before any progress
        _announce(recipe, ds, data)
        run = cls(recipe, task, ds, data, Path(run_dir), data_dir, parameters=parameters, gate=gate,
                  out_dir=out_dir and Path(out_dir))
        if record:
            task.record(run)
        return run

    @classmethod
    def from_saved_model(cls, recipe, model, run_dir, data_dir=None, *, stage: str = "fp32", output=None,
                         gate: bool = True, out_dir=None, record: bool = False) -> Run:
        """A run that starts from a trained Keras model (a path or a loaded model) called `stage`; `output` is
        where the file of that stage goes when it is exported; with `record`, run_dir/run.json is started (a
        recipe that starts at pruning from a saved model)."""
        task = tasks.TASKS.get(recipe.task)
        model = task.load_model(model)
        ds, data = task.load(recipe, data_dir, Path(run_dir))
        task.check_model(model, ds)  # before the first line of progress: a model that does not fit is one error
        _announce(recipe, ds, data)
        run = cls(recipe, task, ds, data, Path(run_dir), data_dir, model=model, model_stage=stage, gate=gate,
                  out_dir=out_dir and Path(out_dir), files={stage: Path(output)} if output else {})
        if record:
            run.parameters = int(model.count_params())
            task.record(run)
        return run

    @classmethod
    def from_onnx(cls, recipe, path, run_dir, data_dir=None, *, output=None, stage: str = "fp32") -> Run:
        """A run that starts from an exported ONNX file, scored on the test set as `stage`; `output` is where the
        INT8 file goes."""
        task = tasks.TASKS.get(recipe.task)
        ds, data = task.load(recipe, data_dir, Path(run_dir))
        task.check_onnx(path, ds)  # before the first line of progress: a file that does not fit is one error
        _announce(recipe, ds, data)
        run = cls(recipe, task, ds, data, Path(run_dir), data_dir, files={"int8": Path(output)} if output else {})
        run.results["input"] = Result(stage, Path(path), task.score(run, Path(path)))
        return run

    # --- what the stages read and hand on --------------------------------------------------------------------------

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
        with atomic_path(self.run_dir / keras_file) as tmp:
            model.save(str(tmp))
        self.model, self.model_stage, self.model_time = model, stage, seconds


def _announce(recipe, ds, data) -> None:
    log.info(f"pipeline {recipe.path or recipe.name}: model {recipe.model}, dataset {ds.name}")
    log.info(f"data: {ds.name} from {ds.source}" + (f"; test set {ds.test_split}" if getattr(ds, "test_split", "")
                                                    else ""))
    log.info(data.describe())
