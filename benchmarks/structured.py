"""Does structured pruning buy speed? Dense and magnitude-pruned lenet against the structured-pruned lenet-slim.

    python benchmarks/structured.py [--exported exported] [--runs-dir runs] [--out benchmarks/results]

Models: the dense lenet fp32 (runs/lenet-slim/fp32.onnx: lenet-slim trains exactly lenet's dense model before
shrinking it), the shipped magnitude-pruned exported/lenet.onnx and its INT8, the narrow model before magnitude
pruning (runs/lenet-slim/structured.onnx) and the shipped exported/lenet-slim.onnx and its INT8. Batch-1 latency
uses one intra-op thread, measured round-robin across all models (timing.interleaved_latency_us: on this noisy VM
models measured one after another compare machine states); throughput is batch 256 on all cores, also round-robin
(median of the rounds); accuracy is the
full test set through the same onnxruntime CPU session; MACs are counted in each ONNX graph itself (Conv: output
pixels x kernel size x input channels per group; MatMul/Gemm: weight rows x columns), per image.
Writes structured-lenet.md and .json. onnxruntime and numpy only: no TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgedigits.runtime import datasets, normalize
from edgedigits.runtime.bench import measure, targets, timing
from edgedigits.runtime.model.artifacts import file_stats, write_bytes_atomic, write_json_atomic
from edgedigits.training import graphstats

BASELINE = "lenet fp32 (dense)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exported", default=str(ROOT / "exported"))
    parser.add_argument("--runs-dir", default=str(ROOT / "runs"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--runs", type=int, default=4000, help="batch-1 runs per model")
    parser.add_argument("--seconds", type=float, default=4.0, help="throughput time per model, over all rounds")
    parser.add_argument("--rounds", type=int, default=8, help="throughput rounds, round-robin across models")
    args = parser.parse_args()
    exported, runs = Path(args.exported), Path(args.runs_dir) / "lenet-slim"
    models = {
        BASELINE: runs / "fp32.onnx",
        "lenet pruned (shipped)": exported / "lenet.onnx",
        "lenet int8 (shipped)": exported / "lenet.int8.onnx",
        "lenet-slim structured": runs / "structured.onnx",
        "lenet-slim pruned (shipped)": exported / "lenet-slim.onnx",
        "lenet-slim int8 (shipped)": exported / "lenet-slim.int8.onnx",
    }
    missing = [str(p) for p in models.values() if not p.is_file()]
    if missing:
        sys.exit(f"structured: missing {', '.join(missing)}; run `edgedigits train-prune-export lenet-slim` first")
    ds = datasets.load("mnist")
    x_test = normalize(ds.x_test)
    cpu = targets.discover()["ort-cpu"]
    machine = timing.machine_info()
    load_before = os.getloadavg()[0]
    latency = timing.interleaved_latency_us({name: (cpu.make(path, 1), x_test) for name, path in models.items()},
                                           200, args.runs)
    # Throughput, also round-robin: each round gives every model seconds/rounds; the median round is reported.
    fast = {name: cpu.make(path, 0) for name, path in models.items()}
    rates = {name: [] for name in models}
    for _ in range(args.rounds):
        for name in models:
            rates[name].append(timing.throughput(fast[name], x_test, 256, args.seconds / args.rounds))
    records = []
    for name, path in models.items():
        records.append({"model": name, "file": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
                        "macs": graphstats.macs(path), "test_accuracy": measure.accuracy(fast[name], x_test, ds.y_test),
                        **timing.percentiles(latency[name]),
                        "images_per_s": float(np.median(rates[name])),
                        "gzip_bytes": file_stats(path)["gzip_bytes"]})
        print(records[-1], flush=True)
    base = records[0]
    header = ["model", "MACs", "MACs / dense", "test acc %", "p50 us (b1, 1 thread)", "p90 us", "p50 speedup vs dense",
              "images/s (b256, all cores)", "throughput vs dense", "gzip bytes"]
    rows = [[r["model"], f"{r['macs']:,}", f"{r['macs'] / base['macs']:.2f}", f"{r['test_accuracy']:.2f}",
             f"{r['p50_us']:.1f}", f"{r['p90_us']:.1f}", f"{base['p50_us'] / r['p50_us']:.2f}x",
             f"{r['images_per_s']:,.0f}", f"{r['images_per_s'] / base['images_per_s']:.2f}x", f"{r['gzip_bytes']:,}"]
            for r in records]
    text = [f"> machine: {machine['cpu']}, {machine['cores']} cores, features: {' '.join(machine['features'])}; "
            f"onnxruntime {machine['libraries']['onnxruntime']}",
            f"> batch-1: 200 warm-up + {args.runs} timed runs per model, interleaved in 20 rounds, 1 intra-op thread; "
            f"throughput: batch 256, all cores, {args.rounds} round-robin rounds of {args.seconds / args.rounds:g} s per model, median round; accuracy: all {len(ds.y_test):,} test images",
            f"> load average (1 min) {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {machine['cores']} cores"
            + (" (another job shared the machine: compare rows, not runs)"
               if max(load_before, os.getloadavg()[0]) > machine["cores"] / 2 else ""),
            "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]
    out = Path(args.out)
    write_bytes_atomic(out / "structured-lenet.md", ("\n".join(text) + "\n").encode())
    write_json_atomic(out / "structured-lenet.json", {"machine": machine, "runs": args.runs, "seconds": args.seconds,
                                                      "load_average": [load_before, os.getloadavg()[0]],
                                                      "models": records})
    print("\n".join(text))
    print(f"wrote {out / 'structured-lenet.md'}, {out / 'structured-lenet.json'}")


if __name__ == "__main__":
    main()
