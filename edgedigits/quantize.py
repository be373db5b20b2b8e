"""INT8 post-training static quantization with onnxruntime.quantization, calibrated on training images only.

Several QDQ variants are tried and the one with the best accuracy on the validation split is kept (never the test
set). Why more than ORT's default U8S8: on CPUs with AVX2 or AVX-512 but no VNNI (this machine: AMD EPYC, AVX2),
onnxruntime's U8S8 integer kernels can saturate; measured here, lenet5 (tanh) lost 0.91 points with U8S8 and
0.05 with U8U8, lenet 0.14 and 0.03 (full test set, onnxruntime 1.32).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from edgedigits import data, runtime
from edgedigits.artifacts import atomic_path
from edgedigits.config import Pipeline, Quantize

CALIBRATION = {
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
}
# name -> quantize_static arguments. All QDQ (onnxruntime's recommended format), weights per-channel when configured.
VARIANTS = {
    "u8s8": {"activation_type": QuantType.QUInt8, "weight_type": QuantType.QInt8},
    "u8s8-reduce-range": {"activation_type": QuantType.QUInt8, "weight_type": QuantType.QInt8, "reduce_range": True},
    "u8u8": {"activation_type": QuantType.QUInt8, "weight_type": QuantType.QUInt8},
}


def calibration_images(ds: data.Dataset, recipe: Pipeline) -> np.ndarray:
    """A seeded sample of the training split: never validation images (model selection) nor test images."""
    x_train, y_train, _, _ = data.split_validation(ds.x_train, ds.y_train, recipe.validation, recipe.seed)
    _, _, sample, _ = data.split_validation(x_train, y_train, recipe.quantize.calibration_images, recipe.seed)
    return sample


class _Images(CalibrationDataReader):
    def __init__(self, input_name: str, images: np.ndarray, batch_size: int = 100):
        x = runtime.normalize(images)
        self._batches = iter([{input_name: x[i : i + batch_size]} for i in range(0, len(x), batch_size)])

    def get_next(self):
        return next(self._batches, None)


def quantize_variant(prepared: Path, out: Path, calibration: np.ndarray, cfg: Quantize, variant: str) -> None:
    """One QDQ variant of the pre-processed model, with the source's metadata (apps read their contract from it)."""
    quantize_static(
        str(prepared),
        str(out),
        _Images(onnx.load(str(prepared)).graph.input[0].name, calibration),
        quant_format=QuantFormat.QDQ,
        per_channel=cfg.per_channel,
        calibrate_method=CALIBRATION[cfg.calibration_method],
        **VARIANTS[variant],
    )
    proto, source = onnx.load(str(out)), onnx.load(str(prepared))
    del proto.metadata_props[:]
    proto.metadata_props.extend(source.metadata_props)
    onnx.save(proto, str(out))


def quantize(fp32_path, int8_path, calibration: np.ndarray, validation: tuple[np.ndarray, np.ndarray], cfg: Quantize) -> dict:
    """Write the best of cfg.variants (by validation accuracy, ties to the earlier one) at `int8_path`.

    Returns the settings and every candidate's validation accuracy, for the manifest.
    """
    x_val, y_val = validation
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        # Fold constants and infer shapes first, as onnxruntime recommends before static quantization.
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=False)
        onnx.save(_with_metadata(prepared, fp32_path), str(prepared))
        scores = {}
        for variant in cfg.variants:
            quantize_variant(prepared, Path(tmp) / f"{variant}.onnx", calibration, cfg, variant)
            scores[variant] = round(runtime.accuracy(Path(tmp) / f"{variant}.onnx", x_val, y_val), 3)
        best = max(cfg.variants, key=lambda v: (scores[v], -cfg.variants.index(v)))
        with atomic_path(int8_path) as out:
            shutil.copyfile(Path(tmp) / f"{best}.onnx", out)
    return {
        "variant": best,
        "format": "QDQ",
        "validation_accuracy": scores,
        "per_channel": cfg.per_channel,
        "calibration_method": cfg.calibration_method,
        "calibration_images": int(len(calibration)),
    }


def _with_metadata(path: Path, source) -> onnx.ModelProto:
    proto = onnx.load(str(path))
    if not proto.metadata_props:
        proto.metadata_props.extend(onnx.load(str(source)).metadata_props)
    return proto


def int8_weight_stats(path: str | Path) -> dict:
    """Count the quantized conv/dense kernels' elements and exact zeros after dequantization, in the graph itself.

    A weight is zero when (q - zero_point) == 0 for its channel; comparing q with 0 would be wrong for uint8 weights
    and for channels that pruning emptied entirely (onnxruntime gives those their own zero point).
    """
    graph = onnx.load(str(path)).graph
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    total = zeros = 0
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits or inits[node.input[0]].ndim < 2:
            continue
        q = inits[node.input[0]].astype(np.int32)
        zp = inits[node.input[2]].astype(np.int32) if len(node.input) > 2 and node.input[2] else np.zeros(1, np.int32)
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        if zp.size > 1:  # per-channel: align the zero points with their axis
            shape = [1] * q.ndim
            shape[axis] = zp.size
            zp = zp.reshape(shape)
        total += q.size
        zeros += int(np.sum(q == zp))
    return {"int8_weights": total, "int8_zeros": zeros, "kernel_sparsity": round(zeros / total, 4) if total else 0.0}
