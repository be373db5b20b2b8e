"""What several tasks (training/tasks/*) do alike, written once: `Unpruned`, a task without pruning or a run report;
`CTCReader`, a reader of digit sequences with a CTC head (the number reader, the strip reader), parameterized by its
runtime reader class (the ONNX contract), its input rows and how its crops become a batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgedigits.errors import InputError


class Unpruned:
    """No pruning, no run report (figures go into the manifest), the Keras model loaded as saved."""

    MODEL = ""  # the one network the task trains

    @classmethod
    def check(cls, recipe) -> None:
        if recipe.model != cls.MODEL:
            raise InputError(f"task {recipe.task} trains model '{cls.MODEL}', got model {recipe.model!r}")
        if recipe.prune.enabled or recipe.structured.enabled:
            raise InputError(f"task {recipe.task} has no pruning: set prune.enabled = false (structured stays off)")
        if recipe.refit:
            raise InputError(f"task {recipe.task} has no refit: it renders its own validation images (leave refit out)")

    @staticmethod
    def record(run) -> None:
        """Nothing beyond the manifest."""

    @staticmethod
    def record_time(run, **seconds) -> None:
        """Times go into the manifest only."""

    @staticmethod
    def report(run) -> None:
        return None

    @staticmethod
    def load_model(model):
        from edgedigits.training import train

        return train.load_model(model) if isinstance(model, (str, Path)) else model

    @classmethod
    def manifest_entries(cls, run, kind: str, labels: list, history: list, best: dict, training: dict,
                         **notes) -> dict:
        """The manifest entries every such task writes, with its `notes` and `training` settings between."""
        import onnxruntime

        return {"model": cls.MODEL, "kind": kind, "labels": labels, "keras_parameters": run.parameters,
                "best_epoch": best.get("epoch"), **notes, "training": {**training, "history": history},
                "onnxruntime": onnxruntime.__version__}


class CTCReader(Unpruned):
    """A CTC reader: [N, ROWS, W, 1] float input, [N, W/4, 11] strip probabilities out, read by best-path decoding."""

    ROWS = 32  # input rows
    INPUT = "image"
    DESCRIPTION = ""  # the file's description, with {stage}
    reader = None  # the runtime class that opens an ONNX file of this kind (and so checks its contract)

    @staticmethod
    def contract(run) -> dict:
        """The metadata keys of the ONNX contract."""
        raise NotImplementedError

    @staticmethod
    def val(run) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Validation (images, widths, labels)."""
        raise NotImplementedError

    @staticmethod
    def batch(crops: list[np.ndarray]) -> np.ndarray:
        """Raw crops as the model's float input batch."""
        raise NotImplementedError

    @staticmethod
    def stamp_facts(facts: dict) -> dict:
        """The scores the shipped file states in its metadata."""
        raise NotImplementedError

    @classmethod
    def check_model(cls, model, ds) -> None:
        from edgedigits.training import ctc

        shape = model.output_shape
        if not isinstance(shape, tuple) or len(shape) != 3 or shape[-1] != ctc.CLASSES:
            raise InputError(f"model {model.name!r} outputs {shape}, expected [N, W/4, {ctc.CLASSES}]")

    @classmethod
    def check_onnx(cls, path, ds) -> None:
        cls.reader(path)  # this kind's contract, or one InputError

    @staticmethod
    def exportable(model):
        from edgedigits.training import ctc

        return ctc.with_softmax(model)

    @classmethod
    def signature(cls, run):
        from edgedigits.training.stack import tf

        return (tf.TensorSpec((None, cls.ROWS, None, 1), tf.float32, name=cls.INPUT),)

    @classmethod
    def parity_inputs(cls, run) -> np.ndarray:
        images, widths, _ = cls.val(run)
        n = run.recipe.export.parity_images
        return cls.batch([im[:, :w] for im, w in zip(images[:n], widths[:n])])

    @classmethod
    def finalize(cls, proto, run) -> None:
        """Batch N, width W, strips W/4 and the input contract as metadata keys."""
        from edgedigits.training import metadata

        graph = proto.graph
        graph.input[0].type.tensor_type.shape.dim[2].dim_param = "W"
        graph.output[0].type.tensor_type.shape.dim[1].dim_param = "W/4"
        metadata.set_metadata(proto, **cls.contract(run))

    @classmethod
    def calibration_feeds(cls, images, widths, count: int, seed: int, size: int) -> list[dict]:
        """`count` of the training crops picked at random, sorted by width, in batches of `size`."""
        pick = np.random.default_rng(seed).permutation(len(images))[:count]
        pick = pick[np.argsort(widths[pick], kind="stable")]
        return [{cls.INPUT: cls.batch([images[i, :, : widths[i]] for i in pick[k : k + size]])}
                for k in range(0, len(pick), size)]

    @classmethod
    def stamp(cls, run, stage: str, result) -> None:
        from edgedigits.training import metadata

        meta = {**cls.contract(run), "stage": stage, **cls.stamp_facts(result.facts)}
        metadata.stamp(result.path, cls.DESCRIPTION.format(stage=stage), cls.reader, **meta)
