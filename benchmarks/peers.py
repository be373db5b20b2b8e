"""The same trained network through every engine a user might pick instead of edgedigits' shipped INT8 ONNX model.

    python benchmarks/peers.py [PIPELINE] [--runs-dir runs] [--exported exported] [--out benchmarks/results]

Needs the run directory of `edgedigits train-prune-export PIPELINE` (the Keras models and the dense fp32 ONNX).
Engines: Keras `model(x)` and `model.predict`, TFLite/LiteRT fp32 and its own INT8 post-training quantization
(calibrated on the same training images), onnxruntime fp32 (dense), pruned and INT8 (the shipped files), and
OpenVINO on the shipped files when installed. Inputs are real test images; accuracy is the full test set.

Thread settings must be equal across engines, and TensorFlow fixes its thread pools once per process, so the
script measures in two child processes: batch-1 latency with one thread everywhere, then throughput at batch 256
with all cores everywhere. The parent merges them into one table with ratios to the shipped INT8 model.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgedigits.runtime import (  # noqa: E402
    bench,
    data,
    normalize,  # noqa: E402
    timing,
)
from edgedigits.runtime.artifacts import file_stats, write_bytes_atomic, write_json_atomic  # noqa: E402
from edgedigits.training import config, quantize

SHIPPED = "ort-int8 (shipped)"


def engines(args, threads: int) -> dict:
    """name -> (run(x) -> probabilities, file or None). Built in the child, after thread pools are set.

    Keras and TFLite run the pruned network, the one whose ONNX export is shipped; ORT fp32 is its dense parent.
    """
    from edgedigits.training.stack import keras, tf

    run_dir = Path(args.runs_dir) / args.pipeline
    pruned = keras.models.load_model(str(run_dir / "pruned.keras"))
    out = {
        "keras model(x)": (lambda x: pruned(x, training=False).numpy(), None),
        "keras predict": (lambda x: pruned.predict(x, batch_size=len(x), verbose=0), None),
    }
    tflite_dir = Path(args.out) / "tflite"
    tflite_dir.mkdir(parents=True, exist_ok=True)
    for name, model, int8 in (("tflite fp32", pruned, False), ("tflite int8 (own PTQ)", pruned, True)):
        path = tflite_dir / f"{args.pipeline}{'.int8' if int8 else ''}.tflite"
        if not path.exists():
            path.write_bytes(_tflite(tf, model, int8, args))
        out[name] = (_tflite_runner(path, threads), path)
    ort_cpu = bench.discover_targets()["ort-cpu"]
    files = {
        "ort fp32 (dense)": run_dir / "fp32.onnx",
        "ort pruned": Path(args.exported) / f"{args.pipeline}.onnx",
        SHIPPED: Path(args.exported) / f"{args.pipeline}.int8.onnx",
    }
    for name, path in files.items():
        out[name] = (ort_cpu.make(path, threads), path)
    for device in bench.openvino_devices():
        target = bench.discover_targets()[f"openvino-{device}"]
        for label, path in (("pruned", files["ort pruned"]), ("int8", files[SHIPPED])):
            out[f"openvino-{device} {label}"] = (target.make(path, threads), path)
    return out


def _tflite(tf, model, int8: bool, args) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        recipe = config.load(args.pipeline)
        ds = data.load(recipe.dataset)
        calibration = normalize(quantize.calibration_images(ds, recipe))
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([calibration[i : i + 1]] for i in range(len(calibration)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


def _tflite_runner(path: Path, threads: int):
    """A TFLite interpreter per batch size (TFLite tensors have a fixed shape once allocated)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    interpreters = {}

    def run(x):
        it = interpreters.get(len(x))
        if it is None:
            it = Interpreter(model_path=str(path), num_threads=threads or os.cpu_count())
            it.resize_tensor_input(it.get_input_details()[0]["index"], x.shape)
            it.allocate_tensors()
            interpreters[len(x)] = it
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        return it.get_tensor(it.get_output_details()[0]["index"])

    return run


def child(args) -> None:
    """Measure one phase with every engine at one thread setting; print JSON on stdout."""
    from edgedigits.training.stack import tf

    threads = 1 if args.phase == "latency" else 0
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1 if threads else 0)
    recipe = config.load(args.pipeline)
    ds = data.load(recipe.dataset)
    x, y = normalize(ds.x_test), ds.y_test
    results = {}
    built = engines(args, threads)
    if args.phase == "latency":  # round-robin across engines, so all see the same machine (see bench.py)
        samples = timing.interleaved_latency_us({name: (run, x) for name, (run, _) in built.items()}, args.warmup, args.runs)
        results = {name: timing.percentiles(values) for name, values in samples.items()}
    else:
        for name, (run, path) in built.items():
            results[name] = {
                "accuracy": bench.accuracy(run, x, y),
                "throughput_ips": timing.throughput(run, x, args.batch, args.seconds),
                **(file_stats(path) if path else {}),
            }
            print(f"  throughput: {name} done", file=sys.stderr, flush=True)
    print(json.dumps(results))


def table(merged: dict) -> tuple[list[str], list[list[str]]]:
    ref = merged[SHIPPED]
    header = ["engine", "acc %", "bytes", "gzip bytes", "p50 us", "p90 us", "p99 us", "images/s (b256)",
              "p50 / shipped", "images/s / shipped", "gzip / shipped"]
    rows = []
    for name, m in merged.items():
        gz = m.get("gzip_bytes")
        rows.append([
            name, f"{m['accuracy']:.2f}", f"{m['bytes']:,}" if gz else "-", f"{gz:,}" if gz else "-",
            f"{m['p50_us']:.1f}", f"{m['p90_us']:.1f}", f"{m['p99_us']:.1f}", f"{m['throughput_ips']:,.0f}",
            f"{m['p50_us'] / ref['p50_us']:.2f}x", f"{m['throughput_ips'] / ref['throughput_ips']:.2f}x",
            f"{gz / ref['gzip_bytes']:.2f}x" if gz else "-",
        ])
    return header, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline", nargs="?", default="lenet")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--exported", default="exported")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--runs", type=int, default=2000, help="timed batch-1 runs per engine")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=2.0, help="throughput measuring time per engine")
    parser.add_argument("--phase", choices=["latency", "throughput"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        return child(args)
    run_dir = Path(args.runs_dir) / args.pipeline
    needed = [run_dir / "pruned.keras", run_dir / "fp32.onnx",
              Path(args.exported) / f"{args.pipeline}.int8.onnx"]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        sys.exit(f"peers: missing {', '.join(missing)}; run `edgedigits train-prune-export {args.pipeline}` first")
    t0, load_before = time.time(), os.getloadavg()[0]
    merged: dict = {}
    for phase in ("throughput", "latency"):
        cmd = [sys.executable, __file__, *sys.argv[1:], "--phase", phase]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        for name, values in json.loads(out.strip().splitlines()[-1]).items():
            merged.setdefault(name, {}).update(values)
    machine, load_after = timing.machine_info(), os.getloadavg()[0]
    settings = (f"batch-1: {args.warmup} warm-up + {args.runs} timed runs, 1 thread in every engine; throughput: batch "
                f"{args.batch}, {args.seconds:g} s, all {machine['cores']} cores in every engine; accuracy: full test set")
    header, rows = table(merged)
    lines = [f"> machine: {machine['cpu']}, {machine['cores']} cores, features: {' '.join(machine['features'])}",
             f"> libraries: {', '.join(f'{k} {v}' for k, v in machine['libraries'].items())}, "
             f"tensorflow {__import__('importlib.metadata').metadata.version('tensorflow')}",
             f"> {settings}",
             f"> load average (1 min) {load_before:.1f} before, {load_after:.1f} after, on {machine['cores']} cores",
             f"> pipeline: {args.pipeline}; model: the same trained network in every engine", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    out_dir = Path(args.out)
    write_bytes_atomic(out_dir / f"peers-{args.pipeline}.md", ("\n".join(lines) + "\n").encode())
    write_json_atomic(out_dir / f"peers-{args.pipeline}.json", {"machine": machine, "settings": settings,
                                                             "load_average": [round(load_before, 2), round(load_after, 2)],
                                                             "engines": merged})
    print("\n".join(lines))
    print(f"\nwrote {out_dir / f'peers-{args.pipeline}.md'} and .json in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
