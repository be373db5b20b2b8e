"""Where does onnxruntime's INT8 beat fp32 on the running CPU? The INT8 / fp32 ratio per model, small to large.

    python benchmarks/int8_crossover.py [--models lenet-fast lenet lenet-slim mlp cnn lenet5-v2] [--alexnet]

For each shipped model: its pruned fp32 file, its shipped INT8 file (the variant the pipeline chose where it was
built) and an all-ops static QDQ u8s8 INT8 file built here from the same fp32 file and calibration images (the
variant integer kernels accelerate most on VNNI CPUs). With --alexnet, the registry's AlexNet with random weights
(timing only, no accuracy) joins as the large end. All through bench's ort-cpu target: batch-1 latency with one
thread interleaved round-robin across every file, then batch-256 throughput with all cores, each file alone in its
own process, round-robin (median of the rounds). The figures measured on the CPU each manifest was built on (its
quantize candidates' p50 against the fp32 reference) are shown beside. Writes int8-crossover.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
from onnxruntime.quantization.shape_inference import quant_pre_process

from edgedigits.runtime import datasets, normalize
from edgedigits.runtime.bench import measure, targets, timing
from edgedigits.runtime.model.artifacts import file_stats, write_bytes_atomic, write_json_atomic
from edgedigits.training import config, graphstats, quantize, split
from edgedigits.training.tasks import classifier

ROUNDS = 3
MODELS = ["lenet-fast", "lenet-slim", "lenet", "mlp", "cnn", "lenet5-v2"]


def build_all_ops(fp32: Path, out: Path, recipe, tmp: Path) -> None:
    prepared = tmp / f"{fp32.stem}.prepared.onnx"
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=False)
    calibration = split.calibration_images(datasets.load(recipe.dataset), recipe)
    quantize.quantize_variant(prepared, out, classifier.feeds(calibration), recipe.quantize, "u8s8")


def random_alexnet(out: Path) -> None:
    from edgedigits.training import export, models

    export.save(export.to_onnx(models.create_model("alexnet")), out)


def built_on(manifest: dict) -> dict:
    """The batch-1 INT8/fp32 ratios recorded where the file was built (quantize's candidates against its reference)."""
    q = manifest["stages"]["int8"].get("quantization", {})
    ref, cands = q.get("reference"), q.get("candidates", {})
    if not ref:
        return {}
    ratio = lambda n: round(cands[n]["p50_us"] / ref["p50_us"], 2) if n in cands else None  # noqa: E731
    return {"features": q.get("machine", {}).get("features", []), "shipped_p50": ratio(q["variant"]),
            "u8s8_p50": ratio("u8s8"), "shipped_ips": round(cands[q["variant"]]["images_per_s"] / ref["images_per_s"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=MODELS)
    parser.add_argument("--alexnet", action="store_true", help="add AlexNet (random weights) as the large end")
    parser.add_argument("--exported", default=str(ROOT / "exported"))
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=2.0, help="throughput time per file")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--throughput-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.throughput_of:  # child: batch-256 images/s of one file, all cores
        x = normalize(datasets.load("mnist").x_test[:256])
        run = targets.discover()["ort-cpu"].make(Path(args.throughput_of), 0)
        return print(timing.throughput(run, x, 256, args.seconds))
    exported = Path(args.exported)
    t0, load_before = time.time(), os.getloadavg()
    ds = datasets.load("mnist")
    x, y = normalize(ds.x_test), ds.y_test
    cpu = targets.discover()["ort-cpu"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files, facts = {}, {}
        for name in args.models:
            manifest = json.loads((exported / f"{name}.json").read_text())
            files[(name, "fp32")] = exported / f"{name}.onnx"
            files[(name, "shipped")] = exported / f"{name}.int8.onnx"
            files[(name, "u8s8")] = tmp / f"{name}.u8s8.onnx"
            build_all_ops(files[(name, "fp32")], files[(name, "u8s8")], config.load(name), tmp)
            facts[name] = {"macs": manifest["stages"]["pruned"]["macs"],
                           "parameters": manifest["stages"]["pruned"]["parameters"],
                           "shipped_variant": manifest["stages"]["int8"]["quantization"]["variant"],
                           "built_on": built_on(manifest)}
        if args.alexnet:
            files[("alexnet", "fp32")] = tmp / "alexnet.onnx"
            random_alexnet(files[("alexnet", "fp32")])
            files[("alexnet", "u8s8")] = tmp / "alexnet.u8s8.onnx"
            build_all_ops(files[("alexnet", "fp32")], files[("alexnet", "u8s8")], config.load("alexnet"), tmp)
            facts["alexnet"] = {"macs": graphstats.macs(files[("alexnet", "fp32")]), "parameters": None,
                                "shipped_variant": None, "built_on": {}, "weights": "random (timing only)"}
        print(f"timing {len(files)} files ...", flush=True)
        latency = timing.interleaved_latency_us({k: (cpu.make(p, 1), x) for k, p in files.items()}, 200, args.runs)
        rates = {k: [] for k in files}
        for _ in range(ROUNDS):  # each file alone in its own process: other sessions' idle threads would share its cores
            for k, path in files.items():
                cmd = [sys.executable, __file__, "--throughput-of", str(path), "--seconds", str(args.seconds / ROUNDS)]
                rates[k].append(float(subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout.split()[-1]))
        fast = {k: cpu.make(p, 0) for k, p in files.items()}  # for accuracy
        figures = {}
        for (name, kind), path in files.items():
            figures.setdefault(name, {})[kind] = {
                **timing.percentiles(latency[(name, kind)]), "images_per_s": float(np.median(rates[(name, kind)])),
                "gzip_bytes": file_stats(path)["gzip_bytes"],
                "test_accuracy": None if name == "alexnet" else measure.accuracy(fast[(name, kind)], x, y)}
    load_after = os.getloadavg()
    machine = timing.machine_info()
    header = ["model", "MACs", "fp32 p50 us", "fp32 images/s", "shipped INT8 (variant)", "shipped INT8/fp32 p50",
              "shipped INT8/fp32 images/s", "u8s8 all-ops INT8/fp32 p50", "u8s8 all-ops INT8/fp32 images/s",
              "where built: CPU features, shipped / u8s8 p50 ratio"]
    rows = []
    for name in sorted(figures, key=lambda n: facts[n]["macs"]):
        f, info = figures[name], facts[name]
        shipped = f.get("shipped")
        b = info["built_on"]
        rows.append([
            name, f"{info['macs']:,}", f"{f['fp32']['p50_us']:.1f}", f"{f['fp32']['images_per_s']:,.0f}",
            info["shipped_variant"] or "-",
            f"{shipped['p50_us'] / f['fp32']['p50_us']:.2f}x" if shipped else "-",
            f"{shipped['images_per_s'] / f['fp32']['images_per_s']:.2f}x" if shipped else "-",
            f"{f['u8s8']['p50_us'] / f['fp32']['p50_us']:.2f}x", f"{f['u8s8']['images_per_s'] / f['fp32']['images_per_s']:.2f}x",
            f"{' '.join(b['features'])}: {b['shipped_p50']}x / {b['u8s8_p50']}x" if b else "-",
        ])
    lines = [f"> machine: {machine['cpu']}, {machine['cores']} cores, features: {' '.join(machine['features'])}; "
             f"onnxruntime {machine['libraries']['onnxruntime']}",
             f"> load average (1, 5, 15 min) {' '.join(f'{v:.2f}' for v in load_before)} at the start, "
             f"{' '.join(f'{v:.2f}' for v in load_after)} at the end",
             f"> batch-1: 200 warm-up + {args.runs} timed runs per file, 1 thread, interleaved round-robin across all "
             f"files; throughput: batch 256, all cores, {args.seconds:g} s per file in {ROUNDS} round-robin rounds "
             "(median), each file alone in its own process; bench's ort-cpu target (IOBinding at batch 1)",
             "> ratio < 1x at p50 (or > 1x at images/s): INT8 pays on this CPU" + (
                 "; alexnet: random weights, timing only" if args.alexnet else ""), "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    out = Path(args.out)
    write_bytes_atomic(out / "int8-crossover.md", ("\n".join(lines) + "\n").encode())
    write_json_atomic(out / "int8-crossover.json", {"machine": machine, "load_average": {"start": load_before,
                      "end": load_after}, "models": {n: {**facts[n], "figures": figures[n]} for n in figures}})
    print("\n".join(lines))
    print(f"\nwrote {out / 'int8-crossover.md'} and .json in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
