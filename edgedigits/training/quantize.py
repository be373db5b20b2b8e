"""INT8 post-training quantization with onnxruntime.quantization, for any model: the accuracy gate is one call,
`quantize_with_accuracy_control(model, calibration, validate, max_drop, cfg)`, shaped like NNCF's: an fp32 ONNX
file, calibration inputs (training data only), a validation function (file -> a score in %, never on the test set)
and the largest drop allowed. Each variant of `variants.VARIANTS` the recipe lists is built, scored by `validate`
and timed on the path an app uses (runtime.runner: IOBinding at batch 1); `select` keeps one by the recipe's rule.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable

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
from edgedigits.runtime.bench import timing
from edgedigits.runtime.model.artifacts import atomic_path, file_stats, private_tempdir
from edgedigits.training.config import Quantize
from edgedigits.training.variants import VARIANTS

log = logging.getLogger(__name__)

CALIBRATION = {
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
}
DENSE_OPS = ["MatMul", "Gemm"]  # quant_pre_process fuses MatMul+Add into Gemm, so both names are needed


class Feeds(CalibrationDataReader):
    """Calibration inputs for onnxruntime: a list of input feeds ({input name: batch}), read once."""

    def __init__(self, feeds: Iterable[dict]):
        self._feeds = iter(list(feeds))

    def get_next(self):
        return next(self._feeds, None)


def quantize_variant(prepared: Path, out: Path, calibration: list[dict], cfg: Quantize, variant: str) -> None:
    """One variant of the pre-processed model, with the source's metadata (apps read their contract from it)."""
    v = VARIANTS[variant]
    source = onnx.load(str(prepared))
    scope = {}
    if v.ops == "dense":
        scope["op_types_to_quantize"] = DENSE_OPS
    elif v.ops == "skip-first-conv":
        scope["nodes_to_exclude"] = [n.name for n in source.graph.node if n.op_type == "Conv"][:1]
    common = dict(per_channel=cfg.per_channel, reduce_range=v.reduce_range, weight_type=QuantType[v.weights], **scope)
    if v.dynamic:
        quantize_dynamic(str(prepared), str(out), **common)
    else:
        quantize_static(str(prepared), str(out), Feeds(calibration), quant_format=QuantFormat.QDQ,
                        calibrate_method=CALIBRATION[cfg.calibration_method],
                        activation_type=QuantType[v.activations], **common)
    proto = onnx.load(str(out))
    del proto.metadata_props[:]
    proto.metadata_props.extend(source.metadata_props)
    onnx.save(proto, str(out))


def measure(paths: dict[str, Path], one: np.ndarray, batch: np.ndarray, runs: int, seconds: float) -> dict[str, dict]:
    """Batch-1 latency (one thread, interleaved across models) on input `one` and throughput (all cores,
    round-robin in five rounds, median) on `batch`, each model run the way an app runs it (runtime.runner).
    Interleaving: a shared machine's speed drifts between runs."""
    single = {name: (runtime.runner(runtime.open_session(path, 1)), one) for name, path in paths.items()}
    every = {name: runtime.runner(runtime.open_session(path, 0)) for name, path in paths.items()}
    latency = timing.interleaved_latency_us(single, min(200, runs), runs)
    throughput = {name: [] for name in paths}
    for _ in range(5):
        for name, run in every.items():
            throughput[name].append(timing.throughput(run, batch, len(batch), seconds / 5))
    out = {}
    for name in paths:
        p50, p90 = np.percentile(latency[name], [50, 90])
        out[name] = {"p50_us": round(float(p50), 1), "p90_us": round(float(p90), 1),
                     "images_per_s": round(float(np.median(throughput[name])))}
    return out


def select(candidates: dict[str, dict], reference: float, cfg: Quantize) -> str:
    """The variant to ship. "fastest": lowest batch-1 p50 among those within max_accuracy_drop of the fp32 model on
    validation, p50s within cfg.tie_band of the best counting as equal (a size-aware tie band: then the smaller gzip
    file, then the faster); when none is within the drop, or with "accurate": the best validation score, ties to
    the faster."""
    accurate = lambda n: (candidates[n]["validation_accuracy"], -candidates[n]["p50_us"])  # noqa: E731
    floor = reference - cfg.max_accuracy_drop
    within = [n for n, c in candidates.items() if c["validation_accuracy"] >= floor]
    if cfg.select == "accurate" or not within:
        return max(candidates, key=accurate)
    best = min(candidates[n]["p50_us"] for n in within)
    tied = [n for n in within if candidates[n]["p50_us"] <= best * (1 + cfg.tie_band)]
    return min(tied, key=lambda n: (candidates[n]["gzip_bytes"], candidates[n]["p50_us"]))


def quantize_with_accuracy_control(model, out, calibration: list[dict], validate: Callable[[Path], float],
                                   max_drop: float | None, cfg: Quantize, timing_inputs: tuple | None = None,
                                   timer: Callable[[dict[str, Path]], dict[str, dict]] | None = None) -> dict:
    """Quantize fp32 ONNX file `model` to INT8 at `out`, for any model: every variant in cfg.variants is built
    (calibrated on `calibration`, a list of input feeds), scored by `validate` (path -> score in %, on validation
    data), timed beside the fp32 file (`timer`, default `measure` on `timing_inputs` = (batch-1 input, batch)), and
    the one `select` keeps is written. When even it lost more than `max_drop` points of `validate` against the fp32
    file, AccuracyGateError and nothing is written (max_drop None measures without refusing).

    Returns the settings, every candidate's figures, the fp32 reference and the machine, for the manifest."""
    if timer is None:
        timer = lambda paths: measure(paths, *timing_inputs, cfg.timing_runs, cfg.throughput_seconds)  # noqa: E731
    with tempfile.TemporaryDirectory(dir=private_tempdir()) as tmp:  # removed by the next run after a hard kill
        prepared = Path(tmp) / "prepared.onnx"
        # Fold constants and infer shapes first, as onnxruntime recommends before static quantization. Symbolic
        # shape inference gives up on graphs whose height and width are both dynamic (the number finder): ONNX's own
        # shape inference then does.
        source, target = str(Path(model).resolve()), str(prepared.resolve())  # before the chdir below
        try:
            with contextlib.chdir(tmp):  # where onnxruntime writes its sym_shape_infer_temp.onnx when it gives up
                quant_pre_process(source, target, skip_symbolic_shape=False)
        except Exception as exc:  # onnxruntime raises a bare Exception("Incomplete symbolic shape inference")
            log.info(f"  symbolic shape inference: {exc}; pre-processing with ONNX shape inference only")
            quant_pre_process(source, target, skip_symbolic_shape=True)
        onnx.save(_with_metadata(prepared, model), str(prepared))
        paths, candidates = {"fp32": Path(model)}, {}
        for variant in cfg.variants:
            paths[variant] = Path(tmp) / f"{variant}.onnx"
            quantize_variant(prepared, paths[variant], calibration, cfg, variant)
            candidates[variant] = {"validation_accuracy": round(validate(paths[variant]), 3),
                                   "gzip_bytes": file_stats(paths[variant])["gzip_bytes"]}
        timings = timer(paths)
        for variant in cfg.variants:
            candidates[variant].update(timings[variant])
        reference = {"model": "fp32 source", "validation_accuracy": round(validate(Path(model)), 3),
                     **timings["fp32"]}
        best = select(candidates, reference["validation_accuracy"], cfg)
        drop = reference["validation_accuracy"] - candidates[best]["validation_accuracy"]
        if max_drop is not None and drop > max_drop:
            raise AccuracyGateError(f"INT8 ({best}) lost {drop:.2f} validation points "
                                    f"({reference['validation_accuracy']:.2f}% -> "
                                    f"{candidates[best]['validation_accuracy']:.2f}%, limit {max_drop}); nothing "
                                    f"written")
        with atomic_path(out) as staged:
            shutil.copyfile(paths[best], staged)
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
        "timing": {"batch1_runs": cfg.timing_runs, "batch1_threads": 1,
                   "throughput_batch": len(timing_inputs[1]) if timing_inputs else None, "throughput_threads": "all",
                   "images": "validation", "path": "runtime.runner (IOBinding at batch 1, as an app runs it)"},
        "per_channel": cfg.per_channel,
        "calibration_method": cfg.calibration_method,
    }


def _with_metadata(path: Path, source) -> onnx.ModelProto:
    proto = onnx.load(str(path))
    if not proto.metadata_props:
        proto.metadata_props.extend(onnx.load(str(source)).metadata_props)
    return proto


def describe(settings: dict) -> str:
    """The choice in a few lines for the log: every candidate's validation score and speed beside fp32's."""
    ref = settings["reference"]
    lines = [f"  variant {settings['variant']} ({settings['format']}, ops: {settings['ops']}) kept by rule "
             f"'{settings['select']}' on {settings['machine']['cpu']} [{' '.join(settings['machine']['features'])}]",
             f"    {'fp32 (reference)':28s} val {ref['validation_accuracy']:6.2f}%  p50 {ref['p50_us']:7.1f} us  "
             f"{ref['images_per_s']:>9,} images/s"]
    for name, c in settings["candidates"].items():
        lines.append(f"    {name:28s} val {c['validation_accuracy']:6.2f}%  p50 {c['p50_us']:7.1f} us  "
                     f"{c['images_per_s']:>9,} images/s  {c['gzip_bytes']:,} B gzip")
    return "\n".join(lines)
