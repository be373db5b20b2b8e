"""Which INT8 flavour of a pruned model is accurate and fast on the CPU that runs this script?

    python benchmarks/int8_variants.py [PIPELINE] [--runs-dir runs] [--out benchmarks/results]

Quantizes runs/PIPELINE/pruned.onnx (from `edgedigits train-prune-export PIPELINE`) in every variant the pipeline
can choose from, plus reference flavours it does not build (QOperator, S8S8, per-tensor weights, dynamic convs, a
lower graph optimization level), and measures in one run: validation and test accuracy, batch-1 latency with one
thread (interleaved across all models), throughput at batch 256 with all cores (wall clock) and with
one thread per CPU-second (round-robin, median of 10 rounds), gzip
size, and the op types onnxruntime runs after its graph optimizations (optimized_model_filepath). Marks the variant
the pipeline's rule would pick from these figures. Writes int8-variants-PIPELINE.md and .json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from edgedigits import runtime
from edgedigits.runtime import datasets
from edgedigits.runtime.bench import measure, timing
from edgedigits.runtime.model.artifacts import file_stats, write_bytes_atomic, write_json_atomic
from edgedigits.training import config, quantize, split
from edgedigits.training.tasks import classifier

U8, S8 = QuantType.QUInt8, QuantType.QInt8
ROUNDS = 10


def session(path: Path, threads: int, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL, save: Path | None = None):
    options = runtime.session_options(threads)
    options.graph_optimization_level = level
    if save:
        options.optimized_model_filepath = str(save)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def runner(sess):
    name = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {name: x})[0]


def references(prepared: Path, tmp: Path, calibration: np.ndarray, cfg) -> dict[str, Path]:
    """Flavours the pipeline does not build, kept here so the table shows why."""
    reader = lambda: quantize.Feeds(classifier.feeds(calibration))  # noqa: E731
    out = {}
    for name, kwargs in {
        "ref: QOperator u8s8": dict(quant_format=QuantFormat.QOperator, per_channel=cfg.per_channel),
        "ref: QOperator u8s8 per-tensor": dict(quant_format=QuantFormat.QOperator, per_channel=False),
        "ref: QDQ u8s8 per-tensor": dict(per_channel=False),
        "ref: QDQ s8s8": dict(activation_type=S8, per_channel=cfg.per_channel),
        "ref: QDQ u8s8 all but Softmax": dict(per_channel=cfg.per_channel, nodes_to_exclude=[
            n.name for n in onnx.load(str(prepared)).graph.node if n.op_type == "Softmax"]),
    }.items():
        path = out[name] = tmp / f"{len(out)}.onnx"
        kwargs = {"activation_type": U8, "weight_type": S8, **kwargs}
        quantize_static(str(prepared), str(path), reader(), **kwargs)
    out["ref: dynamic all ops (ConvInteger) u8u8"] = tmp / "dyn-all.onnx"
    quantize_dynamic(str(prepared), str(out["ref: dynamic all ops (ConvInteger) u8u8"]), weight_type=U8)
    return out


def cpu_throughput(run, batch: np.ndarray, seconds: float) -> float:
    """Images per CPU-second of this thread (a one-thread session runs on the caller's thread): unlike wall-clock
    throughput, not inflated when another process takes the core, as one did while these were measured."""
    run(batch)
    done, t0, c0 = 0, time.perf_counter(), time.thread_time()
    while done < 3 * len(batch) or time.perf_counter() - t0 < seconds:
        run(batch)
        done += len(batch)
    return done / (time.thread_time() - c0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline", nargs="?", default="lenet")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--seconds", type=float, default=2.0, help="throughput time per model and thread setting")
    args = parser.parse_args()
    recipe = config.load(args.pipeline)
    source = Path(args.runs_dir) / args.pipeline / "pruned.onnx"
    if not source.is_file():
        sys.exit(f"int8_variants: {source} missing; run `edgedigits train-prune-export {args.pipeline}` first")
    ds = datasets.load(recipe.dataset)
    calibration = split.calibration_images(ds, recipe)
    _, _, x_val, y_val = datasets.split_validation(ds.x_train, ds.y_train, recipe.validation, recipe.seed)
    x_test, x_val = runtime.normalize(ds.x_test), runtime.normalize(x_val)
    machine = timing.machine_info()
    load_before = os.getloadavg()[0]
    extended = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        prepared = tmp / "prepared.onnx"
        quant_pre_process(str(source), str(prepared))
        models = {"fp32 (pruned)": source}
        for variant in quantize.VARIANTS:
            models[variant] = tmp / f"{variant}.onnx"
            quantize.quantize_variant(prepared, models[variant], classifier.feeds(calibration), recipe.quantize, variant)
        models.update(references(prepared, tmp, calibration, recipe.quantize))
        # (name, path, level): every model at ORT_ENABLE_ALL, two of them also at EXTENDED (no NCHWc/NHWC layouts)
        entries = [(name, path, ort.GraphOptimizationLevel.ORT_ENABLE_ALL) for name, path in models.items()]
        entries += [(f"ref: {name} at ORT_ENABLE_EXTENDED", models[name], extended) for name in ("fp32 (pruned)", "u8s8")]
        ops, one, every = {}, {}, {}
        for i, (name, path, level) in enumerate(entries):
            saved = tmp / f"optimized-{i}.onnx"
            one[name] = (runner(session(path, 1, level, saved)), x_test)
            every[name] = runner(session(path, 0, level))
            ops[name] = Counter(n.op_type for n in onnx.load(str(saved)).graph.node)
        latency = timing.interleaved_latency_us(one, 200, args.runs)
        # throughput with all cores (the measure, wall clock) and with one thread per CPU-second (this
        # thread's CPU time: what the model costs, whatever else runs on the machine), round-robin, median
        throughput = {name: [] for name in every}
        single = {name: [] for name in every}
        for _ in range(ROUNDS):
            for name, run in every.items():
                throughput[name].append(timing.throughput(run, x_test, 256, args.seconds / ROUNDS))
                single[name].append(cpu_throughput(one[name][0], x_test[:256], args.seconds / ROUNDS))
        results = {}
        for name, path, _ in entries:
            lat = timing.percentiles(latency[name])
            results[name] = {
                "validation_accuracy": round(measure.accuracy(every[name], x_val, y_val), 2),
                "test_accuracy": round(measure.accuracy(every[name], x_test, ds.y_test), 2),
                "p50_us": round(lat["p50_us"], 1), "p90_us": round(lat["p90_us"], 1),
                "images_per_s": round(float(np.median(throughput[name]))),
                "images_per_cpu_s_1_thread": round(float(np.median(single[name]))),
                "gzip_bytes": file_stats(path)["gzip_bytes"],
                "optimized_ops": dict(ops[name]),
            }
    load_after = os.getloadavg()[0]
    fp32 = results["fp32 (pruned)"]
    pick = quantize.select({v: results[v] for v in quantize.VARIANTS}, fp32["validation_accuracy"], recipe.quantize)
    header = ["model", "val acc %", "test acc %", "p50 us (1 thread)", "p90 us", "images/s (b256, all cores)",
              "images/CPU-s (b256, 1 thread)", "p50 / fp32", "images/s / fp32 (all cores, per CPU-s)", "gzip bytes", "ops after ORT optimization"]
    rows = []
    for name, r in results.items():
        label = f"**{name}** (pipeline pick)" if name == pick else name
        fused = ", ".join(f"{op}" + (f" x{n}" if n > 1 else "") for op, n in r["optimized_ops"].items())
        rows.append([label, f"{r['validation_accuracy']:.2f}", f"{r['test_accuracy']:.2f}", f"{r['p50_us']:.1f}",
                     f"{r['p90_us']:.1f}", f"{r['images_per_s']:,}", f"{r['images_per_cpu_s_1_thread']:,}",
                     f"{r['p50_us'] / fp32['p50_us']:.2f}x", f"{r['images_per_s'] / fp32['images_per_s']:.2f}x, "
                     f"{r['images_per_cpu_s_1_thread'] / fp32['images_per_cpu_s_1_thread']:.2f}x", f"{r['gzip_bytes']:,}", fused])
        print(" | ".join(rows[-1]), flush=True)
    text = [f"> machine: {machine['cpu']}, {machine['cores']} cores, features: {' '.join(machine['features'])}; "
            f"onnxruntime {machine['libraries']['onnxruntime']}",
            f"> load average (1 min) {load_before:.1f} before, {load_after:.1f} after, on {machine['cores']} cores",
            f"> pipeline {args.pipeline}: {args.runs} batch-1 runs per model interleaved across all rows; throughput "
            f"batch 256, {args.seconds:g} s per model and thread setting in {ROUNDS} round-robin rounds (median); graph optimization "
            "ORT_ENABLE_ALL unless named; per-channel weights unless named",
            f"> pipeline rule '{recipe.quantize.select}' (max_accuracy_drop {recipe.quantize.max_accuracy_drop} on "
            f"validation) on these figures picks: {pick}",
            "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]
    out = Path(args.out)
    write_bytes_atomic(out / f"int8-variants-{args.pipeline}.md", ("\n".join(text) + "\n").encode())
    write_json_atomic(out / f"int8-variants-{args.pipeline}.json",
                      {"machine": machine, "load_average": [round(load_before, 2), round(load_after, 2)],
                       "pipeline": args.pipeline, "runs": args.runs, "pick": pick, "models": results})
    print(f"wrote {out / f'int8-variants-{args.pipeline}.md'} and .json")


if __name__ == "__main__":
    main()
