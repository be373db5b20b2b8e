"""The same trained network through every engine a user might pick instead of edgedigits' shipped INT8 ONNX model,
each engine called its fastest documented way, and any other shipped ONNX models beside them in the same run.

    python benchmarks/peers.py [PIPELINE] [--also exported/lenet-fast.onnx ...] [--runs-dir runs] [--exported exported]

The Keras network is runs/PIPELINE/pruned.keras when `edgedigits train-prune-export PIPELINE` ran here; otherwise it
is rebuilt from the shipped exported/PIPELINE.onnx (its weights copied layer by layer into the registry model, checked
against onnxruntime to 1e-4), so the comparison needs no retraining. Engines and how each is called:
- Keras: tf_keras `model(x, training=False)` and `model.predict(x, batch_size=len(x))`.
- LiteRT (`ai-edge-litert`, TensorFlow Lite's successor; the .tflite files are converted with TensorFlow's
  TFLiteConverter, fp32 and its own full-integer post-training quantization calibrated on the same training images):
  Interpreter with its default XNNPACK delegate, num_threads as below, one interpreter per batch size, set_tensor,
  invoke, get_tensor.
- onnxruntime: bench's ort-cpu target (IOBinding at batch 1, session.run for batches); the dense fp32 parent too
  when the run directory has it.
- OpenVINO (when installed): bench's openvino-DEVICE target (PERFORMANCE_HINT=LATENCY, static shapes, one reused infer
  request, shared-memory input tensor); onnxruntime with the OpenVINO plugin EP (ort-openvino-DEVICE) where it
  exposes a device.
Inputs are real test images; accuracy is the full test set.

Thread settings must be equal across engines, and TensorFlow fixes its thread pools once per process, so the
script measures in two child processes: batch-1 latency with one thread everywhere, interleaved round-robin across
engines; then throughput at batch 256 with all cores everywhere, also round-robin (median of the rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgedigits.runtime import bench, data, normalize, timing  # noqa: E402
from edgedigits.runtime.artifacts import file_stats, write_bytes_atomic, write_json_atomic  # noqa: E402
from edgedigits.training import config, quantize  # noqa: E402

SHIPPED = "ort int8 (shipped)"
REFERENCE = "litert int8 (own PTQ)"  # the ratios columns compare every row with this one
ROUNDS = 5  # throughput rounds


def keras_model(args):
    """runs/PIPELINE/pruned.keras, else the registry model with the weights of exported/PIPELINE.onnx."""
    from edgedigits.training import models
    from edgedigits.training.stack import keras

    saved = Path(args.runs_dir) / args.pipeline / "pruned.keras"
    if saved.is_file():
        return keras.models.load_model(str(saved)), str(saved)
    import onnx
    from onnx import numpy_helper

    recipe = config.load(args.pipeline)
    path = Path(args.exported) / f"{args.pipeline}.onnx"
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    model = models.create_model(recipe.model)
    for layer in model.layers:  # tf2onnx names each weight after its Keras layer
        prefix = f"{model.name}/{layer.name}"
        if isinstance(layer, keras.layers.Conv2D):
            kernel = weights[f"{prefix}/Conv2D/ReadVariableOp:0"].transpose(2, 3, 1, 0)  # OIHW -> HWIO
            layer.set_weights([kernel, weights[f"{prefix}/BiasAdd/ReadVariableOp:0"]])
        elif isinstance(layer, keras.layers.Dense):
            layer.set_weights([weights[f"{prefix}/MatMul/ReadVariableOp:0"], weights[f"{prefix}/BiasAdd/ReadVariableOp:0"]])
        elif layer.weights:
            sys.exit(f"peers: cannot rebuild layer {layer.name} of {recipe.model} from {path}; run the pipeline first")
    return model, f"rebuilt from {path}"


def _litert_runner(path: Path, threads: int):
    """A LiteRT interpreter per batch size (its tensors have a fixed shape once allocated)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreters = {}

    def run(x):
        slot = interpreters.get(len(x))
        if slot is None:
            it = Interpreter(model_path=str(path), num_threads=threads or os.cpu_count())
            index = it.get_input_details()[0]["index"]
            it.resize_tensor_input(index, x.shape)
            it.allocate_tensors()
            slot = interpreters[len(x)] = (it, index, it.get_output_details()[0]["index"])
        it, index, out = slot
        it.set_tensor(index, x)
        it.invoke()
        return it.get_tensor(out)

    return run


def _tflite(model, int8: bool, args) -> bytes:
    from edgedigits.training.stack import tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8:
        recipe = config.load(args.pipeline)
        calibration = normalize(quantize.calibration_images(data.load(recipe.dataset), recipe))
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([calibration[i : i + 1]] for i in range(len(calibration)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


def engines(args, threads: int) -> dict:
    """name -> (run(x) -> probabilities, file or None, how it is called). Built in the child, after thread pools are set."""
    keras, source = keras_model(args)
    targets = bench.discover_targets()
    out = {
        "keras model(x)": (lambda x: keras(x, training=False).numpy(), None, f"tf_keras model(x), {source}"),
        "keras predict": (lambda x: keras.predict(x, batch_size=len(x), verbose=0), None, "tf_keras model.predict"),
    }
    litert = f"ai-edge-litert {metadata.version('ai-edge-litert')} Interpreter, XNNPACK, num_threads={threads or 'all'}"
    tflite_dir = Path(args.out) / "tflite"
    tflite_dir.mkdir(parents=True, exist_ok=True)
    for name, int8 in (("litert fp32", False), (REFERENCE, True)):
        path = tflite_dir / f"{args.pipeline}{'.int8' if int8 else ''}.tflite"
        if args.phase == "throughput":  # the first child converts; the second measures the same files
            write_bytes_atomic(path, _tflite(keras, int8, args))
        out[name] = (_litert_runner(path, threads), path, litert)
    files = {"ort fp32 (dense)": Path(args.runs_dir) / args.pipeline / "fp32.onnx",
             "ort pruned": Path(args.exported) / f"{args.pipeline}.onnx",
             SHIPPED: Path(args.exported) / f"{args.pipeline}.int8.onnx"}
    for extra in args.also:
        path = Path(extra)
        out_name = f"ort {path.name.removesuffix('.onnx')}"
        files[out_name] = path
    for name, path in files.items():
        if path.is_file():
            out[name] = (targets["ort-cpu"].make(path, threads), path, targets["ort-cpu"].options)
    for target in targets.values():
        if target.name.startswith(("openvino-", "ort-openvino-")):
            for label, path in (("pruned", files["ort pruned"]), ("int8", files[SHIPPED])):
                out[f"{target.name} {label}"] = (target.make(path, threads), path, target.options)
    return out


def child(args) -> None:
    """Measure one phase with every engine at one thread setting; print JSON on stdout."""
    from edgedigits.training.stack import tf

    threads = 1 if args.phase == "latency" else 0
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1 if threads else 0)
    recipe = config.load(args.pipeline)
    ds = data.load(recipe.dataset)
    x, y = normalize(ds.x_test), ds.y_test
    built = engines(args, threads)
    results = {name: {"how": how} for name, (_, _, how) in built.items()}
    if args.phase == "latency":  # round-robin across engines, so all see the same machine (see bench.py)
        samples = timing.interleaved_latency_us({name: (run, x) for name, (run, _, _) in built.items()},
                                                args.warmup, args.runs)
        for name, values in samples.items():
            results[name].update(timing.percentiles(values))
    else:
        rates = {name: [] for name in built}
        for name, (run, path, _) in built.items():
            results[name].update(accuracy=bench.accuracy(run, x, y), **(file_stats(path) if path else {}))
        for _ in range(ROUNDS):
            for name, (run, _, _) in built.items():
                rates[name].append(timing.throughput(run, x, args.batch, args.seconds / ROUNDS))
        for name in built:
            results[name]["throughput_ips"] = float(np.median(rates[name]))
    print(json.dumps(results))


def int8_partner(name: str, merged: dict) -> str | None:
    """The fp32 row an INT8 row is compared with: the same engine's pruned/fp32 file."""
    partners = {REFERENCE: "litert fp32", SHIPPED: "ort pruned"}
    if name in partners:
        return partners[name]
    if name.endswith(".int8"):  # an --also file: ort NAME.int8 against ort NAME
        return name.removesuffix(".int8")
    if name.endswith(" int8"):
        return name.removesuffix(" int8") + " pruned"
    return None


def table(merged: dict) -> tuple[list[str], list[list[str]]]:
    ref = merged[REFERENCE]
    header = ["engine", "acc %", "bytes", "gzip bytes", "p50 us", "p90 us", "p99 us", "images/s (b256)",
              "INT8 / fp32 p50", "INT8 / fp32 images/s", "p50 / LiteRT INT8", "images/s / LiteRT INT8"]
    rows = []
    for name, m in merged.items():
        gz = m.get("gzip_bytes")
        partner = merged.get(int8_partner(name, merged) or "")
        rows.append([
            name, f"{m['accuracy']:.2f}", f"{m['bytes']:,}" if gz else "-", f"{gz:,}" if gz else "-",
            f"{m['p50_us']:.1f}", f"{m['p90_us']:.1f}", f"{m['p99_us']:.1f}", f"{m['throughput_ips']:,.0f}",
            f"{m['p50_us'] / partner['p50_us']:.2f}x" if partner else "-",
            f"{m['throughput_ips'] / partner['throughput_ips']:.2f}x" if partner else "-",
            f"{m['p50_us'] / ref['p50_us']:.2f}x", f"{m['throughput_ips'] / ref['throughput_ips']:.2f}x",
        ])
    return header, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline", nargs="?", default="lenet")
    parser.add_argument("--also", nargs="*", default=[], help="more .onnx files measured through onnxruntime")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--exported", default="exported")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--runs", type=int, default=4000, help="timed batch-1 runs per engine")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=2.0, help="throughput measuring time per engine")
    parser.add_argument("--phase", choices=["latency", "throughput"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        return child(args)
    needed = [Path(args.exported) / f"{args.pipeline}{suffix}" for suffix in (".onnx", ".int8.onnx")]
    missing = [str(p) for p in needed + [Path(p) for p in args.also] if not p.exists()]
    if missing:
        sys.exit(f"peers: missing {', '.join(missing)}; run `edgedigits train-prune-export {args.pipeline}` first")
    t0, load_before = time.time(), os.getloadavg()
    merged: dict = {}
    for phase in ("throughput", "latency"):
        cmd = [sys.executable, __file__, *sys.argv[1:], "--phase", phase]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        for name, values in json.loads(out.strip().splitlines()[-1]).items():
            merged.setdefault(name, {}).update(values)
    load_after = os.getloadavg()
    machine = timing.machine_info()
    settings = (f"batch-1: {args.warmup} warm-up + {args.runs} timed runs, 1 thread in every engine, interleaved "
                f"round-robin; throughput: batch {args.batch}, {args.seconds:g} s per engine in {ROUNDS} round-robin "
                f"rounds (median), all {machine['cores']} cores in every engine; accuracy: full test set")
    load = (f"load average (1, 5, 15 min) {' '.join(f'{v:.2f}' for v in load_before)} at the start, "
            f"{' '.join(f'{v:.2f}' for v in load_after)} at the end, on {machine['cores']} cores")
    header, rows = table(merged)
    hows = dict.fromkeys(m["how"] for m in merged.values())
    lines = [f"> machine: {machine['cpu']}, {machine['cores']} cores, features: {' '.join(machine['features'])}",
             f"> libraries: {', '.join(f'{k} {v}' for k, v in machine['libraries'].items())}, "
             f"tensorflow {metadata.version('tensorflow')}, ai-edge-litert {metadata.version('ai-edge-litert')}",
             f"> {settings}", f"> {load}",
             f"> pipeline: {args.pipeline}; the same trained network in every engine"
             + (f"; also through onnxruntime: {', '.join(args.also)}" if args.also else ""), "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", "How each engine was called:", ""]
    lines += [f"- {', '.join(n for n, m in merged.items() if m['how'] == how)}: {how}" for how in hows]
    out_dir = Path(args.out)
    write_bytes_atomic(out_dir / f"peers-{args.pipeline}.md", ("\n".join(lines) + "\n").encode())
    write_json_atomic(out_dir / f"peers-{args.pipeline}.json", {"machine": machine, "settings": settings,
                                                               "load_average": {"start": load_before, "end": load_after},
                                                               "engines": merged})
    print("\n".join(lines))
    print(f"\nwrote {out_dir / f'peers-{args.pipeline}.md'} and .json in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
