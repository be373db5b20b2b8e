"""Speed bars for lenet's INT8 model (against fp32 and TFLite INT8), in one run on the CPU that runs it.

    python benchmarks/int8_bars.py [--runs-dir runs] [--int8 FILE] [--out benchmarks/results]

Candidates: the pruned fp32 ONNX (exported/lenet.onnx), the shipped INT8 (exported/lenet.int8.onnx), the INT8 file
today's pipeline picks (quantize.quantize on runs/lenet/pruned.onnx into a temp dir, selection re-measured here; or
--int8 FILE), and TFLite fp32 / INT8 of the same network (the files benchmarks/peers.py built and cached in
benchmarks/results/tflite). Batch-1 p50 with one thread, interleaved across all; batch-256 throughput with all cores,
round-robin in 10 rounds (median), and per CPU-second with one thread; test accuracy. Bars: INT8 p50 <= fp32 p50, INT8 images/s >= 1.3x fp32, INT8 p50 <=
TFLite INT8 p50. Writes int8-bars-lenet.md and .json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from int8_variants import cpu_throughput
from peers import _tflite_runner

from edgedigits import runtime
from edgedigits.runtime import datasets
from edgedigits.runtime.bench import measure, timing
from edgedigits.runtime.model.artifacts import file_stats, write_bytes_atomic, write_json_atomic
from edgedigits.training import config, quantize, split
from edgedigits.training.tasks import classifier

ROUNDS = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--int8", help="an INT8 file to measure as the pipeline's pick (default: quantize one now)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    recipe = config.load("lenet")
    ds = datasets.load("mnist")
    x_test = runtime.normalize(ds.x_test)
    tflite = ROOT / "benchmarks/results/tflite"
    with tempfile.TemporaryDirectory() as tmp:
        pick, settings = args.int8, None
        if pick is None:
            pick = Path(tmp) / "lenet.int8.onnx"
            _, _, x_val, y_val = datasets.split_validation(ds.x_train, ds.y_train, recipe.validation, recipe.seed)
            xv = runtime.normalize(x_val)
            settings = quantize.quantize_with_accuracy_control(
                Path(args.runs_dir) / "lenet/pruned.onnx", pick, classifier.feeds(split.calibration_images(ds, recipe)),
                lambda path: runtime.accuracy(path, x_val, y_val), None, recipe.quantize, (xv[:1], xv[:256]))
            print(quantize.describe(settings), flush=True)
        files = {"ort fp32 (pruned, shipped)": ROOT / "exported/lenet.onnx",
                 "ort int8 (shipped)": ROOT / "exported/lenet.int8.onnx",
                 f"ort int8 (pipeline pick: {settings['variant'] if settings else Path(pick).name})": Path(pick),
                 "tflite fp32": tflite / "lenet.tflite", "tflite int8 (own PTQ)": tflite / "lenet.int8.tflite"}
        missing = [str(p) for p in files.values() if not p.is_file()]
        if missing:
            sys.exit(f"int8_bars: missing {', '.join(missing)} (run benchmarks/peers.py lenet once for the TFLite files)")

        def make(path: Path, threads: int):
            if path.suffix == ".tflite":
                return _tflite_runner(path, threads)
            session = runtime.open_session(path, threads)
            name = session.get_inputs()[0].name
            return lambda x: session.run(None, {name: x})[0]

        one = {name: (make(path, 1), x_test) for name, path in files.items()}
        every = {name: make(path, 0) for name, path in files.items()}
        latency = timing.interleaved_latency_us(one, 200, args.runs)
        throughput, per_cpu_s = {name: [] for name in files}, {name: [] for name in files}
        for _ in range(ROUNDS):
            for name, run in every.items():
                throughput[name].append(timing.throughput(run, x_test, 256, args.seconds / ROUNDS))
                per_cpu_s[name].append(cpu_throughput(one[name][0], x_test[:256], args.seconds / ROUNDS))
        results = {name: {**{k: round(v, 1) for k, v in timing.percentiles(latency[name]).items()},
                          "images_per_s": round(float(np.median(throughput[name]))),
                          "images_per_cpu_s_1_thread": round(float(np.median(per_cpu_s[name]))),
                          "test_accuracy": round(measure.accuracy(every[name], x_test, ds.y_test), 2),
                          "gzip_bytes": file_stats(path)["gzip_bytes"]} for name, path in files.items()}
    machine = timing.machine_info()
    fp32, tfl8 = results["ort fp32 (pruned, shipped)"], results["tflite int8 (own PTQ)"]
    lines = [f"> machine: {machine['cpu']}, {machine['cores']} cores, features: {' '.join(machine['features'])}; "
             f"onnxruntime {machine['libraries']['onnxruntime']}",
             f"> batch 1: {args.runs} runs per row, 1 thread, interleaved; batch 256: all cores, {args.seconds:g} s per row "
             f"in {ROUNDS} round-robin rounds (median); accuracy: full test set", "",
             "| model | test acc % | p50 us | p90 us | images/s (b256, all cores) | images/CPU-s (b256, 1 thread) | gzip bytes |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {n} | {r['test_accuracy']:.2f} | {r['p50_us']:.1f} | {r['p90_us']:.1f} | {r['images_per_s']:,} | "
              f"{r['images_per_cpu_s_1_thread']:,} | {r['gzip_bytes']:,} |" for n, r in results.items()]
    lines += ["", "| INT8 file | p50 <= fp32 p50 | images/s >= 1.3x fp32 (per CPU-s) | p50 <= TFLite INT8 p50 |", "|---|---|---|---|"]
    bars = {}
    for name, r in results.items():
        if name.startswith("ort int8"):
            b = bars[name] = {"p50_vs_fp32": round(r["p50_us"] / fp32["p50_us"], 2),
                              "throughput_vs_fp32": round(r["images_per_s"] / fp32["images_per_s"], 2),
                              "cpu_throughput_vs_fp32": round(r["images_per_cpu_s_1_thread"]
                                                              / fp32["images_per_cpu_s_1_thread"], 2),
                              "p50_vs_tflite_int8": round(r["p50_us"] / tfl8["p50_us"], 2)}
            lines.append(f"| {name} | {'met' if b['p50_vs_fp32'] <= 1 else 'unmet'} ({b['p50_vs_fp32']:.2f}x) | "
                         f"{'met' if b['throughput_vs_fp32'] >= 1.3 else 'unmet'} ({b['throughput_vs_fp32']:.2f}x; "
                         f"{b['cpu_throughput_vs_fp32']:.2f}x) | "
                         f"{'met' if b['p50_vs_tflite_int8'] <= 1 else 'unmet'} ({b['p50_vs_tflite_int8']:.2f}x) |")
    out = Path(args.out)
    write_bytes_atomic(out / "int8-bars-lenet.md", ("\n".join(lines) + "\n").encode())
    write_json_atomic(out / "int8-bars-lenet.json", {"machine": machine, "results": results, "bars": bars,
                                                      "pipeline_choice": settings})
    print("\n".join(lines))
    print(f"wrote {out / 'int8-bars-lenet.md'} and .json")


if __name__ == "__main__":
    main()
