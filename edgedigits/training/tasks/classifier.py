"""Task `classifier`: a registry model (training/models.py) that classifies whole images of the recipe's dataset,
scored by top-1 accuracy on the full test set through onnxruntime. Every shipped lenet, gapnet and fashion model is
one. TensorFlow is imported inside the steps that train, so reading a recipe stays light."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edgedigits import runtime
from edgedigits.training import metadata, models, split
from edgedigits.training.tasks import TASKS

log = logging.getLogger(__name__)
CALIBRATION_BATCH = 100  # images per calibration feed


@TASKS.register("classifier")
class Classifier:
    Table = None

    @staticmethod
    def check(recipe) -> None:
        from edgedigits.training import checks

        models.get_spec(recipe.model)
        checks.check_layers(recipe)

    @staticmethod
    def load(recipe, data_dir=None, run_dir=None):
        return split.load(recipe, data_dir)

    @staticmethod
    def parameters(recipe, ds) -> int:
        return models.count_params(recipe.model, ds.num_classes)

    @staticmethod
    def record(run) -> None:
        from edgedigits.training import report

        recipe = run.recipe
        report.write_run_info(run.run_dir, name=recipe.name, model=recipe.model, dataset=run.ds.name,
                              parameters=run.parameters, seed=recipe.seed, pipeline=recipe.manifest_path)

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

        recipe = run.recipe
        return train.train(recipe.model, run.data, recipe.train, recipe.seed, run.run_dir, run.ds.num_classes)

    @staticmethod
    def load_model(model):
        from edgedigits.training import train

        return train.load_model(model) if isinstance(model, (str, Path)) else model

    @staticmethod
    def check_model(model, ds) -> None:
        from edgedigits.training import train

        train.check_model(model, ds.num_classes)

    # --- export --------------------------------------------------------------------------------------------------

    @staticmethod
    def exportable(model):
        return model

    @staticmethod
    def signature(recipe):
        from edgedigits.training.stack import tf

        return (tf.TensorSpec((None, *models.INPUT_SHAPE), tf.float32, name=metadata.INPUT_NAME),)

    @staticmethod
    def parity_inputs(run) -> np.ndarray:
        return runtime.normalize(run.data.x_test[: run.recipe.export.parity_images])

    @staticmethod
    def finalize(proto, run) -> None:
        metadata.rename_output(proto, metadata.OUTPUT_NAME)
        metadata.set_metadata(proto, **metadata.base_metadata(run.ds.labels, run.ds.name, run.recipe.name))

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
        return feeds(split.calibration_images(run.ds, run.recipe))

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
        """Write into a scored file its stage, test accuracy, the CPU features it was measured on, sparsity and MACs
        (metadata_props and doc string)."""
        import onnx

        facts = result.facts
        meta = {**metadata.base_metadata(run.ds.labels, run.ds.name, run.recipe.name), "stage": stage,
                "test_accuracy": round(facts["test_accuracy"], 2), "measured_on": facts["measured_on"],
                "kernel_sparsity": facts["kernel_sparsity"], "macs": facts["macs"]}
        proto = onnx.load(str(result.path))
        metadata.finalize(proto, metadata.describe(meta, models.get_spec(run.recipe.model).source), **meta)
        metadata.save(proto, result.path)

    @staticmethod
    def manifest(run) -> dict:
        return {
            "model": run.recipe.model,
            "labels": list(run.ds.labels),
            "test_images": int(len(run.data.y_test)),
            "input": {"name": metadata.INPUT_NAME, "shape": ["N", *models.INPUT_SHAPE],
                      "normalization": runtime.NORMALIZATION},
            "output": {"name": metadata.OUTPUT_NAME, "shape": ["N", run.ds.num_classes]},
        }


def feeds(images: np.ndarray) -> list[dict]:
    """uint8 images as calibration feeds of the classifier's input, CALIBRATION_BATCH images each."""
    x = runtime.normalize(images)
    return [{metadata.INPUT_NAME: x[i : i + CALIBRATION_BATCH]} for i in range(0, len(x), CALIBRATION_BATCH)]
