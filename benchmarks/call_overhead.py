"""What does the runtime API add to a batch-1 call, against a bare session.run and against the floor?

    python benchmarks/call_overhead.py [MODEL.onnx ...] [--runs 20000] [--out benchmarks/results]

The floor is an identity ONNX model with the same input ([1,28,28,1] float32) run through InferenceSession.run:
what any onnxruntime call costs here before a single op computes. Per model (default: the shipped lenet pruned and
INT8 files), all measured round-robin in one process with one intra-op thread, on real test images:
- bare `InferenceSession.run` on a float32 [1,28,28,1] input prepared beforehand (what an expert would write),
- `Classifier.probabilities(img)` and `Classifier.classify(img)` on one uint8 28x28 image, as users call it
  (normalization, the run, and for classify the argmax and label),
- the previous Classifier path (astype/255 then session.run) for reference.
Overhead = classify p50 minus bare run p50; the issue's bar is 5 us. Writes call-overhead.md and .json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgedigits import runtime
from edgedigits.runtime import datasets
from edgedigits.runtime.bench import timing
from edgedigits.runtime.model.artifacts import write_bytes_atomic, write_json_atomic

BAR_US = 5.0


def identity_model(path: Path) -> Path:
    """The cheapest possible model with the shipped models' input: one Identity node."""
    shape = [1, 28, 28, 1]
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "identity",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def bare(session):
    name_in, outputs = session.get_inputs()[0].name, [session.get_outputs()[0].name]
    return lambda x: session.run(outputs, {name_in: x})[0]


def previous_path(session):
    """A naive batch-1 path, for comparison: astype/255, then session.run."""
    name_in, outputs = session.get_inputs()[0].name, [session.get_outputs()[0].name]
    return lambda img: session.run(outputs, {name_in: (img.astype(np.float32) / np.float32(255.0))[None, ..., None]})[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=[str(ROOT / "exported/lenet.onnx"), str(ROOT / "exported/lenet.int8.onnx")])
    parser.add_argument("--runs", type=int, default=20000, help="timed calls per entry, interleaved in 100 rounds")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args()
    ds = datasets.load("mnist")
    images = ds.x_test[:256]  # uint8 [N,28,28], as an app has them
    floats = runtime.normalize(images)
    with tempfile.TemporaryDirectory() as tmp:
        floor = runtime.open_session(identity_model(Path(tmp) / "identity.onnx"), 1)
        runs = {("identity", "InferenceSession.run (floor)"): (bare(floor), floats)}
        paths = [Path(p) for p in args.models]
        for path in paths:
            label = path.name if [p.name for p in paths].count(path.name) == 1 else f"{path.parent.name}/{path.name}"
            session, model = runtime.open_session(path, 1), runtime.Classifier(path, threads=1)
            # the same images through every entry; the uint8 ones are called with one [28,28] image
            runs[(label, "InferenceSession.run")] = (bare(session), floats)
            runs[(label, "Classifier.probabilities")] = (lambda b, m=model: m.probabilities(b[0]), images)
            runs[(label, "Classifier.classify")] = (lambda b, m=model: m.classify(b[0]), images)
            runs[(label, "previous path (astype/255 + run)")] = (lambda b, f=previous_path(session): f(b[0]), images)
        samples = timing.interleaved_latency_us(runs, args.warmup, args.runs, rounds=100)
    stats = {key: timing.percentiles(s) for key, s in samples.items()}
    floor_p50 = stats[("identity", "InferenceSession.run (floor)")]["p50_us"]
    machine = timing.machine_info()
    header = ["model", "call", "p50 us", "p90 us", "p50 over bare run us", "p50 over floor us"]
    lines = [f"> machine: {machine['cpu']}, {machine['cores']} cores, features: {' '.join(machine['features'])}; "
             f"onnxruntime {machine['libraries']['onnxruntime']}, numpy {machine['libraries']['numpy']}",
             f"> batch 1, 1 intra-op thread, {args.runs} calls per row interleaved round-robin in 100 rounds after "
             f"{args.warmup} warm-up calls; real MNIST test images", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    result = {"machine": machine, "runs": args.runs, "bar_us": BAR_US, "floor_p50_us": floor_p50, "models": {}}
    for (model, call), s in stats.items():
        base = stats.get((model, "InferenceSession.run"), s)["p50_us"]
        lines.append(f"| {model} | {call} | {s['p50_us']:.1f} | {s['p90_us']:.1f} | {s['p50_us'] - base:+.1f} | "
                     f"{s['p50_us'] - floor_p50:+.1f} |")
        if model != "identity":
            result["models"].setdefault(model, {})[call] = {k: round(v, 2) for k, v in s.items() if k != "p99_us"}
    lines.append("")
    for model, calls in result["models"].items():
        over = calls["Classifier.classify"]["p50_us"] - calls["InferenceSession.run"]["p50_us"]
        calls["classify_overhead_us"] = round(over, 2)
        lines.append(f"- {model}: classify adds {over:+.1f} us p50 over a bare run "
                     f"({'meets' if over <= BAR_US else 'misses'} the {BAR_US:g} us bar); floor {floor_p50:.1f} us")
    out = Path(args.out)
    write_bytes_atomic(out / "call-overhead.md", ("\n".join(lines) + "\n").encode())
    write_json_atomic(out / "call-overhead.json", result)
    print("\n".join(lines))
    print(f"wrote {out / 'call-overhead.md'} and .json")


if __name__ == "__main__":
    main()
