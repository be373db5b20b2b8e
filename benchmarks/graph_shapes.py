"""What makes a LeNet-class graph fast in onnxruntime at batch 1? Random-weight graphs of candidate shapes, timed.

    python benchmarks/graph_shapes.py [--runs 4000] [--out benchmarks/results] [--litert FILE.tflite]

Builds each candidate directly as ONNX (random weights: time does not depend on them), with the layout tf2onnx gives
a Keras model (NHWC input reshaped to NCHW, convolutions with ReLU, flatten, Gemm, Softmax), and times it through
bench's ort-cpu target (IOBinding at batch 1, one thread), interleaved round-robin with an identity graph (the call
floor) and, when benchmarks/peers.py has written it, LiteRT's INT8 lenet (XNNPACK, one thread) beside LiteRT's
own call floor (a Flatten model, converted with TensorFlow). Records the op types
onnxruntime runs after its optimizations and the multiply-adds. Writes graph-shapes.md and .json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from edgedigits import runtime
from edgedigits.runtime.bench import targets, timing
from edgedigits.runtime.model.artifacts import write_bytes_atomic, write_json_atomic

# name -> convolutions (out channels, kernel, stride, padding) then (pool after each conv?, hidden dense units
# [, transpose to NHWC before the flatten?])
SHAPES = {
    "lenet (conv6 5x5, pool, conv16 5x5, pool, dense 120-84)": ([(6, 5, 1, "valid"), (16, 5, 1, "valid")], True, [120, 84]),
    "stride-2 8-16 5x5": ([(8, 5, 2, "valid"), (16, 5, 2, "valid")], False, []),
    "stride-2 16-16 3x3": ([(16, 3, 2, "valid"), (16, 3, 2, "valid")], False, []),
    "stride-2 16 5x5, 16 3x3": ([(16, 5, 2, "valid"), (16, 3, 2, "valid")], False, []),
    "stride-2 16 5x5, 32 3x3 (lenet-fast)": ([(16, 5, 2, "valid"), (32, 3, 2, "valid")], False, []),
    "stride-2 16-32 3x3": ([(16, 3, 2, "valid"), (32, 3, 2, "valid")], False, []),
    "stride-2 16-16 3x3 same": ([(16, 3, 2, "same"), (16, 3, 2, "same")], False, []),
    "stride-2 16-16 5x5": ([(16, 5, 2, "valid"), (16, 5, 2, "valid")], False, []),
    "stride-2 32-32 3x3": ([(32, 3, 2, "valid"), (32, 3, 2, "valid")], False, []),
    "stride-2 16 5x5, 32 3x3, channels-last flatten (lenet-fast as exported)":
        ([(16, 5, 2, "valid"), (32, 3, 2, "valid")], False, [], True),
    "stride-2 16 5x5, stride-4 32 4x4 (lenet-fast-slim)": ([(16, 5, 2, "valid"), (32, 4, 4, "valid")], False, []),
    "stride-2 16 5x5, stride-4 64 4x4 (lenet-fast-wide)": ([(16, 5, 2, "valid"), (64, 4, 4, "valid")], False, []),
    "stride-2 16 5x5, stride-4 16 4x4": ([(16, 5, 2, "valid"), (16, 4, 4, "valid")], False, []),
    "stride-3 16 5x5, stride-2 32 3x3": ([(16, 5, 3, "valid"), (32, 3, 2, "valid")], False, []),
    "stride-4 32 4x4 (patches), stride-2 32 3x3": ([(32, 4, 4, "valid"), (32, 3, 2, "valid")], False, []),
}


def graph(convs, pool: bool, hidden: list[int], rng, channels_last_flatten: bool = False) -> tuple[onnx.ModelProto, int]:
    """channels_last_flatten: transpose to NHWC before the flatten, as tf2onnx exports a Keras Flatten after a
    convolution (without a Permute to channels first)."""
    nodes, weights, macs = [], [], 0

    def const(name, array):
        weights.append(numpy_helper.from_array(array, name))
        return name

    nodes.append(helper.make_node("Reshape", ["input", const("nchw", np.array([-1, 1, 28, 28], np.int64))], ["x0"]))
    x, channels, side = "x0", 1, 28
    for i, (out, k, stride, padding) in enumerate(convs):
        kernel = rng.normal(0, 0.1, (out, channels, k, k)).astype(np.float32)
        extra = {"auto_pad": "SAME_UPPER"} if padding == "same" else {}
        nodes.append(helper.make_node("Conv", [x, const(f"w{i}", kernel), const(f"b{i}", np.zeros(out, np.float32))],
                                      [f"c{i}"], strides=[stride, stride], **extra))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        side = -(-side // stride) if padding == "same" else (side - k) // stride + 1
        macs += side * side * out * k * k * channels
        x, channels = f"r{i}", out
        if pool:
            nodes.append(helper.make_node("MaxPool", [x], [f"p{i}"], kernel_shape=[2, 2], strides=[2, 2]))
            x, side = f"p{i}", side // 2
    width = channels * side * side
    if channels_last_flatten:
        nodes.append(helper.make_node("Transpose", [x], ["nhwc"], perm=[0, 2, 3, 1]))
        x = "nhwc"
    nodes.append(helper.make_node("Reshape", [x, const("flat", np.array([-1, width], np.int64))], ["f"]))
    x = "f"
    for j, units in enumerate([*hidden, 10]):
        w = rng.normal(0, 0.1, (width, units)).astype(np.float32)
        nodes.append(helper.make_node("Gemm", [x, const(f"d{j}", w), const(f"db{j}", np.zeros(units, np.float32))], [f"g{j}"]))
        macs += width * units
        x, width = f"g{j}", units
        if j < len(hidden):
            nodes.append(helper.make_node("Relu", [x], [f"gr{j}"]))
            x = f"gr{j}"
    nodes.append(helper.make_node("Softmax", [x], ["probabilities"], axis=-1))
    g = helper.make_graph(nodes, "shape", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 28, 28, 1])],
                          [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])], weights)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), macs


def identity() -> onnx.ModelProto:
    g = helper.make_graph([helper.make_node("Flatten", ["input"], ["probabilities"])], "identity",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 28, 28, 1])],
                          [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 784])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def litert_flatten(tmp: Path) -> Path:
    """A .tflite of a Keras Flatten model (TensorFlow's converter): LiteRT's call floor."""
    from edgedigits.training.stack import keras, tf

    model = keras.Sequential([keras.layers.InputLayer(input_shape=(28, 28, 1)), keras.layers.Flatten()])
    path = tmp / "flatten.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    return path


def optimized_ops(path: Path, tmp: Path) -> list[str]:
    options = runtime.session_options(1)
    options.optimized_model_filepath = str(tmp / "optimized.onnx")
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return [n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--litert", default=str(ROOT / "benchmarks" / "results" / "tflite" / "lenet.int8.tflite"),
                        help="LiteRT INT8 lenet to compare with (benchmarks/peers.py writes it)")
    args = parser.parse_args()
    rng, load_before = np.random.default_rng(0), os.getloadavg()
    images = rng.random((256, 28, 28, 1)).astype(np.float32)
    cpu = targets.discover()["ort-cpu"]
    runs, facts = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i, (name, shape) in enumerate({"identity (Flatten, the call floor)": None, **SHAPES}.items()):
            path = tmp / f"{i}.onnx"
            model, macs = graph(*shape[:3], rng, *shape[3:]) if shape else (identity(), 0)
            onnx.save(model, str(path))
            runs[name] = (cpu.make(path, 1), images)
            ops = optimized_ops(path, tmp)
            facts[name] = {"macs": macs, "nodes": len(ops), "ops": ops}
        litert = Path(args.litert)
        if litert.is_file():
            sys.path.insert(0, str(ROOT / "benchmarks"))
            from peers import _litert_runner

            runs["LiteRT INT8 lenet (XNNPACK, 1 thread)"] = (_litert_runner(litert, 1), images)
            facts["LiteRT INT8 lenet (XNNPACK, 1 thread)"] = {"macs": 281_640, "nodes": None, "ops": []}
            runs["LiteRT Flatten (its call floor)"] = (_litert_runner(litert_flatten(tmp), 1), images)
            facts["LiteRT Flatten (its call floor)"] = {"macs": 0, "nodes": 1, "ops": ["RESHAPE"]}
        samples = timing.interleaved_latency_us(runs, 200, args.runs)
    load_after = os.getloadavg()
    machine = timing.machine_info()
    reference = next((n for n in runs if n.startswith("LiteRT")), None)
    p50 = {n: timing.percentiles(v)["p50_us"] for n, v in samples.items()}
    lines = [f"> machine: {machine['cpu']}, {machine['cores']} cores, features: {' '.join(machine['features'])}; "
             f"onnxruntime {machine['libraries']['onnxruntime']}",
             f"> load average (1, 5, 15 min) {' '.join(f'{v:.2f}' for v in load_before)} at the start, "
             f"{' '.join(f'{v:.2f}' for v in load_after)} at the end",
             f"> random weights; 200 warm-up + {args.runs} batch-1 runs each, one thread, interleaved round-robin; "
             "ort-cpu target (IOBinding)", "",
             "| graph | MACs | nodes onnxruntime runs | p50 us" + (" | p50 / LiteRT INT8 lenet" if reference else "")
             + " | ops after optimization |", "|---|---|---|---|" + ("---|" if reference else "") + "---|"]
    for name, f in facts.items():
        ratio = f" | {p50[name] / p50[reference]:.2f}x" if reference else ""
        lines.append(f"| {name} | {f['macs']:,} | {f['nodes'] if f['nodes'] is not None else '-'} | {p50[name]:.2f}"
                     f"{ratio} | {', '.join(f['ops']) or '-'} |")
    out = Path(args.out)
    write_bytes_atomic(out / "graph-shapes.md", ("\n".join(lines) + "\n").encode())
    write_json_atomic(out / "graph-shapes.json", {"machine": machine, "load_average": {"start": load_before, "end": load_after},
                                                  "graphs": {n: {**facts[n], **timing.percentiles(samples[n])} for n in facts}})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
