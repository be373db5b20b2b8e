"""What makes two training runs of a recipe give different files, and what pinning it costs.

    python benchmarks/reproducibility.py cost   [--recipe lenet]        # wall time of train and prune per pin
    python benchmarks/reproducibility.py matrix --recipe benchmarks/reproducibility-tiny.toml --emulate

Each run is a child process with its own environment (the pins of edgedigits/training/pins.py must be set before
TensorFlow loads), running the recipe's stages into a scratch directory and stamping the files as the pipeline
does; its stage sha256s, test accuracies and times are merged into benchmarks/results/reproducibility.json under
the mode and configuration. Configurations:

    unpinned      EDGEDIGITS_REPRODUCIBLE=0: TensorFlow's defaults (native oneDNN kernels, one thread per core)
    threads-1     unpinned, one TensorFlow thread
    isa           unpinned but oneDNN capped at AVX2 (ONEDNN_MAX_CPU_ISA=AVX2)
    determinism   unpinned but tf.config.experimental.enable_op_determinism()
    onednn-off    unpinned but TF_ENABLE_ONEDNN_OPTS=0 (Eigen's kernels only)
    pinned        the defaults: AVX2 cap, 2 threads, op determinism

--emulate also runs `pinned` and `unpinned` under `qemu-x86_64 -cpu Haswell-v4`, an AVX2-only CPU model (no
AVX-512, no VNNI) whose cpuid every library's kernel dispatch reads: TensorFlow's oneDNN, onnxruntime's MLAS and
OpenCV. It is 50-100x slower: use a small recipe.
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

OUT = ROOT / "benchmarks" / "results" / "reproducibility.json"
QEMU = ["qemu-x86_64", "-cpu", "Haswell-v4"]
CONFIGS = {  # name -> (environment, op determinism turned on by the child)
    "unpinned": ({"EDGEDIGITS_REPRODUCIBLE": "0"}, False),
    "threads-1": ({"EDGEDIGITS_REPRODUCIBLE": "0", "EDGEDIGITS_THREADS": "1"}, False),
    "isa": ({"EDGEDIGITS_REPRODUCIBLE": "0", "ONEDNN_MAX_CPU_ISA": "AVX2"}, False),
    "determinism": ({"EDGEDIGITS_REPRODUCIBLE": "0"}, True),
    "onednn-off": ({"EDGEDIGITS_REPRODUCIBLE": "0", "TF_ENABLE_ONEDNN_OPTS": "0"}, False),
    "pinned": ({}, False),
}
PLANS = {
    "cost": ["unpinned", "isa", "determinism", "pinned"],
    "matrix": ["pinned", "pinned", "unpinned", "unpinned", "threads-1", "isa"],
}


def child(config: str, recipe_name: str, work: Path) -> None:
    """One run in this process (environment already set by the parent); writes work/manifest.json."""
    from edgedigits.training.stack import tf

    if CONFIGS[config][1]:
        tf.config.experimental.enable_op_determinism()
    from edgedigits.runtime.artifacts import write_json_atomic
    from edgedigits.training import config as recipes
    from edgedigits.training import pipeline, stages
    from edgedigits.training.stages.report import stamp

    recipe = recipes.load(recipe_name)
    ctx = stages.open_run(recipe, work / "runs" / recipe.name)
    stages.run(ctx, [s for s in stages.enabled(recipe) if s != "report"])  # the report's scores change no file
    stamp(ctx)
    write_json_atomic(work / "manifest.json", pipeline.build_manifest(ctx))


def run(config: str, recipe: str, emulated: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("EDGEDIGITS_REPRODUCIBLE", "EDGEDIGITS_THREADS",
                                                             "ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS")}
    env.update(CONFIGS[config][0])
    with tempfile.TemporaryDirectory(prefix="reproducibility-") as tmp:
        command = [*(QEMU if emulated else []), sys.executable, __file__, "child", config, recipe, tmp]
        load, start = os.getloadavg()[0], time.perf_counter()
        done = subprocess.run(command, env=env, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            sys.exit(f"{config} run failed (exit {done.returncode}):\n" + "\n".join(done.stderr.splitlines()[-15:]))
        m = json.loads((Path(tmp) / "manifest.json").read_text())
    return {
        "config": config, "emulated": "QEMU Haswell-v4 (AVX2, FMA; no AVX-512)" if emulated else None,
        "wall_s": round(time.perf_counter() - start, 1), "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "times_s": {k: m["times_s"][k] for k in ("train", "prune", "quantize") if k in m["times_s"]},
        "stages": {s: {"sha256": f["sha256"], "test_accuracy": f["test_accuracy"]} for s, f in m["stages"].items()},
        "pins": m["reproduce"]["pins"],
    }


def main() -> None:
    if sys.argv[1:2] == ["child"]:
        return child(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=sorted(PLANS))
    parser.add_argument("--recipe", default="lenet")
    parser.add_argument("--configs", help="comma-separated configurations instead of the mode's plan")
    parser.add_argument("--emulate", action="store_true", help="also pinned and unpinned under QEMU's AVX2 CPU")
    args = parser.parse_args()
    from edgedigits.runtime import timing

    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    plan = [(c, False) for c in (args.configs.split(",") if args.configs else PLANS[args.mode])]
    plan += [("pinned", True), ("unpinned", True)] if args.emulate else []
    machine = timing.machine_info()
    entry = {"recipe": args.recipe, "cpu": machine["cpu"], "cores": machine["cores"],
             "features": machine["features"], "runs": []}
    for config, emulated in plan:
        entry["runs"].append(run(config, args.recipe, emulated))
        r = entry["runs"][-1]
        print(f"{config:12s} {'emulated ' if emulated else ''}train {r['times_s'].get('train')} s, prune "
              f"{r['times_s'].get('prune')} s (load {r['load_before']}-{r['load_after']}); "
              + ", ".join(f"{s} {f['sha256'][:12]} {f['test_accuracy']:.2f}%" for s, f in r["stages"].items()),
              flush=True)
        results[args.mode] = entry  # written after every run: a long plan keeps what it measured
        OUT.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
