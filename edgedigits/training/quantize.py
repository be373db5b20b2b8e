"""INT8 post-training quantization with onnxruntime.quantization, calibrated on training images only.

Several variants are built and, by default, the FASTEST one on the machine that runs the pipeline is shipped among
those whose validation accuracy stays within max_accuracy_drop of the pruned fp32 model (never the test set).
Why a choice at all (docs/quantization.md has the figures, per CPU, in benchmarks/results/int8-variants-*):
- onnxruntime's integer kernels are not faster than its fp32 ones on a network this small, with AVX2 or AVX-512
  VNNI: a first convolution with one input channel is much slower as QLinearConv than as fp32 NCHWc Conv, and every
  Q/DQ node costs time at batch 1. Dynamic dense-only variants are the fastest INT8 on AVX2, but their answers depend
  on the batch, so they are built only on request (config.DEFAULT_QUANT_VARIANTS).
- U8S8 kernels can saturate without VNNI (lenet5's tanh activations lose accuracy with U8S8, not with U8U8).
Which variant wins depends on the CPU, so the choice is re-measured wherever the pipeline runs.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from edgedigits import runtime
from edgedigits.errors import AccuracyGateError
from edgedigits.runtime import datasets
from edgedigits.runtime.bench import timing
from edgedigits.runtime.model.artifacts import atomic_path, file_stats, private_tempdir
from edgedigits.training.config import Pipeline, Quantize

log = logging.getLogger(__name__)

CALIBRATION = {
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
}
DENSE_OPS = ["MatMul", "Gemm"]  # quant_pre_process fuses MatMul+Add into Gemm, so both names are needed


@dataclass(frozen=True)
class Variant:
    """One way to quantize: which ops get integer kernels, in which types, calibrated (static) or at run time."""

    activations: QuantType = QuantType.QUInt8  # static only: dynamic quantizes activations to uint8 per call
    weights: QuantType = QuantType.QInt8
    reduce_range: bool = False  # 7-bit weights: avoids U8S8 saturation on CPUs without VNNI
    ops: str = "all"  # all | dense (MatMul/Gemm only) | skip-first-conv (the first Conv stays fp32)
    dynamic: bool = False  # quantize_dynamic: no calibration, activations quantized at run time

    @property
    def format(self) -> str:
        return "dynamic" if self.dynamic else "QDQ"


# All static variants are QDQ: QOperator files ran the same fused kernels here (same optimized graph, same speed).
VARIANTS = {
    "u8s8": Variant(),
    "u8s8-reduce-range": Variant(reduce_range=True),
    "u8u8": Variant(weights=QuantType.QUInt8),
    "u8s8-skip-first-conv": Variant(ops="skip-first-conv"),
    "u8s8-dense": Variant(ops="dense"),
    "dynamic-dense": Variant(ops="dense", dynamic=True),
    "dynamic-dense-reduce-range": Variant(ops="dense", dynamic=True, reduce_range=True),
}


def calibration_images(ds: datasets.Dataset, recipe: Pipeline) -> np.ndarray:
    """A seeded sample of the training split: never validation images (model selection) nor test images."""
    x_train, y_train, _, _ = datasets.split_validation(ds.x_train, ds.y_train, recipe.validation, recipe.seed)
    _, _, sample, _ = datasets.split_validation(x_train, y_train, recipe.quantize.calibration_images, recipe.seed)
    return sample


class _Images(CalibrationDataReader):
    def __init__(self, input_name: str, images: np.ndarray, batch_size: int = 100):
        x = runtime.normalize(images)
        self._batches = iter([{input_name: x[i : i + batch_size]} for i in range(0, len(x), batch_size)])

    def get_next(self):
        return next(self._batches, None)


def quantize_variant(prepared: Path, out: Path, calibration: np.ndarray, cfg: Quantize, variant: str) -> None:
    """One variant of the pre-processed model, with the source's metadata (apps read their contract from it)."""
    v = VARIANTS[variant]
    source = onnx.load(str(prepared))
    scope = {}
    if v.ops == "dense":
        scope["op_types_to_quantize"] = DENSE_OPS
    elif v.ops == "skip-first-conv":
        scope["nodes_to_exclude"] = [n.name for n in source.graph.node if n.op_type == "Conv"][:1]
    common = dict(per_channel=cfg.per_channel, reduce_range=v.reduce_range, weight_type=v.weights, **scope)
    if v.dynamic:
        quantize_dynamic(str(prepared), str(out), **common)
    else:
        quantize_static(str(prepared), str(out), _Images(source.graph.input[0].name, calibration),
                        quant_format=QuantFormat.QDQ, calibrate_method=CALIBRATION[cfg.calibration_method],
                        activation_type=v.activations, **common)
    proto = onnx.load(str(out))
    del proto.metadata_props[:]
    proto.metadata_props.extend(source.metadata_props)
    onnx.save(proto, str(out))


def measure(paths: dict[str, Path], images: np.ndarray, runs: int, seconds: float) -> dict[str, dict]:
    """Batch-1 latency (one thread, interleaved across models) and batch-256 throughput (all cores, round-robin in
    five rounds, median) of each model on the running CPU. Interleaving: a shared machine's speed drifts between
    runs."""
    one = {name: runtime.runner(runtime.open_session(path, 1)) for name, path in paths.items()}
    every = {name: runtime.runner(runtime.open_session(path, 0)) for name, path in paths.items()}
    latency = timing.interleaved_latency_us({n: (run, images) for n, run in one.items()}, min(200, runs), runs)
    throughput = {name: [] for name in paths}
    for _ in range(5):
        for name, run in every.items():
            throughput[name].append(timing.throughput(run, images, 256, seconds / 5))
    out = {}
    for name in paths:
        p50, p90 = np.percentile(latency[name], [50, 90])
        out[name] = {"p50_us": round(float(p50), 1), "p90_us": round(float(p90), 1),
                     "images_per_s": round(float(np.median(throughput[name])))}
    return out


def select(candidates: dict[str, dict], reference_accuracy: float, cfg: Quantize) -> str:
    """The variant to ship. "fastest": lowest batch-1 p50 among those within max_accuracy_drop of the fp32 model on
    validation, p50s within cfg.tie_band of the best counting as equal (a size-aware tie band: then the smaller gzip
    file, then the faster); when none is within the drop, or with "accurate": the best validation accuracy, ties to
    the faster."""
    accurate = lambda n: (candidates[n]["validation_accuracy"], -candidates[n]["p50_us"])  # noqa: E731
    floor = reference_accuracy - cfg.max_accuracy_drop
    within = [n for n, c in candidates.items() if c["validation_accuracy"] >= floor]
    if cfg.select == "accurate" or not within:
        return max(candidates, key=accurate)
    best = min(candidates[n]["p50_us"] for n in within)
    tied = [n for n in within if candidates[n]["p50_us"] <= best * (1 + cfg.tie_band)]
    return min(tied, key=lambda n: (candidates[n]["gzip_bytes"], candidates[n]["p50_us"]))


def quantize(fp32_path, int8_path, calibration: np.ndarray, validation: tuple[np.ndarray, np.ndarray], cfg: Quantize,
             timer: Callable[[dict[str, Path]], dict[str, dict]] | None = None) -> dict:
    """Build every variant in cfg.variants, score each on validation, time each beside the fp32 model, and write the
    one `select` keeps at `int8_path`. `timer` (paths -> {name: {p50_us, p90_us, images_per_s}}) defaults to
    `measure` on validation images; tests inject a fake one.

    Returns the settings, every candidate's figures, the fp32 reference and the machine, for the manifest.
    """
    x_val, y_val = validation
    if timer is None:
        images = runtime.normalize(x_val[:256])
        timer = lambda paths: measure(paths, images, cfg.timing_runs, cfg.throughput_seconds)  # noqa: E731
    with tempfile.TemporaryDirectory(dir=private_tempdir()) as tmp:  # removed by the next run after a hard kill
        prepared = Path(tmp) / "prepared.onnx"
        # Fold constants and infer shapes first, as onnxruntime recommends before static quantization.
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=False)
        onnx.save(_with_metadata(prepared, fp32_path), str(prepared))
        paths = {"fp32": Path(fp32_path)}
        candidates = {}
        for variant in cfg.variants:
            paths[variant] = Path(tmp) / f"{variant}.onnx"
            quantize_variant(prepared, paths[variant], calibration, cfg, variant)
            candidates[variant] = {"validation_accuracy": round(runtime.accuracy(paths[variant], x_val, y_val), 3),
                                   "gzip_bytes": file_stats(paths[variant])["gzip_bytes"]}
        timings = timer(paths)
        for variant in cfg.variants:
            candidates[variant].update(timings[variant])
        reference = {"model": "pruned fp32", "validation_accuracy": round(runtime.accuracy(fp32_path, x_val, y_val), 3),
                     **timings["fp32"]}
        best = select(candidates, reference["validation_accuracy"], cfg)
        with atomic_path(int8_path) as out:
            shutil.copyfile(paths[best], out)
    v, machine = VARIANTS[best], timing.machine_info()
    return {
        "variant": best,
        "format": v.format,
        "ops": v.ops,
        "select": cfg.select,
        "tie_band": cfg.tie_band,  # p50s within this fraction of the fastest are tied; the smallest file wins
        "validation_accuracy": {n: c["validation_accuracy"] for n, c in candidates.items()},
        "candidates": candidates,
        "reference": reference,
        "machine": {"cpu": machine["cpu"], "cores": machine["cores"], "features": machine["features"]},
        "timing": {"batch1_runs": cfg.timing_runs, "batch1_threads": 1, "throughput_batch": 256,
                   "throughput_threads": "all", "images": "validation"},
        "per_channel": cfg.per_channel,
        "calibration_method": cfg.calibration_method,
        "calibration_images": int(len(calibration)),
    }


def quantize_with_accuracy_control(fp32_path, int8_path, reference_accuracy: float, ds: datasets.Dataset, split,
                                   recipe: Pipeline, max_drop: float | None) -> tuple[dict, float]:
    """The accuracy gate, in one place: quantize (variants chosen on validation images), score the INT8 file on the
    full test set, and refuse it (AccuracyGateError) when it lost more than `max_drop` points against
    `reference_accuracy`, the fp32 file's test accuracy; max_drop None measures the loss without refusing (sweeps).
    Returns the quantization settings and the INT8 test accuracy."""
    settings = quantize(fp32_path, int8_path, calibration_images(ds, recipe), (split.x_val, split.y_val),
                        recipe.quantize)
    log.info(describe(settings))
    accuracy = runtime.accuracy(int8_path, split.x_test, split.y_test)
    drop = reference_accuracy - accuracy
    limit = recipe.quantize.max_accuracy_drop
    log.info(f"  int8 test accuracy {accuracy:.2f}% (drop {drop:+.2f} points, limit {limit})")
    if max_drop is not None and drop > max_drop:
        raise AccuracyGateError(f"INT8 model lost {drop:.2f} accuracy points ({reference_accuracy:.2f}% -> "
                                f"{accuracy:.2f}%, limit {max_drop}); nothing written")
    return settings, accuracy


def _with_metadata(path: Path, source) -> onnx.ModelProto:
    proto = onnx.load(str(path))
    if not proto.metadata_props:
        proto.metadata_props.extend(onnx.load(str(source)).metadata_props)
    return proto


def describe(settings: dict) -> str:
    """The choice in a few lines for the log: every candidate's validation accuracy and speed beside fp32's."""
    ref = settings["reference"]
    lines = [f"  variant {settings['variant']} ({settings['format']}, ops: {settings['ops']}) kept by rule "
             f"'{settings['select']}' on {settings['machine']['cpu']} [{' '.join(settings['machine']['features'])}]",
             f"    {'fp32 (reference)':28s} val {ref['validation_accuracy']:6.2f}%  p50 {ref['p50_us']:7.1f} us  "
             f"{ref['images_per_s']:>9,} images/s"]
    for name, c in settings["candidates"].items():
        lines.append(f"    {name:28s} val {c['validation_accuracy']:6.2f}%  p50 {c['p50_us']:7.1f} us  "
                     f"{c['images_per_s']:>9,} images/s  {c['gzip_bytes']:,} B gzip")
    return "\n".join(lines)
