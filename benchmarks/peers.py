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
script measures in child processes: batch-1 latency with one thread everywhere, all engines in one process,
interleaved round-robin; throughput at batch 256 with all cores everywhere, each engine alone in its own process (idle
thread pools of the others would spin on its cores), round-robin over engines, median of the rounds.
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgedigits.runtime import datasets, normalize
from edgedigits.runtime.bench import measure, targets, timing
from edgedigits.runtime.model.artifacts import file_stats, write_bytes_atomic, write_json_atomic
from edgedigits.training import config, split

# Keras and TFLite are timed at their fastest: TensorFlow's own thread and kernel choices, not the training pins
os.environ.setdefault("EDGEDIGITS_REPRODUCIBLE", "0")

SHIPPED = "ort-int8 (shipped)"
REFERENCE = "litert int8 (own PTQ)"  # the ratios columns compare every row with this one
ROUNDS = 3  # throughput rounds, each engine once per round in its own process


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
        calibration = normalize(split.calibration_images(datasets.load(recipe.dataset), recipe))
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([calibration[i : i + 1]] for i in range(len(calibration)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


def engines(args, threads: int) -> dict:
    """name -> (build() -> run(x) -> probabilities, file or None, how it is called). Nothing is built until asked:
    a child builds only the engines it measures, after its thread pools are set."""
    keras = {}

    def model():  # loaded once per process, on first use
        if not keras:
            keras["model"], keras["source"] = keras_model(args)
        return keras["model"]

    available = targets.discover()
    out = {
        "keras model(x)": (lambda: lambda x: model()(x, training=False).numpy(), None, "tf_keras model(x, training=False)"),
        "keras predict": (lambda: lambda x: model().predict(x, batch_size=len(x), verbose=0), None,
                          "tf_keras model.predict(x, batch_size=len(x))"),
    }
    litert = (f"ai-edge-litert {metadata.version('ai-edge-litert')} Interpreter, XNNPACK (its default delegate), "
              "num_threads=1 at batch 1 and all cores at batch 256, set_tensor/invoke/get_tensor")
    for name, path in tflite_files(args).items():
        out[name] = (lambda path=path: _litert_runner(path, threads), path, litert)
    files = {"ort fp32 (dense)": Path(args.runs_dir) / args.pipeline / "fp32.onnx",
             "ort pruned": Path(args.exported) / f"{args.pipeline}.onnx",
             SHIPPED: Path(args.exported) / f"{args.pipeline}.int8.onnx"}
    files.update({f"ort {Path(extra).name.removesuffix('.onnx')}": Path(extra) for extra in args.also})
    cpu = available["ort-cpu"]
    for name, path in files.items():
        if path.is_file():
            out[name] = (lambda path=path: cpu.make(path, threads), path, cpu.options)
    for target in available.values():
        if target.name.startswith(("openvino-", "ort-openvino-")):
            for label, path in (("pruned", files["ort pruned"]), ("int8", files[SHIPPED])):
                out[f"{target.name} {label}"] = (lambda t=target, path=path: t.make(path, threads), path, target.options)
    return out


def tflite_files(args) -> dict[str, Path]:
    tflite_dir = Path(args.out) / "tflite"
    return {name: tflite_dir / f"{args.pipeline}{suffix}.tflite" for name, suffix in (("litert fp32", ""), (REFERENCE, ".int8"))}


def convert(args) -> None:
    """The .tflite files, converted with TensorFlow from the Keras network (the LiteRT rows measure these)."""
    model, source = keras_model(args)
    for name, path in tflite_files(args).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, _tflite(model, name == REFERENCE, args))
    print(json.dumps({"keras": source}))


def child(args) -> None:
    """Measure one phase at one thread setting; print JSON on stdout. Latency: every engine in this process,
    interleaved (one thread each: no engine has idle worker threads). Throughput: only --engine, because idle
    thread pools of other engines in the same process (OpenVINO's, TensorFlow's, XNNPACK's) keep spinning on the
    cores the measured engine needs: onnxruntime at batch 256 ran 3-5x slower beside them here."""
    if args.phase == "convert":
        return convert(args)
    threads = 1 if args.phase == "latency" else 0
    if args.phase == "latency" or args.engine.startswith("keras"):
        from edgedigits.training.stack import tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1 if threads else 0)
    recipe = config.load(args.pipeline)
    ds = datasets.load(recipe.dataset)
    x, y = normalize(ds.x_test), ds.y_test
    chosen = {n: e for n, e in engines(args, threads).items() if args.phase == "latency" or n == args.engine}
    if args.phase == "throughput" and args.round == 0 and chosen[args.engine][1]:
        own = dataset_of(chosen[args.engine][1])  # an --also file of another dataset is scored on its own test set
        if own and own != ds.name:
            ds = datasets.load(own)
            x, y = normalize(ds.x_test), ds.y_test
    results = {name: {"how": how} for name, (_, _, how) in chosen.items()}
    built = {name: build() for name, (build, _, _) in chosen.items()}
    if args.phase == "latency":  # round-robin across engines, so all see the same machine (see bench.py)
        samples = timing.interleaved_latency_us({name: (run, x) for name, run in built.items()}, args.warmup, args.runs)
        for name, values in samples.items():
            results[name].update(timing.percentiles(values))
    else:
        (name, run), = built.items()
        path = chosen[name][1]
        if args.round == 0:
            results[name].update(accuracy=measure.accuracy(run, x, y), **(file_stats(path) if path else {}))
        results[name]["throughput_ips"] = timing.throughput(run, x, args.batch, args.seconds / ROUNDS)
    print(json.dumps(results))


def dataset_of(path: Path) -> str | None:
    """The dataset an .onnx file was trained on, from its metadata (None for other files)."""
    if Path(path).suffix != ".onnx":
        return None
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return meta.get("dataset")


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
    parser.add_argument("--runs", type=int, default=2000, help="timed batch-1 runs per engine")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=2.0, help="throughput measuring time per engine")
    parser.add_argument("--phase", choices=["convert", "latency", "throughput"], help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--round", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        return child(args)
    needed = [Path(args.exported) / f"{args.pipeline}{suffix}" for suffix in (".onnx", ".int8.onnx")]
    missing = [str(p) for p in needed + [Path(p) for p in args.also] if not p.exists()]
    if missing:
        sys.exit(f"peers: missing {', '.join(missing)}; run `edgedigits train-prune-export {args.pipeline}` first")
    t0, load_before = time.time(), os.getloadavg()

    def measure(*extra) -> dict:
        cmd = [sys.executable, __file__, *sys.argv[1:], *extra]
        return json.loads(subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1])

    source = measure("--phase", "convert")["keras"]
    merged: dict = {}
    rates: dict = {}
    names = list(engines(args, 0))
    for round_ in range(ROUNDS):  # round-robin over engines, one process each
        for name in names:
            for key, values in measure("--phase", "throughput", "--engine", name, "--round", str(round_)).items():
                rates.setdefault(key, []).append(values.pop("throughput_ips"))
                merged.setdefault(key, {}).update(values)
        print(f"  throughput round {round_ + 1}/{ROUNDS} done", file=sys.stderr, flush=True)
    for name, values in measure("--phase", "latency").items():
        merged[name].update(values, throughput_ips=float(np.median(rates[name])))
    load_after = os.getloadavg()
    machine = timing.machine_info()
    settings = (f"batch-1: {args.warmup} warm-up + {args.runs} timed runs, 1 thread in every engine, interleaved "
                f"round-robin in one process; throughput: batch {args.batch}, {args.seconds:g} s per engine in "
                f"{ROUNDS} round-robin rounds (median), each engine alone in its own process, all {machine['cores']} "
                f"cores in every engine; accuracy: full test set; Keras network: {source}")
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
    write_json_atomic(out_dir / f"peers-{args.pipeline}.json", {"machine": machine, "pipeline": args.pipeline,
                                                               "settings": settings,
                                                               "load_average": {"start": load_before, "end": load_after},
                                                               "engines": merged})
    print("\n".join(lines))
    print(f"\nwrote {out_dir / f'peers-{args.pipeline}.md'} and .json in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
