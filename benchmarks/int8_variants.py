"""Which INT8 flavour of a pruned model is accurate and fast on this machine?

    python benchmarks/int8_variants.py [PIPELINE] [--runs-dir runs] [--out benchmarks/results]

Quantizes runs/PIPELINE/pruned.onnx (from `edgedigits train-prune-export PIPELINE`) in each QDQ variant the pipeline
can choose from, plus QOperator for reference, and measures validation and test accuracy, batch-1 latency with one
thread and throughput at batch 256 with all cores, beside the fp32 model. Writes int8-variants-PIPELINE.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from onnxruntime.quantization import QuantFormat, quantize_static  # noqa: E402
from onnxruntime.quantization.shape_inference import quant_pre_process  # noqa: E402

from edgedigits import bench, config, data, quantize  # noqa: E402
from edgedigits.artifacts import file_stats, write_bytes_atomic  # noqa: E402
from edgedigits.runtime import normalize  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline", nargs="?", default="lenet")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    recipe = config.load(args.pipeline)
    source = Path(args.runs_dir) / args.pipeline / "pruned.onnx"
    if not source.is_file():
        sys.exit(f"int8_variants: {source} missing; run `edgedigits train-prune-export {args.pipeline}` first")
    ds = data.load(recipe.dataset)
    calibration = quantize.calibration_images(ds, recipe)
    _, _, x_val, y_val = data.split_validation(ds.x_train, ds.y_train, recipe.validation, recipe.seed)
    x_test, x_val = normalize(ds.x_test), normalize(x_val)
    cpu = bench.discover_targets()["ort-cpu"]
    machine = bench.machine_info()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared))
        models = {"fp32 (pruned)": source}
        for variant in quantize.VARIANTS:
            models[f"QDQ {variant}"] = Path(tmp) / f"{variant}.onnx"
            quantize.quantize_variant(prepared, models[f"QDQ {variant}"], calibration, recipe.quantize, variant)
        for variant in ("u8s8", "u8u8"):
            path = models[f"QOperator {variant}"] = Path(tmp) / f"qop-{variant}.onnx"
            quantize_static(str(prepared), str(path), quantize._Images("input", calibration),
                            quant_format=QuantFormat.QOperator, per_channel=recipe.quantize.per_channel,
                            **quantize.VARIANTS[variant])
        latency = bench.interleaved_latency_us({name: (cpu.make(path, 1), x_test) for name, path in models.items()},
                                               200, args.runs)
        for name, path in models.items():
            fast, lat = cpu.make(path, 0), bench.percentiles(latency[name])
            rows.append([name, f"{bench.accuracy(fast, x_val, y_val):.2f}", f"{bench.accuracy(fast, x_test, ds.y_test):.2f}",
                         f"{lat['p50_us']:.1f}", f"{lat['p99_us']:.1f}",
                         f"{bench.throughput(fast, x_test, 256, args.seconds):,.0f}", f"{file_stats(path)['gzip_bytes']:,}"])
            print(" | ".join(rows[-1]), flush=True)
    header = ["model", "val acc %", "test acc %", "p50 us (1 thread)", "p99 us", "images/s (b256, all cores)", "gzip bytes"]
    text = [f"> machine: {machine['cpu']}, {machine['cores']} cores, features: {' '.join(machine['features'])}; "
            f"onnxruntime {machine['libraries']['onnxruntime']}", f"> pipeline {args.pipeline}: {args.runs} batch-1 runs",
            "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]
    out = Path(args.out) / f"int8-variants-{args.pipeline}.md"
    write_bytes_atomic(out, ("\n".join(text) + "\n").encode())
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
