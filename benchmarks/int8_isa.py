"""How much a shipped model's test accuracy moves with the CPU's instruction set.

    python benchmarks/int8_isa.py [--exported exported] [--out benchmarks/results]

onnxruntime picks its integer kernels by CPU (AVX2 U8S8 sums saturate in int16; AVX-512 VNNI and AMX accumulate in
int32), so an INT8 file's accuracy belongs to the file and the CPU. This scores every shipped file (pruned fp32 and
INT8) on the full test set on the running CPU and merges the result into int8-isa.json under this CPU's feature set;
the manifests' own figures (measured when the file was built) are kept beside them. tests/test_shipped.py allows the
largest INT8 difference seen here between CPUs, and keeps fp32 exact.

Another instruction set on the same host: run it under QEMU's user-mode emulator with an older CPU model, which
changes what onnxruntime's kernel dispatch sees (cpuid) but not /proc/cpuinfo, so name the features yourself:

    qemu-x86_64 -cpu Haswell-v4 .venv/bin/python benchmarks/int8_isa.py --features avx2 --cpu "QEMU Haswell-v4"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgedigits import runtime
from edgedigits.runtime import datasets
from edgedigits.runtime.bench import timing
from edgedigits.runtime.model.artifacts import write_json_atomic

STAGES = (("pruned", "{}.onnx"), ("int8", "{}.int8.onnx"))


def stages_of(manifest: dict) -> tuple[tuple[str, str], ...]:
    """The manifest's stages of the two shipped files: NAME.onnx is the fp32 stage when the recipe does not prune."""
    if "pruned" in manifest["stages"]:
        return STAGES
    return (("fp32", "{}.onnx"), STAGES[1])


def features_key(features) -> str:
    return " ".join(features) or "baseline x86-64"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exported", default=str(ROOT / "exported"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--features", help="the instruction-set features to file the results under (emulation)")
    parser.add_argument("--cpu", help="the CPU name to record with them (emulation)")
    args = parser.parse_args()
    out = Path(args.out) / "int8-isa.json"
    results = json.loads(out.read_text()) if out.exists() else {"measured": {}, "recorded": {}}
    machine = timing.machine_info()
    here = features_key(args.features.split() if args.features else machine["features"])
    results["measured"][here] = {"cpu": args.cpu or machine["cpu"], "onnxruntime": machine["libraries"]["onnxruntime"], "models": {}}
    for manifest_path in sorted(Path(args.exported).glob("*.json")):
        name, m = manifest_path.stem, json.loads(manifest_path.read_text())
        ds = datasets.load(m["dataset"])
        results["recorded"][name] = {
            stage: {"test_accuracy": m["stages"][stage]["test_accuracy"],
                    "measured_on": features_key(m["stages"][stage]["measured_on"])}
            for stage, _ in stages_of(m)
        }
        results["measured"][here]["models"][name] = {
            stage: runtime.accuracy(Path(args.exported) / pattern.format(name), ds.x_test, ds.y_test)
            for stage, pattern in stages_of(m)
        }
        print(name, results["measured"][here]["models"][name], flush=True)
    write_json_atomic(out, results)
    print(f"wrote {out} (its table: docs/quantization.md, rendered by docs/build.py)")


if __name__ == "__main__":
    main()
