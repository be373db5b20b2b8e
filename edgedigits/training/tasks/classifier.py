"""Task `classifier`: a model that classifies whole images of the recipe's dataset, scored by top-1 accuracy on the
full test set through onnxruntime. Every shipped lenet, gapnet and fashion model is one. The model is a registry
model (training/models.py) or one of the user's own (training/usermodels.py: a builder in their Python file, or a
saved .keras model); the dataset a built-in one or one in files, of any image size and 1 or 3 channels.
TensorFlow is imported inside the steps that train, so reading a recipe stays light."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edgedigits import runtime
from edgedigits.errors import InputError
from edgedigits.training import config, metadata, models, split, usermodels
from edgedigits.training.tasks import TASKS

log = logging.getLogger(__name__)
CALIBRATION_BATCH = 100  # images per calibration feed


@TASKS.register("classifier")
class Classifier:
    Table = None

    @staticmethod
    def check(recipe) -> None:
        from edgedigits.training import checks

        checks.check_teachers(recipe)
        own = usermodels.kind(recipe.model)
        if recipe.start != "auto" and own != "saved":
            raise InputError(f"start = {recipe.start!r} is for a saved .keras model; {recipe.model!r} is trained "
                             f"from scratch (leave start out)")
        if own != "registry":
            usermodels.check(recipe.model)  # its layer names are checked against the model once it is built
            return
        models.get_spec(recipe.model)
        checks.check_layers(recipe)

    @staticmethod
    def load(recipe, data_dir=None, run_dir=None):
        return split.load(recipe, data_dir)

    @staticmethod
    def parameters(recipe, ds) -> int:
        if usermodels.kind(recipe.model) == "registry":
            return models.count_params(recipe.model, ds.num_classes, ds.input_shape)
        from edgedigits.training import prune, structured

        model = _user_model(recipe, ds)  # built (or loaded) and checked before any progress
        prune.layer_targets(model, recipe.prune)  # layer names in [prune.layers] and [structured.widths]
        if recipe.structured.enabled:
            structured.check_model(model, recipe.structured)
        return int(model.count_params())

    @staticmethod
    def record(run) -> None:
        from edgedigits.training import report

        recipe = run.recipe
        report.write_run_info(run.run_dir, name=recipe.name, model=recipe.model, dataset=run.ds.name,
                              parameters=run.parameters, seed=recipe.seed, pipeline=recipe.manifest_path,
                              **({"dataset_files": run.ds.spec} if run.ds.spec else {}))

    @staticmethod
    def record_time(run, **seconds) -> None:
        from edgedigits.training import report

        report.write_run_info(run.run_dir, **seconds)

    @staticmethod
    def report(run) -> Path:
        """The run report (curves, confusion matrices, classification reports); returns report.md."""
        from edgedigits.training import report

        log.info("report: curves, confusion matrices, classification reports")
        report.write(run.run_dir, run.data_dir)
        return run.run_dir / "report.md"

    # --- training ------------------------------------------------------------------------------------------------

    @staticmethod
    def train(run):
        from edgedigits.training import train

        recipe, ds = run.recipe, run.ds
        if usermodels.kind(recipe.model) == "registry":
            def make():
                return models.create_model(recipe.model, ds.num_classes, ds.input_shape)
        else:
            def make():
                return _user_model(recipe, ds)
        teachers = Classifier.teachers(run, recipe.train)
        return train.train(make, run.data, recipe.train, recipe.seed, run.run_dir, teachers)

    @staticmethod
    def teachers(run, table):
        """The exported classifiers whose predictions teach the [train] or [prune] fine-tuning (`table`), or None
        (distill = 0). Their files are named relative to the recipe's folder."""
        if not table.distill:
            return None
        from edgedigits.training import distill

        return distill.OnnxTeachers(table.teachers, run.ds, config.recipe_dir(run.recipe))

    @staticmethod
    def saved_model(recipe) -> Path | None:
        """The saved Keras model a recipe starts from at pruning (`model = "x.keras"`, start auto or prune)."""
        if usermodels.kind(recipe.model) != "saved" or recipe.start == "train":
            return None
        base = config.recipe_dir(recipe)
        return Path(recipe.model) if base is None or Path(recipe.model).is_absolute() else base / recipe.model

    @staticmethod
    def load_model(model):
        from edgedigits.training import train

        return train.load_model(model) if isinstance(model, (str, Path)) else model

    @staticmethod
    def check_model(model, ds) -> None:
        from edgedigits.training import train

        train.check_model(model, ds.num_classes, ds.input_shape)

    @staticmethod
    def check_onnx(path, ds) -> None:
        """An ONNX file to quantize: it meets the contract and has one output per class of the recipe's dataset
        (its INT8 file is stamped with the dataset's labels)."""
        model = runtime.Classifier(path, threads=1)
        if model.num_outputs != ds.num_classes:
            raise InputError(f"{path} has {model.num_outputs} outputs, but the recipe's dataset {ds.name} has "
                             f"{ds.num_classes} classes (quantize with a recipe of its dataset)")
        if model.input_shape != ds.input_shape:
            raise InputError(f"{path} takes {'x'.join(map(str, model.input_shape))} images, but the recipe's dataset "
                             f"{ds.name} has {'x'.join(map(str, ds.input_shape))} images")

    # --- export --------------------------------------------------------------------------------------------------

    @staticmethod
    def exportable(model):
        return model

    @staticmethod
    def signature(run):
        from edgedigits.training.stack import tf

        return (tf.TensorSpec((None, *run.ds.input_shape), tf.float32, name=metadata.INPUT_NAME),)

    @staticmethod
    def parity_inputs(run) -> np.ndarray:
        return runtime.normalize(run.data.x_test[: run.recipe.export.parity_images], run.ds.input_shape)

    @staticmethod
    def finalize(proto, run) -> None:
        metadata.rename_output(proto, metadata.OUTPUT_NAME)
        metadata.set_metadata(proto, **_contract(run))

    @staticmethod
    def model_facts(model) -> dict:
        """Parameters, sparsity and multiply-adds of the Keras model an exported file was made from."""
        from edgedigits.training import prune, structured

        return {**prune.sparsity_report(model), "macs": structured.macs(model)}

    # --- scores --------------------------------------------------------------------------------------------------

    @staticmethod
    def score(run, path: Path) -> dict:
        data = run.data
        return {"test_accuracy": runtime.accuracy(path, data.x_test, data.y_test)}

    @staticmethod
    def validate(run):
        data = run.data
        return lambda path: runtime.accuracy(path, data.x_val, data.y_val)

    @staticmethod
    def calibration(run) -> list[dict]:
        return feeds(split.calibration_images(run.ds, run.recipe), run.ds.input_shape)

    @staticmethod
    def calibration_facts(run) -> dict:
        return {"calibration_images": int(run.recipe.quantize.calibration_images)}

    @staticmethod
    def timing_inputs(run) -> tuple[np.ndarray, np.ndarray]:
        batch = run.data.x_val[:256]
        return batch[:1], batch

    @staticmethod
    def chance(run) -> float:
        return 100.0 / run.ds.num_classes

    # --- what the files and the manifest say ------------------------------------------------------------------------

    @staticmethod
    def stamp(run, stage: str, result) -> None:
        """Write into a scored file its stage, test accuracy, sparsity and MACs (metadata_props and doc string)."""
        import onnx

        facts = result.facts
        meta = {**_contract(run), "stage": stage, "test_accuracy": round(facts["test_accuracy"], 2),
                "kernel_sparsity": facts["kernel_sparsity"], "macs": facts["macs"]}
        proto = onnx.load(str(result.path))
        model = run.recipe.model
        source = models.get_spec(model).source if usermodels.kind(model) == "registry" else usermodels.source(model)
        metadata.finalize(proto, metadata.describe(meta, source), **meta)
        metadata.save(proto, result.path)
        runtime.Classifier(result.path, threads=1)  # what is written loads: its metadata meets the contract

    @staticmethod
    def manifest(run) -> dict:
        contract = _contract(run)
        files = {"test_split": run.ds.test_split or "the dataset's own test set",
                 "dataset_files": contract["dataset_files"]} if "dataset_files" in contract else {}
        return {
            "model": run.recipe.model,
            "labels": list(run.ds.labels),
            "test_images": int(len(run.data.y_test)),
            "input": {"name": metadata.INPUT_NAME, "shape": ["N", *run.ds.input_shape],
                      "normalization": contract["normalization"]},
            "output": {"name": metadata.OUTPUT_NAME, "shape": ["N", run.ds.num_classes]},
            **files,
            **_teachers(run.recipe),
        }


def feeds(images: np.ndarray, shape: tuple = models.INPUT_SHAPE) -> list[dict]:
    """uint8 images as calibration feeds of the classifier's input, CALIBRATION_BATCH images each."""
    x = runtime.normalize(images, shape)
    return [{metadata.INPUT_NAME: x[i : i + CALIBRATION_BATCH]} for i in range(0, len(x), CALIBRATION_BATCH)]


def _user_model(recipe, ds):
    """The user's model for this dataset: built by their builder, or loaded from their saved file; checked."""
    from edgedigits.training import train

    if usermodels.kind(recipe.model) == "builder":
        model = usermodels.build(recipe.model, config.recipe_dir(recipe), ds.input_shape, ds.num_classes)
    else:
        model = train.load_model(usermodels.path(recipe.model, config.recipe_dir(recipe)))
    train.check_model(model, ds.num_classes, ds.input_shape)
    return model


def _teachers(recipe) -> dict:
    """The manifest's record of what taught the model (each teacher as the recipe names it, and its sha256)."""
    from edgedigits.training import distill

    tables = {"distilled_from": recipe.train, "prune_distilled_from": recipe.prune if recipe.prune.enabled else None}
    return {key: distill.facts(t.teachers, config.recipe_dir(recipe)) for key, t in tables.items() if t and t.distill}


def _contract(run) -> dict:
    """The contract's metadata for this run's files; a dataset in files also says where it was read (relative to
    the working directory, or the file names alone), so `bench` finds it again."""
    ds = run.ds
    files = None
    if ds.spec:
        from edgedigits.training.stages.report import portable_path

        spec = ds.spec
        files = {"path": portable_path(Path(spec["path"])),
                 "test": portable_path(Path(spec["test"])) if spec["test"] else "",
                 "label": spec["label"], "test_fraction": spec["test_fraction"]}
    return metadata.base_metadata(ds.labels, ds.name, run.recipe.name, ds.input_shape, files)
