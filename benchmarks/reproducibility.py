"""What makes two training runs of a recipe give different files, and what pinning it costs.

    python benchmarks/reproducibility.py cost   [--recipe lenet]        # wall time of train and prune per pin
    python benchmarks/reproducibility.py matrix --recipe benchmarks/reproducibility-tiny.toml --emulate
    python benchmarks/reproducibility.py answers [--model exported/lenet.onnx] --emulate   # INT8 variants per CPU

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
    pinned-1-core pinned, the process restricted to one core (taskset -c 0): a machine with fewer cores

`answers` quantizes one fp32 file with every static variant and scores each on the test set, natively and (with
--emulate) under QEMU's AVX2 CPU: the INT8 file's sha256, its test accuracy and the sha256 of its probabilities.

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
    "pinned-1-core": ({}, False),
}
PREFIX = {"pinned-1-core": ["taskset", "-c", "0"]}
PLANS = {
    "cost": ["unpinned", "isa", "determinism", "pinned"],
    "matrix": ["pinned", "pinned", "pinned-1-core", "unpinned", "unpinned", "threads-1", "isa"],
    "answers": [],
}


def child(config: str, recipe_name: str, work: Path) -> None:
    """One run in this process (environment already set by the parent); writes work/manifest.json."""
    from edgedigits.training.stack import tf

    if CONFIGS[config][1]:
        tf.config.experimental.enable_op_determinism()
    from edgedigits.runtime.model.artifacts import write_json_atomic
    from edgedigits.training import config as recipes
    from edgedigits.training import pipeline

    recipe = recipes.load(recipe_name)
    manifest = pipeline.run(recipe, work / "out", work / "runs")
    # early stopping ends training at another epoch when the weights differ: time per epoch is what compares
    epochs = {stage: len((work / "runs" / recipe.name / f"{log}.csv").read_text().splitlines()) - 1
              for stage, log in (("train", "history"), ("prune", "prune_history"))}
    write_json_atomic(work / "manifest.json", {**manifest, "epochs": epochs})


def run(config: str, recipe: str, emulated: bool) -> dict:
    from edgedigits.training.pins import VARIABLES  # no TensorFlow

    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update(CONFIGS[config][0])
    with tempfile.TemporaryDirectory(prefix="reproducibility-") as tmp:
        command = [*PREFIX.get(config, []), *(QEMU if emulated else []), sys.executable, __file__, "child", config,
                   recipe, tmp]
        load, start, cpu = os.getloadavg()[0], time.perf_counter(), os.times()
        done = subprocess.run(command, env=env, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            sys.exit(f"{config} run failed (exit {done.returncode}):\n" + "\n".join(done.stderr.splitlines()[-15:]))
        m = json.loads((Path(tmp) / "manifest.json").read_text())
    used = os.times()
    times = {k: m["times_s"][k] for k in ("train", "prune", "quantize") if k in m["times_s"]}
    return {
        "config": config, "emulated": "QEMU Haswell-v4 (AVX2, FMA; no AVX-512)" if emulated else None,
        "wall_s": round(time.perf_counter() - start, 1), "load_before": round(load, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "cpu_s": round(used.children_user + used.children_system - cpu.children_user - cpu.children_system, 1),
        "times_s": times, "epochs": m["epochs"],
        "s_per_epoch": {k: round(times[k] / n, 2) for k, n in m["epochs"].items()},
        "stages": {s: {"sha256": f["sha256"], "test_accuracy": f["test_accuracy"]} for s, f in m["stages"].items()},
        "pins": m["reproduce"]["pins"],
    }


def answers(model: Path) -> dict:
    """Every static INT8 variant of `model` (an fp32 file) built and scored on the test set on the running CPU."""
    import hashlib

    import numpy as np
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from edgedigits.runtime import Classifier, datasets
    from edgedigits.training import config, quantize, split
    from edgedigits.training.tasks.classifier import feeds

    recipe = config.load("lenet")
    ds = datasets.load(recipe.dataset)
    sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(model), str(prepared), skip_symbolic_shape=False)
        for name, path in [("fp32", model), *((v, Path(tmp) / f"{v}.onnx") for v in config.QUANT_VARIANTS
                                               if not v.startswith("dynamic"))]:
            if name != "fp32":
                quantize.quantize_variant(prepared, path, feeds(split.calibration_images(ds, recipe)),
                                          recipe.quantize, name)
            p = np.ascontiguousarray(Classifier(path).probabilities(ds.x_test))
            out[name] = {"file_sha256": sha(path.read_bytes()), "probabilities_sha256": sha(p.tobytes()),
                         "test_accuracy": round(float(np.mean(p.argmax(1) == ds.y_test) * 100), 2)}
    return out


def run_answers(model: str, emulated: bool) -> dict:
    command = [*(QEMU if emulated else []), sys.executable, __file__, "answers-child", model]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit("answers run failed:\n" + "\n".join(done.stderr.splitlines()[-15:]))
    return {"emulated": "QEMU Haswell-v4 (AVX2, FMA; no AVX-512)" if emulated else None,
            "variants": json.loads(done.stdout.splitlines()[-1])}


def main() -> None:
    if sys.argv[1:2] == ["child"]:
        return child(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    if sys.argv[1:2] == ["answers-child"]:
        return print(json.dumps(answers(Path(sys.argv[2]))))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=sorted(PLANS))
    parser.add_argument("--recipe", default="lenet")
    parser.add_argument("--model", default=str(ROOT / "exported" / "lenet.onnx"), help="answers: the fp32 file")
    parser.add_argument("--configs", help="comma-separated configurations instead of the mode's plan")
    parser.add_argument("--emulate", action="store_true", help="also pinned and unpinned under QEMU's AVX2 CPU")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the plan, interleaved (a shared machine drifts)")
    parser.add_argument("--add", action="store_true", help="add the runs to the mode's recorded ones (same CPU only)")
    args = parser.parse_args()
    from edgedigits.runtime.bench import timing

    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    plan = [(c, False) for c in (args.configs.split(",") if args.configs else PLANS[args.mode])] * args.rounds
    plan += [("pinned", True), ("unpinned", True)] if args.emulate else []
    machine = timing.machine_info()
    if args.mode == "answers":
        cpus = [False, True] if args.emulate else [False]
        entry = {"model": Path(args.model).name, "cpu": machine["cpu"], "cores": machine["cores"],
                 "features": machine["features"], "runs": [run_answers(args.model, e) for e in cpus]}
        results["answers"] = entry
        OUT.write_text(json.dumps(results, indent=2) + "\n")
        return print(json.dumps(entry["runs"], indent=1))
    entry = {"recipe": args.recipe, "cpu": machine["cpu"], "cores": machine["cores"],
             "features": machine["features"], "runs": []}
    old = results.get(args.mode, {})
    if args.add and (old.get("cpu"), old.get("features")) == (entry["cpu"], entry["features"]):
        entry["runs"] = old["runs"]
    elif args.add:
        sys.exit("--add: the recorded runs were measured on another CPU; run the whole plan here")
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
