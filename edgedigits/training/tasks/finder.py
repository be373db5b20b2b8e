"""Task `finder`: the number finder, a small fully convolutional network (training/finder.py) that marks, per 4x4 cell
of a grey image, the centre band of every handwritten number and its digit height (runtime/reading/finder.py reads
its maps). Trained on tiles of synthetic pages (training/finderdata.py, from training/pagedata.py's three sources)
and scored by the overlap (intersection over union, %) of the band it marks with the true band: on validation tiles
for choosing epochs and the INT8 variant, on test tiles for the manifest. The stages export, check, quantize and ship
it like any other model; its shipped set's default file is the INT8 one only where that runs faster on the machine
that built it (`manifest`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgedigits.errors import InputError
from edgedigits.runtime import datasets
from edgedigits.runtime.reading import finder as runtime_finder
from edgedigits.training import checks, pagedata
from edgedigits.training.tasks import TASKS

log = logging.getLogger(__name__)
MODEL = "number-finder"
INPUT, OUTPUT = "image", "maps"
FRAME = (544, 704)  # the working image of a 640x480 frame: what the finder is timed on
DESCRIPTION = ("Number finder ({stage}), made by edgedigits: a fully convolutional network that marks handwritten "
               "numbers in a grey image. Input 'image': float32 [N,H,W,1] = grey uint8 / 255, H and W multiples of 32 "
               "(edgedigits.runtime.reading.finder.working_image). Output 'maps': [N,H/4,W/4,2], per 4x4 cell the "
               "probability that it lies on a number's centre band and log(digit height / 16 px); read by "
               "edgedigits.runtime.reading.finder.lines_from_maps.")


@dataclass
class Table:
    """[finder]: how many 256x256 tiles of synthetic pages are rendered, and the network's width."""

    tiles: int = 6000  # training tiles
    val_tiles: int = 500
    test_tiles: int = 500
    calibration_tiles: int = 256  # training tiles the INT8 variants are calibrated on
    width: int = 16  # channels of the network's first stage (x2, x3, x4 deeper)
    workers: int = 0  # processes rendering pages (0 = one per core)
    saved: str = ""  # a trained Keras finder to ship instead of training (from the recipe's folder)


@dataclass
class Tiles:
    """The task's data: tiles and their targets for each split, rendered on first use and cached."""

    recipe: object
    sources: pagedata.Sources
    table: Table
    cache_dir: Path
    history: list = field(default_factory=list)
    _tiles: dict | None = None

    def tiles(self) -> dict:
        if self._tiles is None:
            from edgedigits.training import finderdata

            r, t = self.recipe, self.table

            def render():
                out = {}
                for split, count, seed in (("train", train, r.seed), ("val", t.val_tiles, r.seed + 1),
                                           ("test", t.test_tiles, r.seed + 2)):
                    images, labels, fonts = getattr(self.sources, split)
                    out[f"{split}_x"], out[f"{split}_y"] = finderdata.make(images, labels, fonts, count, seed,
                                                                           t.workers)
                    log.info(f"rendered {count:,} {split} tiles")
                return out

            train = pagedata.training_count(r, "finder", t.tiles, t.calibration_tiles)
            name = pagedata.cache_name("tiles", train, t.val_tiles, t.test_tiles, r.validation, r.seed)
            self._tiles = pagedata.cached(self.cache_dir / name, render)
        return self._tiles

    def describe(self) -> str:
        t = self.table
        if pagedata.saved_path(self.recipe, "finder"):
            return (f"tiles: {t.calibration_tiles:,} training (INT8 calibration of the saved model, trained on "
                    f"{t.tiles:,}), {t.val_tiles:,} validation and {t.test_tiles:,} test tiles of synthetic pages")
        return (f"tiles: {t.tiles:,} training, {t.val_tiles:,} validation and {t.test_tiles:,} test tiles of synthetic "
                f"pages (MNIST training / held-out / test digits, training / validation fonts, pen strokes)")

    def inputs(self, split: str, count: int | None = None) -> np.ndarray:
        x = self.tiles()[f"{split}_x"][:count]
        return x[..., None].astype(np.float32) / np.float32(255.0)


def band_iou(maps_of, x: np.ndarray, y: np.ndarray, batch: int = 32) -> float:
    """Intersection over union (%) of the band the finder marks (probability >= the runtime's threshold) and the
    true band, over the weighted cells of the tiles; `maps_of` maps a float32 [N, H, W, 1] batch to its maps."""
    inter = union = 0.0
    for i in range(0, len(x), batch):
        maps = maps_of(x[i : i + batch, ..., None].astype(np.float32) / np.float32(255.0))
        target = y[i : i + batch].astype(np.float32)
        found, true, weight = maps[..., 0] >= runtime_finder.THRESHOLD, target[..., 0] > 0.5, target[..., 2] > 0
        inter += float((found & true & weight).sum())
        union += float(((found | true) & weight).sum())
    return 100.0 * inter / max(union, 1.0)


def _iou(path: Path, d: dict, split: str) -> float:
    found = runtime_finder.Finder(path)
    return band_iou(found.run, d[f"{split}_x"], d[f"{split}_y"])


@TASKS.register("finder")
class Finder(pagedata.PageTask):
    Table, MODEL, SECTION = Table, MODEL, "finder"

    @staticmethod
    def load(recipe, data_dir=None, run_dir=None):
        ds = datasets.load(recipe.dataset, data_dir)
        checks.check_sizes(recipe, len(ds.x_train), len(ds.x_test))
        table = recipe.tables.get("finder", Table())
        return ds, Tiles(recipe, pagedata.Sources.of(recipe, ds), table, Path(run_dir or "."))

    @staticmethod
    def parameters(recipe, ds) -> int:
        from edgedigits.training import finder

        return int(finder.build(recipe.seed, recipe.tables.get("finder", Table()).width).count_params())

    # --- training ------------------------------------------------------------------------------------------------

    @staticmethod
    def train(run):
        from edgedigits.training import finder

        cfg, d = run.recipe.train, run.data.tiles()
        model, history = finder.train(d["train_x"], d["train_y"], d["val_x"], d["val_y"], cfg.epochs, cfg.batch_size,
                                      cfg.learning_rate, run.recipe.seed, run.data.table.width)
        run.data.history = history
        return model

    @staticmethod
    def check_model(model, ds) -> None:
        shape = model.output_shape
        if not isinstance(shape, tuple) or len(shape) != 4 or shape[-1] != 2:
            raise InputError(f"model {model.name!r} outputs {shape}, expected [N, H/4, W/4, 2] (band, log height)")

    @staticmethod
    def check_onnx(path, ds) -> None:
        runtime_finder.Finder(path)  # a finder's contract, or one InputError

    # --- export --------------------------------------------------------------------------------------------------

    @staticmethod
    def exportable(model):
        return model

    @staticmethod
    def signature(run):
        from edgedigits.training.stack import tf

        return (tf.TensorSpec((None, None, None, 1), tf.float32, name=INPUT),)

    @staticmethod
    def parity_inputs(run) -> np.ndarray:
        return run.data.inputs("val", run.recipe.export.parity_images)

    @staticmethod
    def finalize(proto, run) -> None:
        """2x nearest upsampling said the way opset 13+ says it (the same cells; onnxruntime warns about
        tf_half_pixel_for_nn), the dimensions named, the output named and the contract as metadata keys."""
        from edgedigits.training import metadata

        for node in proto.graph.node:
            if node.op_type == "Resize":
                for attr in node.attribute:
                    if attr.name == "coordinate_transformation_mode" and attr.s == b"tf_half_pixel_for_nn":
                        attr.s = b"asymmetric"
                    if attr.name == "nearest_mode":
                        attr.s = b"floor"
        metadata.rename_output(proto, OUTPUT)
        graph = proto.graph
        for dim, name in zip(graph.input[0].type.tensor_type.shape.dim[1:3], ("H", "W")):
            dim.dim_param = name
        for dim, name in zip(graph.output[0].type.tensor_type.shape.dim[1:3], ("H/4", "W/4")):
            dim.dim_param = name
        metadata.set_metadata(proto, **_contract(run))

    # --- scores --------------------------------------------------------------------------------------------------

    @staticmethod
    def score(run, path: Path) -> dict:
        """Band IoU (%) on the test tiles (as "test_accuracy", which the gates read) and on the validation tiles;
        MACs for a 640x480 frame."""
        from edgedigits.training import graphstats

        d = run.data.tiles()
        test, val = _iou(path, d, "test"), _iou(path, d, "val")
        log.info(f"  {Path(path).name}: band IoU {test:.2f}% on {len(d['test_x']):,} test tiles, {val:.2f}% on "
                 f"validation tiles")
        return {"test_accuracy": round(test, 2), "validation_band_iou": round(val, 3),
                "macs": graphstats.macs_at(path, (1, *FRAME, 1))}

    @staticmethod
    def validate(run):
        return lambda path: _iou(path, run.data.tiles(), "val")

    @staticmethod
    def calibration(run) -> list[dict]:
        count = run.data.table.calibration_tiles
        x = run.data.inputs("train", count)
        return [{INPUT: x[k : k + 8]} for k in range(0, len(x), 8)]

    @staticmethod
    def calibration_facts(run) -> dict:
        return {"calibration_tiles": run.data.table.calibration_tiles}

    @staticmethod
    def timing_inputs(run) -> tuple[np.ndarray, np.ndarray]:
        """A 640x480 frame's working image (a validation tile repeated to fill it) and a batch of 8 tiles."""
        tiles = run.data.inputs("val", 8)
        frame = np.tile(tiles[0], (-(-FRAME[0] // tiles.shape[1]), -(-FRAME[1] // tiles.shape[2]), 1))
        return frame[None, : FRAME[0], : FRAME[1]], tiles

    # --- what the files and the manifest say ------------------------------------------------------------------------

    @staticmethod
    def stamp(run, stage: str, result) -> None:
        from edgedigits.training import metadata

        meta = {**_contract(run), "stage": stage, "test_band_iou": result.facts["test_accuracy"]}
        metadata.stamp(result.path, DESCRIPTION.format(stage=stage), runtime_finder.Finder, **meta)

    @classmethod
    def manifest(cls, run) -> dict:
        t = run.data.table
        return cls.page_manifest(
            run, "number-finder", ["number"], lambda history: min(history, key=lambda h: h["val_band_loss"]),
            {"tiles": t.tiles, "val_tiles": t.val_tiles, "test_tiles": t.test_tiles, "width": t.width},
            test_note="test_accuracy is the intersection over union (%) of the band the finder marks (probability "
                      ">= 0.5) and the true centre bands, on 256x256 tiles of synthetic pages drawn from MNIST test "
                      "digits and the validation fonts",
            default_note="the INT8 file is the default only where it runs faster than fp32 (batch-1 p50 on a "
                         "640x480 frame's working image, on the CPU that built the set)")


def _contract(run) -> dict:
    return {"kind": "number-finder", "dataset": run.ds.name, "pipeline": run.recipe.name, "input_name": INPUT,
            "input_shape": ["N", "H", "W", 1], "input_scale": 1 / 255, "output_name": OUTPUT,
            "cell": runtime_finder.CELL, "multiple": runtime_finder.MULTIPLE,
            "height_unit": runtime_finder.HEIGHT_UNIT, "producer": "edgedigits"}
