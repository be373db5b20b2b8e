"""INT8 post-training static quantization with onnxruntime.quantization, calibrated on training images only."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from edgedigits import data
from edgedigits.artifacts import atomic_path
from edgedigits.config import Pipeline, Quantize
from edgedigits.runtime import normalize

CALIBRATION = {
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
}


def calibration_images(ds: data.Dataset, recipe: Pipeline) -> np.ndarray:
    """A seeded sample of the training split: never validation images (model selection) nor test images."""
    x_train, y_train, _, _ = data.split_validation(ds.x_train, ds.y_train, recipe.validation, recipe.seed)
    _, _, sample, _ = data.split_validation(x_train, y_train, recipe.quantize.calibration_images, recipe.seed)
    return sample


class _Images(CalibrationDataReader):
    def __init__(self, input_name: str, images: np.ndarray, batch_size: int = 100):
        x = normalize(images)
        self._batches = iter([{input_name: x[i : i + batch_size]} for i in range(0, len(x), batch_size)])

    def get_next(self):
        return next(self._batches, None)


def int8_weight_stats(path: str | Path) -> dict:
    """Count the INT8 weight tensors' elements and zeros in the quantized graph itself.

    Symmetric INT8 weights keep zero at exactly 0, so pruned zeros should survive quantization; this checks it.
    """
    weights = [onnx.numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer
               if t.data_type == onnx.TensorProto.INT8 and len(t.dims) >= 2]
    total = int(sum(w.size for w in weights))
    zeros = int(sum(int(np.sum(w == 0)) for w in weights))
    return {"int8_weights": total, "int8_zeros": zeros, "kernel_sparsity": round(zeros / total, 4) if total else 0.0}


def quantize(fp32_path: str | Path, int8_path: str | Path, calibration_images: np.ndarray, cfg: Quantize) -> dict:
    """Write an INT8 (QDQ, S8 weights, U8 activations) copy of `fp32_path` at `int8_path`; returns the settings."""
    input_name = onnx.load(str(fp32_path)).graph.input[0].name
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        # Fold constants and infer shapes first, as onnxruntime recommends before static quantization.
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=False)
        with atomic_path(int8_path) as out:
            quantize_static(
                str(prepared),
                str(out),
                _Images(input_name, calibration_images),
                quant_format=QuantFormat.QDQ,
                per_channel=cfg.per_channel,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CALIBRATION[cfg.calibration_method],
            )
            proto = onnx.load(str(out))
            # quantize_static drops nothing we rely on, but metadata must survive for apps: copy it over.
            src = onnx.load(str(fp32_path))
            del proto.metadata_props[:]
            proto.metadata_props.extend(src.metadata_props)
            onnx.save(proto, str(out))
    return {
        "format": "QDQ",
        "weights": "int8",
        "activations": "uint8",
        "per_channel": cfg.per_channel,
        "calibration_method": cfg.calibration_method,
        "calibration_images": int(len(calibration_images)),
    }
