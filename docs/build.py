"""Rebuild the generated tables of README.md and docs/*.md from the committed results files and manifests.

    python docs/build.py            # rewrite every <!-- table:NAME --> ... <!-- /table --> block (and the figure)
    python docs/build.py --check    # exit 1, naming the blocks, if a committed document differs from its sources

A table is only ever written here, from one results file (benchmarks/results/...) or the shipped manifests
(exported/*.json), and it starts with the line naming that file and the CPU and instruction-set features it was
measured on, read from the file itself. tests/test_docs.py runs the check, so the documents cannot drift from the
evidence. The README figure (docs/accuracy-vs-size.png) needs matplotlib (the [train] extra); the tables do not.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import re
import statistics
import sys
import tokenize
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
EXPORTED = ROOT / "exported"
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FIGURE = ROOT / "docs" / "accuracy-vs-size.png"
BLOCK = re.compile(r"(<!-- table:(?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)
# Shipped models in the order the README lists them, with what each one is.
SHIPPED = {
    "lenet": "LeNet-5 (LeCun et al. 1998), ReLU and max pooling",
    "lenet5": "classic LeNet-5: tanh and average pooling",
    "lenet5-v2": "LeNet-5 v2: batch norm, dropout, augmentation",
    "cnn": "3-conv CNN with dropout (Keras MNIST CNN notebook's model_2)",
    "mlp": "300-100 multilayer perceptron",
    "lenet-slim": "lenet structured-pruned to conv 4-8, dense 100-84",
    "fashion-lenet": "lenet on Fashion-MNIST",
    "lenet-fast": "LeNet-class, shaped for onnxruntime: stride-2 convs, no pooling, no hidden dense layer",
    "lenet-fast-slim": "lenet-fast with a 4x4 stride-4 second conv, structured-pruned from 64 to 32 filters",
    "lenet-fast-deep": "lenet-fast with a third, 3x3 conv, structured-pruned from 64 to 48 filters",
    "crop-digits": "gapnet-24 trained on MNIST plus synthetic digit crops: the reader's one-digit classifier",
}
# The parameter-efficiency records (docs/over-parameterization.md, Records): their own table, as they were measured
# on another CPU than the models above. (dataset, at most this many non-zero parameters, at least this accuracy %)
RECORDS = {"gapnet-500": ("MNIST", 500, 98.0), "gapnet-1k": ("MNIST", 1_000, 99.0), "gapnet-2k": ("MNIST", 2_000, 99.0), "gapnet-8k": ("MNIST", 8_000, 99.4),
           "fashion-gapnet": ("Fashion-MNIST", 10_000, 91.0)}
FEATURE_NAMES = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_vnni": "AVX-512 VNNI", "avx_vnni": "AVX-VNNI",
                 "avx512_bf16": "AVX-512 BF16", "amx_tile": "AMX", "amx_int8": "AMX-INT8", "amx_bf16": "AMX-BF16"}


def load(relative: str) -> dict:
    return json.loads((ROOT / relative).read_text())


def features(names) -> str:
    names = names.split() if isinstance(names, str) else list(names)
    return ", ".join(FEATURE_NAMES.get(n, n) for n in names) + (" only" if names == ["avx2"] else "")


def cpu(machine: dict) -> str:
    """'Intel Xeon (2 cores; AVX2 only)' from a results file's machine block."""
    cores = f"{machine['cores']} cores; " if machine.get("cores") else ""
    return f"{machine['cpu']} ({cores}{features(machine.get('features', []))})"


def source(relative: str, machine: dict | None, extra: str = "") -> str:
    """The line each table starts with: its results file and where it was measured."""
    where = f"measured on {cpu(machine)}" if machine else "measured"
    libs = (machine or {}).get("libraries", {})
    ort = f", onnxruntime {libs['onnxruntime']}" if "onnxruntime" in libs else ""
    return f"Source: `{relative}`, {where}{ort}{extra}.\n"


def load_note(values) -> str:
    """'; load average 1.5-1.7 on its 2 cores' for files that recorded one (the machine may have been shared)."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    return f"; load average {lo:.1f}" + (f"-{hi:.1f}" if round(hi, 1) != round(lo, 1) else "") + " (1 min)"


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def pct(x) -> str:
    return f"{x:.2f}"


def num(x) -> str:
    return f"{round(x):,}"


def us(x) -> str:
    return f"{x:.1f}"


# ---- shipped models (exported/*.json) ----------------------------------------------------------------------------

def manifests() -> dict[str, dict]:
    """Every shipped manifest but the records: the ones named in SHIPPED in that order, then any others by name."""
    names = [n for n in SHIPPED if (EXPORTED / f"{n}.json").is_file()]
    names += sorted(p.stem for p in EXPORTED.glob("*.json") if p.stem not in SHIPPED and p.stem not in RECORDS)
    return {name: json.loads((EXPORTED / f"{name}.json").read_text()) for name in names}


def describe(name: str, model: str) -> str:
    """What a shipped model is: SHIPPED's words, else its registry entry's source."""
    if name in SHIPPED:
        return SHIPPED[name]
    sys.path.insert(0, str(ROOT))
    from edgedigits.training import models  # the registry alone: no TensorFlow

    return models.get_spec(model).source


def manifest_machine(found: dict[str, dict]) -> dict:
    """The CPU most shipped manifests were measured on (the others are marked in their rows)."""
    machines = [json.dumps(m["machine"].get("features")) for m in found.values()]
    common = max(machines, key=machines.count)  # ties: the first in order, so every build agrees
    return next(m["machine"] for m in found.values() if json.dumps(m["machine"].get("features")) == common)


def built_elsewhere(m: dict, common: dict) -> str:
    """' (built on AVX-512 VNNI ...)' for a manifest measured on other CPU features than the table's."""
    if m["machine"].get("features") == common.get("features"):
        return ""
    strongest = [f for f in ("avx2", "avx512f", "avx512_vnni", "amx_int8") if f in m["machine"]["features"]][-1:]
    return f" (measured on {FEATURE_NAMES.get(strongest[0], strongest[0]) if strongest else 'another CPU'})"


def t_models() -> str:
    found = manifests()
    common = manifest_machine(found)
    rows = []
    for name, m in found.items():
        s = m["stages"]
        dense = s.get("structured", s["fp32"])  # a structured-pruned recipe: the narrow dense model
        rows.append([f"`{name}`", describe(name, m["model"]) + built_elsewhere(m, common), m["dataset"], num(dense["parameters"]), pct(s["fp32"]["test_accuracy"]),
                     pct(s["int8"]["test_accuracy"]), num(s["int8"]["nonzero_parameters"]),
                     f"{s.get('pruned', s['fp32']).get('kernel_sparsity', 0.0) * 100:.1f}%",  # unpruned: 0
                     num(s["int8"]["gzip_bytes"]),
                     num(s["fp32"]["gzip_bytes"])])
    return source("exported/*.json", common, "; test accuracy on the full 10,000-image test set") + "\n" + table(
        ["recipe", "model", "dataset", "params", "dense fp32 %", "INT8 %", "non-zero params", "kernel sparsity",
         "INT8 gzip B", "dense gzip B"], rows)


def t_records() -> str:
    """The records, counted in their INT8 files (non-zero parameters with biases, batch norm folded; MACs; bytes)."""
    found = {name: json.loads((EXPORTED / f"{name}.json").read_text()) for name in RECORDS}
    rows, common = [], manifest_machine(found)
    for name, m in found.items():
        s, (dataset, budget, bar) = m["stages"], RECORDS[name]
        rows.append([f"`{name}`{built_elsewhere(m, common)}", f"{dataset}: >= {bar}% with <= {num(budget)}", f"`{m['model']}`",
                     pct(s["fp32"]["test_accuracy"]), pct(s["pruned"]["test_accuracy"]), pct(s["int8"]["test_accuracy"]),
                     num(s["int8"]["nonzero_parameters"]), num(s["int8"]["parameters"]), num(s["int8"]["macs"]),
                     num(s["int8"]["gzip_bytes"]), f"{(m['times_s']['train'] + m['times_s']['prune']) / 60:.0f} min"])
    return source("exported/*.json", common, "; test accuracy on the full 10,000-image test set") + "\n" + table(
        ["recipe", "bar", "model", "fp32 %", "pruned %", "INT8 %", "non-zero params", "all params", "MACs",
         "INT8 gzip B", "train + prune"], rows)


def t_headline() -> str:
    m = json.loads((EXPORTED / "lenet.json").read_text())
    s = m["stages"]
    return (f"lenet keeps {pct(s['int8']['test_accuracy'])}% test accuracy (dense fp32: {pct(s['fp32']['test_accuracy'])}%) "
            f"with {num(s['int8']['nonzero_parameters'])} of its {num(s['fp32']['parameters'])} parameters non-zero, in "
            f"a {num(s['int8']['gzip_bytes'])}-byte gzipped INT8 file, "
            f"{s['fp32']['gzip_bytes'] / s['int8']['gzip_bytes']:.1f}x smaller than the dense model's "
            f"{num(s['fp32']['gzip_bytes'])} bytes. Source: `exported/lenet.json`, measured on {cpu(m['machine'])}.\n")


def t_stages_lenet() -> str:
    m = json.loads((EXPORTED / "lenet.json").read_text())
    rows = [[stage, pct(s["test_accuracy"]), num(s["parameters"]), num(s["nonzero_parameters"]), num(s["macs"]),
             num(s["bytes"]), num(s["gzip_bytes"]), f"{s['time_s']:.1f}"] for stage, s in m["stages"].items()]
    return source("exported/lenet.json", m["machine"]) + "\n```\n" + text_table(
        ["stage", "test acc %", "params", "non-zero", "MACs", "bytes", "gzip bytes", "time s"], rows) + "```\n"


def t_own_data() -> str:
    d = load("benchmarks/results/own-data.json")
    m = d["manifest"]
    rows = [[stage, pct(s["test_accuracy"]), num(s["parameters"]), num(s["nonzero_parameters"]), num(s["macs"]),
             num(s["bytes"]), num(s["gzip_bytes"]), f"{s['time_s']:.1f}"] for stage, s in m["stages"].items()]
    loads = [*d["load_average_before"], *d["load_average_after"]]
    extra = (f"; the whole run {d['wall_s'] / 60:.1f} min, load average {min(loads):.1f}-{max(loads):.1f} on its "
             f"{d['machine']['cores']} cores; {num(m['test_images'])} held-out test rows; "
             f"classify: {num(d['classify']['rows'])} rows of testX.csv in {d['classify']['wall_s']:.1f} s")
    return source("benchmarks/results/own-data.json", d["machine"], extra) + "\n```\n" + text_table(
        ["stage", "test acc %", "params", "non-zero", "MACs", "bytes", "gzip bytes", "time s"], rows) + "```\n"


def text_table(header, rows) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join(fmt(r) for r in [header, *rows]) + "\n"


# ---- benchmarks ---------------------------------------------------------------------------------------------------

def t_bench() -> str:
    d = load("benchmarks/results/bench.json")
    rows = [[r["model"], r["variant"], r["target"], pct(r["accuracy"]), num(r["gzip_bytes"]), us(r["p50_us"]),
             us(r["p90_us"]), num(r["throughput_ips"])]
            for r in sorted(d["rows"], key=lambda r: (r["model"], r["variant"] != "pruned", r["target"]))]
    return source("benchmarks/results/bench.json", d["machine"], "; batch-1 latency with one thread, measured "
                  "round-robin across all files; throughput at batch 256 with all cores") + "\n" + table(
        ["model", "file", "target", "test acc %", "gzip B", "p50 us", "p90 us", "images/s (b256)"], rows)


def _peers(relative: str) -> str:
    """Ratios to LiteRT's INT8 file when the run has one (engines called their fastest way), else to the shipped file."""
    d = load(relative)
    e = d["engines"]
    ref_name = "litert int8 (own PTQ)" if "litert int8 (own PTQ)" in e else "ort-int8 (shipped)"
    ref, label = e[ref_name], "LiteRT INT8" if ref_name.startswith("litert") else "shipped"
    rows = [[name, pct(r["accuracy"]), num(r["gzip_bytes"]) if "gzip_bytes" in r else "-", us(r["p50_us"]),
             us(r["p90_us"]), num(r["throughput_ips"]), f"{r['p50_us'] / ref['p50_us']:.2f}x",
             f"{r['throughput_ips'] / ref['throughput_ips']:.2f}x"] for name, r in e.items()]
    load_avg = d.get("load_average")
    if isinstance(load_avg, dict):  # (1, 5, 15 min) at the start and the end
        load_avg = [load_avg["start"][0], load_avg["end"][0]]
    hows = {}
    for name, r in e.items():
        if r.get("how"):
            hows.setdefault(r["how"], []).append(name)
    called = "".join(f"- {', '.join(names)}: {how}\n" for how, names in hows.items())
    return source(relative, d["machine"], load_note(load_avg) + "; " + d["settings"]) + "\n" + table(
        ["engine", "test acc %", "gzip B", "p50 us", "p90 us", "images/s (b256)", f"p50 / {label}",
         f"images/s / {label}"], rows) + (f"\nHow each engine was called:\n\n{called}" if called else "")


def t_peers_avx2() -> str:
    return _peers("benchmarks/results/peers-lenet.json")


def t_peers_avx512() -> str:
    return _peers("benchmarks/results/avx512-vnni/peers-lenet.json")


def t_peers_amx() -> str:
    return _peers("benchmarks/results/amx/peers-lenet.json")


def t_call_overhead() -> str:
    d = load("benchmarks/results/call-overhead.json")
    rows = [["identity model", "InferenceSession.run (floor)", us(d["floor_p50_us"]), "-"]]
    for model, calls in d["models"].items():
        bare = calls["InferenceSession.run"]["p50_us"]
        for call, r in calls.items():
            if isinstance(r, dict):
                call = call.replace("previous path (astype/255 + run)", "astype/255, then InferenceSession.run")
                rows.append([model, call, us(r["p50_us"]), f"+{r['p50_us'] - bare:.1f}"])
    return source("benchmarks/results/call-overhead.json", d["machine"],
                  f"; batch 1, one thread, {d['runs']:,} calls per row interleaved") + "\n" + table(
        ["model", "call", "p50 us", "over a bare run us"], rows)


# ---- quantization -------------------------------------------------------------------------------------------------

def _variants(relative: str) -> str:
    d = load(relative)
    models = d["models"]
    fp32 = models["fp32 (pruned)"]
    rows = []
    for name, r in models.items():
        label = f"**{name}** (the rule's pick among all)" if name == d.get("pick") else name
        rows.append([label, pct(r["validation_accuracy"]), pct(r["test_accuracy"]), us(r["p50_us"]),
                     f"{r['p50_us'] / fp32['p50_us']:.2f}x", num(r["images_per_cpu_s_1_thread"]),
                     f"{r['images_per_cpu_s_1_thread'] / fp32['images_per_cpu_s_1_thread']:.2f}x", num(r["gzip_bytes"])])
    return source(relative, d["machine"], load_note(d.get("load_average")) + f"; lenet, batch-1 p50 with one thread "
                  f"({d['runs']:,} runs per row, interleaved); batch-256 images per CPU-second of one thread") + "\n" + table(
        ["variant", "val acc %", "test acc %", "p50 us", "p50 / fp32", "images/CPU-s", "images/CPU-s / fp32",
         "gzip B"], rows)


def t_int8_variants_avx2() -> str:
    return _variants("benchmarks/results/int8-variants-lenet.json")


def t_int8_variants_avx512() -> str:
    return _variants("benchmarks/results/avx512-vnni/int8-variants-lenet.json")


def t_int8_by_cpu() -> str:
    """The one-glance answer: each pipeline variant's speed relative to fp32, on each CPU measured."""
    files = {"AVX2": "benchmarks/results/int8-variants-lenet.json",
             "AVX-512 VNNI": "benchmarks/results/avx512-vnni/int8-variants-lenet.json"}
    found = {k: load(v) for k, v in files.items() if (ROOT / v).is_file()}
    names = [n for n in next(iter(found.values()))["models"] if not n.startswith("ref:")]
    header = ["variant"] + [f"{k}: p50 / fp32" for k in found] + [f"{k}: test acc %" for k in found]
    rows = []
    for n in names:
        row = [n]
        row += [f"{d['models'][n]['p50_us'] / d['models']['fp32 (pruned)']['p50_us']:.2f}x" if n in d["models"] else "-"
                for d in found.values()]
        row += [pct(d["models"][n]["test_accuracy"]) if n in d["models"] else "-" for d in found.values()]
        rows.append(row)
    lines = "".join(source(files[k], d["machine"], load_note(d.get("load_average"))) for k, d in found.items())
    return lines.replace(".\nSource", ";\nsource") + "\n" + table(header, rows)


def t_int8_bars() -> str:
    d = load("benchmarks/results/int8-bars-lenet.json")
    rows = [[name, pct(r["test_accuracy"]), us(r["p50_us"]), us(r["p90_us"]), num(r["images_per_s"]),
             num(r["images_per_cpu_s_1_thread"]), num(r["gzip_bytes"])] for name, r in d["results"].items()]
    return source("benchmarks/results/int8-bars-lenet.json", d["machine"], "; batch 1 with one thread, interleaved; "
                  "batch 256 with all cores") + "\n" + table(
        ["model", "test acc %", "p50 us", "p90 us", "images/s (b256)", "images/CPU-s (1 thread)", "gzip B"], rows)


def t_int8_isa() -> str:
    d = load("benchmarks/results/int8-isa.json")
    sets = d["measured"]
    rows = []
    for model, stages in d["recorded"].items():
        for stage, rec in stages.items():
            here = [sets[k]["models"].get(model, {}).get(stage) for k in sets]  # a model shipped after a CPU's run: -
            seen = [h for h in here if h is not None]
            rows.append([model, stage, f"{pct(rec['test_accuracy'])} ({features(rec['measured_on'])})",
                         *(pct(h) if h is not None else "-" for h in here),
                         f"{max(abs(h - rec['test_accuracy']) for h in seen):.2f}"])
    cpus = "; ".join(f"{m['cpu']} with {features(k)}, onnxruntime {m['onnxruntime']}" for k, m in sets.items())
    return (f"Source: `benchmarks/results/int8-isa.json`; built: as each manifest records; re-scored on {cpus}.\n\n"
            + table(["model", "file", "built: test acc %", *(f"{features(k)}: test acc %" for k in sets),
                     "largest difference"], rows))


# ---- over-parameterization ----------------------------------------------------------------------------------------

def t_sparsity() -> str:
    d = load("benchmarks/results/sparsity-lenet/sparsity.json")
    rows = d["rows"]
    dense = next(r for r in rows if r["target_sparsity"] == 0)["fp32_test_accuracy"]
    out = [[f"{r['target_sparsity'] * 100:.0f}%", f"{r['kernel_sparsity'] * 100:.1f}%", num(r["nonzero_parameters"]),
            pct(r["fp32_test_accuracy"]), pct(r["int8_test_accuracy"]), f"{r['int8_test_accuracy'] - dense:+.2f}",
            num(r["int8_gzip_bytes"])] for r in sorted(rows, key=lambda r: r["target_sparsity"])]
    return source("benchmarks/results/sparsity-lenet/sparsity.json", d.get("machine")) + "\n" + table(
        ["target", "kernel sparsity", "non-zero params", "pruned fp32 %", "INT8 %", "INT8 vs dense", "INT8 gzip B"], out)


def t_structured() -> str:
    d = load("benchmarks/results/structured-lenet.json")
    base = d["models"][0]
    rows = [[r["model"], num(r["macs"]), pct(r["test_accuracy"]), us(r["p50_us"]), f"{base['p50_us'] / r['p50_us']:.2f}x",
             num(r["images_per_s"]), f"{r['images_per_s'] / base['images_per_s']:.2f}x", num(r["gzip_bytes"])]
            for r in d["models"]]
    return source("benchmarks/results/structured-lenet.json", d["machine"], load_note(d.get("load_average"))
                  + "; batch 1 with one thread, batch 256 with all cores, interleaved") + "\n" + table(
        ["model", "MACs", "test acc %", "p50 us", "speed vs dense (b1)", "images/s (b256)", "vs dense (b256)",
         "gzip B"], rows)


def _compare(dataset: str) -> str:
    relative = f"benchmarks/results/compare/compare-{dataset}.json"
    d = load(relative)
    rows = [[r["name"], num(r["parameters"]), num(r["nonzero_parameters"]), num(r["macs"]), pct(r["dense_test_accuracy"]),
             pct(r["pruned_test_accuracy"]), pct(r["int8_test_accuracy"]), f"{r['int8_log_loss']:.4f}",
             f"{r['train_time_s']:.0f}", num(r["int8_gzip_bytes"]), f"{r['pruned_p50_us']:.0f}", f"{r['int8_p50_us']:.0f}"]
            for r in d["rows"]]
    return source(relative, d["machine"], "; batch-1 p50 with one thread, round-robin over all files") + "\n" + table(
        ["model", "params", "non-zero", "MACs", "dense %", "pruned %", "INT8 %", "INT8 log loss", "train s",
         "INT8 gzip B", "pruned p50 us", "INT8 p50 us"], rows)


def t_compare_mnist() -> str:
    return _compare("mnist")


def t_compare_fashion_mnist() -> str:
    return _compare("fashion-mnist")


def t_optimizers() -> str:
    d = load("benchmarks/results/optimizers-lenet/optimizers.json")
    rows = sorted(d["rows"], key=lambda r: -r["best_val_accuracy"])
    out = [[r["id"].removeprefix("optimizer-"), f"{r['params']['overrides'].get('train.learning_rate', '-'):g}",
            pct(r["final_val_accuracy"]), f"{pct(r['best_val_accuracy'])} ({r['best_epoch']})",
            r["epochs_to_target"] or "not reached", f"{r['train_time_s']:.0f}", pct(r["test_accuracy"])] for r in rows]
    return source("benchmarks/results/optimizers-lenet/optimizers.json", d.get("machine"),
                  f"; lenet, {d['epochs']} epochs each, same seed and data order") + "\n" + table(
        ["optimizer", "learning rate", "final val %", "best val % (epoch)", "epochs to 98.5% val", "train s",
         "test % (ONNX)"], out)


def t_grid() -> str:
    d = load("benchmarks/results/grid-lenet/grid.json")
    keys = list(d["cells"][0]["cell"])
    rows = [[*(c["cell"][k] for k in keys), pct(c["mean_val_accuracy"]), pct(c["std_val_accuracy"]), c["folds"],
             f"{c['mean_train_time_s']:.0f}"] for c in d["cells"]]
    best = ", ".join(f"{k}={v}" for k, v in d["best"]["cell"].items())
    return source("benchmarks/results/grid-lenet/grid.json", d.get("machine"), f"; {d['folds']}-fold cross-validation "
                  "on the training images") + "\n" + table([*keys, "mean val %", "std", "folds", "mean train s"], rows) + (
        f"\nBest cell: {best} ({pct(d['best']['mean_val_accuracy'])}% +/- {pct(d['best']['std_val_accuracy'])}).\n")


# ---- webcam -------------------------------------------------------------------------------------------------------

def t_webcam_fps() -> str:
    d = load("benchmarks/results/webcam_fps.json")
    m = d["machine"]
    rows = [[r["workload"], r["frames"], f"{r['digits_per_frame']:.1f}", f"{r['frames_per_s']:.0f}", f"{r['p50_ms']:.1f}",
             f"{r['p99_ms']:.1f}", f"{r['frames_per_s_with_decode']:.0f}", f"{r['digit_accuracy']:.2f}%",
             f"{r['frame_exact']:.2f}%"] for r in d["results"]]
    extra = (f"{load_note(m['load_average_before'][:1] + m['load_average_after'][:1])}; one core ({m['threads']}), "
             f"{m['size']} frames decoded in memory, "
             + ("the shipped page reader (number finder and strip reader) with the number reader's second opinion"
                if m.get("touching", "read") == "read"
                else f"the shipped INT8 lenet, --touching {m['touching']}")
             + (f", each frame timed {m['best_of']} times and the fastest kept" if m.get("best_of", 1) > 1 else ""))
    return source("benchmarks/results/webcam_fps.json", {**m, "libraries": {"onnxruntime": m["onnxruntime"]}},
                  extra) + "\n" + table(["workload", "frames", "digits per frame", "frames/s", "p50 ms", "p99 ms",
                                         "frames/s with MJPG decode", "digits right", "frames exactly right"], rows)


def t_real_handwriting() -> str:
    page = load("benchmarks/results/real-handwriting.json")
    number = {r["set"]: r for r in load("benchmarks/results/real-handwriting-number-reader.json")["results"]}
    m = page["machine"]
    rows = [[r["set"], r["like"], r["images"], pct(r["image_accuracy"]), pct(r["digit_accuracy"]),
             f"{r['ms_per_image']:.1f}", pct(number[r["set"]]["image_accuracy"])] for r in page["results"]]
    return source("benchmarks/results/real-handwriting.json", m, f"{load_note(m['load_average'][:1])}; the number "
                  "reader's column from `benchmarks/results/real-handwriting-number-reader.json`") + "\n" + table(
        ["set", "like", "images", "read right %", "digits right %", "ms per image", "number reader: read right %"],
        rows)


def t_web_reader() -> str:
    d = load("benchmarks/results/web-reader.json")
    m, r = d["machine"], d["results"]
    b, n = r["browser"], r["native"]
    rows = [[f"browser: {m['chromium']} headless, onnxruntime-web {m['onnxruntime_web']} wasm", f"{b['p50_ms']:.2f}",
             f"{b['p90_ms']:.2f}", f"{b['find_p50_ms']:.2f}", f"{b['read_p50_ms']:.2f}"],
            [f"native: Python, OpenCV {m['opencv']}, onnxruntime {m['libraries']['onnxruntime']}", f"{n['p50_ms']:.2f}",
             f"{n['p90_ms']:.2f}", f"{n['find_p50_ms']:.2f}", f"{n['read_p50_ms']:.2f}"]]
    extra = (f"{load_note(m['load_average'][:1] + m['load_average_after'][:1])}; {r['frames']} camera frames "
             f"({r['digits']} digits), each read {r['repeat']} times, `{r['files']['finder']}` and "
             f"`{r['files']['strips']}`, {r['threads']} thread{'s' if r['threads'] > 1 else ''}; the same text on "
             f"{r['same_text']} of {r['frames']} frames; browser / native p50 {r['browser_over_native']:.1f}x")
    return source("benchmarks/results/web-reader.json", {**m, "libraries": {}}, extra) + "\n" + table(
        ["reader", "p50 ms per frame", "p90 ms", "finding p50 ms", "reading p50 ms"], rows)


# ---- recipes (edgedigits/training/config.py) ----------------------------------------------------------------------

# What each key means where config.py's own comment does not say it well enough for a user.
KEY_NOTES = {
    "model": "a registry name (`edgedigits models`), a builder in your own file (`my_models.py:build`) or a saved "
             "`.keras` model ([own-data.md](own-data.md))",
    "dataset": "`mnist`, `fashion-mnist`, the path of a labelled `.csv`, an image folder or an `.npz`, or a "
               "`[dataset]` table (below); decides the number of classes",
    "start": "the first stage: `auto` (train; a saved `.keras` model is pruned as it is), `train` or `prune`",
    "validation": "images held out of the training set for early stopping and model selection: a count, or a "
                  "fraction of the training images (0.1)",
    "refit": "train and prune on every training image, validation included, for the recipe's epochs, keeping the "
             "last epoch: for settings already chosen on validation by a run without it (its validation scores then "
             "only check export and INT8; [below](#choosing-on-validation-then-refitting))",
    "seed": "seeds weight initialization, the validation split and data order",
    "optimizer": "sgd, adam, adamax, nadam, adadelta, adagrad or rmsprop",
    "learning_rate": "initial learning rate",
    "batch_size": "images per step",
    "epochs": "maximum epochs (training: early stopping may end sooner)",
    "opset": "ONNX opset of the export (17 or newer)",
    "parity_images": "test images on which the ONNX export is compared with the Keras model",
    "parity_tolerance": "largest allowed absolute difference of any probability (exit 3 beyond it)",
    "rotation": "random rotation, +/- degrees",
    "zoom": "random zoom, +/- fraction",
    "shift": "random shift, +/- fraction of width and height",
    "reduce_lr_patience": "epochs without val_loss improvement before the learning rate is multiplied by the factor",
    "min_learning_rate": "ReduceLROnPlateau's floor",
    "widths": "kept filters/units per layer: a count, or a fraction of the trained width (e.g. {conv1 = 4, dense1 = 0.8}); "
              "layers not named keep their width; the classifier cannot shrink",
    "per_channel": "one scale per output channel of each weight (true) or per tensor",
    "variants": "INT8 variants to build and score (see docs/quantization.md)",
    "select": "`fastest`: the lowest batch-1 p50 among variants within `max_accuracy_drop` on validation; "
              "`accurate`: the best validation accuracy",
}


def _comments(path: Path) -> dict[tuple[str, str], str]:
    """(class, field) -> the trailing comment on that field's line in config.py."""
    out, cls = {}, None
    lines = path.read_text().splitlines()
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if tok.type == tokenize.NAME and tok.string == "class" and tok.start[1] == 0:
            cls = lines[tok.start[0] - 1].split()[1].split("(")[0].rstrip(":")
        if tok.type == tokenize.COMMENT and cls:
            code = lines[tok.start[0] - 1][: tok.start[1]].strip()
            m = re.match(r"(\w+)\s*:", code)
            if m:
                out[(cls, m.group(1))] = tok.string.lstrip("# ").strip()
    return out


def t_recipe_keys() -> str:
    sys.path.insert(0, str(ROOT))
    from edgedigits.training import config

    comments = {**_comments(ROOT / "edgedigits" / "training" / "config.py"),
                **_comments(ROOT / "edgedigits" / "runtime" / "datasets" / "files.py")}  # [dataset]: FileSource
    rows = []

    def walk(cls, prefix):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if not prefix and f.name in ("name", "path", "sha256", "tables"):
                continue  # set from the file, not written in it; `tables` holds added stages' own tables
            kind = hints[f.name]
            if dataclasses.is_dataclass(kind):
                walk(kind, f"{prefix}{f.name}.")
                continue
            tables = [k for k in typing.get_args(kind) if dataclasses.is_dataclass(k)]  # a value or a table
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            # the field's own comment (in its class or the class it inherits it from), else the note above
            note = next((comments[(k.__name__, f.name)] for k in cls.__mro__ if (k.__name__, f.name) in comments),
                        KEY_NOTES.get(f.name))
            if not note:
                raise SystemExit(f"docs/build.py: recipe key {prefix}{f.name} has no description: add a comment in "
                                 "config.py or an entry in KEY_NOTES")
            shown = json.dumps(default) if not isinstance(default, dict) else "{}"
            names = " or ".join("table" if dataclasses.is_dataclass(k) else k.__name__
                                for k in (typing.get_args(kind) or (kind,)))
            rows.append([f"`{prefix}{f.name}`", names, f"`{shown}`", note.replace("|", "/")])
            for table_kind in tables:
                walk(table_kind, f"{prefix}{f.name}.")

    walk(config.Pipeline, "")
    return "Source: `edgedigits/training/config.py` (the dataclasses that read a recipe; defaults are theirs).\n\n" + table(
        ["key", "type", "default", "meaning"], rows)


def t_int8_crossover() -> str:
    d = load("benchmarks/results/int8-crossover.json")
    rows = []
    for name, m in sorted(d["models"].items(), key=lambda kv: kv[1]["macs"]):
        f = m["figures"]
        fp32, shipped, u8s8 = f["fp32"], f.get("shipped"), f["u8s8"]
        ratio = lambda a, key: f"{a[key] / fp32[key]:.2f}x"  # noqa: E731
        b = m.get("built_on") or {}
        rows.append([f"`{name}`" + (" (random weights)" if m.get("weights") else ""), num(m["macs"]), us(fp32["p50_us"]),
                     f"{m['shipped_variant']}: {ratio(shipped, 'p50_us')}, {ratio(shipped, 'images_per_s')}" if shipped else "-",
                     f"{ratio(u8s8, 'p50_us')}, {ratio(u8s8, 'images_per_s')}",
                     f"{b['shipped_p50']}x, {b['u8s8_p50']}x ({features(b['features'])})" if b else "-"])
    load_avg = [d["load_average"]["start"][0], d["load_average"]["end"][0]]
    return source("benchmarks/results/int8-crossover.json", d["machine"], load_note(load_avg) + "; bench's ort-cpu "
                  "target, batch 1 with one thread interleaved across all files, batch 256 with all cores round-robin") + "\n" + table(
        ["model", "MACs", "fp32 p50 us", "shipped INT8 / fp32: p50, images/s", "all-ops u8s8 / fp32: p50, images/s",
         "batch-1 INT8 / fp32 where built: shipped, u8s8"], rows)


def t_graph_shapes() -> str:
    d = load("benchmarks/results/graph-shapes.json")
    ref = next((g for n, g in d["graphs"].items() if n.startswith("LiteRT INT8")), None)
    rows = [[name, num(g["macs"]), g["nodes"] if g["nodes"] is not None else "-", f"{g['p50_us']:.2f}",
             f"{g['p50_us'] / ref['p50_us']:.2f}x" if ref else "-", ", ".join(g["ops"]) or "-"] for name, g in d["graphs"].items()]
    load_avg = [d["load_average"]["start"][0], d["load_average"]["end"][0]]
    return source("benchmarks/results/graph-shapes.json", d["machine"], load_note(load_avg) + "; random weights, "
                  "batch 1, one thread, interleaved; onnxruntime through IOBinding") + "\n" + table(
        ["graph", "MACs", "nodes run", "p50 us", "p50 / LiteRT INT8 lenet", "ops after onnxruntime's optimizations"], rows)


# ---- reproducibility (benchmarks/results/reproducibility.json) ---------------------------------------------------

PIN_WORDS = {"unpinned": "TensorFlow's defaults: native oneDNN kernels, one thread per core",
             "threads-1": "unpinned, one TensorFlow thread", "isa": "unpinned, oneDNN capped at AVX2",
             "determinism": "unpinned, op determinism on", "onednn-off": "unpinned, oneDNN off (Eigen only)",
             "pinned": "the default: AVX2 cap, 2 threads, op determinism"}


def _runs_source(d: dict, what: str) -> str:
    loads = [x for r in d["runs"] for x in (r["load_before"], r["load_after"])]
    return source("benchmarks/results/reproducibility.json", d, load_note(loads) + f"; recipe `{d['recipe']}`, {what}")


def t_reproducibility_cost() -> str:
    d = load("benchmarks/results/reproducibility.json")["cost"]
    by = {}
    for r in d["runs"]:
        by.setdefault(r["config"], []).append(r)
    median = lambda runs, k: statistics.median(r["s_per_epoch"][k] for r in runs)  # noqa: E731
    base = by["unpinned"]
    rows = []
    for config, runs in by.items():
        ratio = (median(runs, "train") + median(runs, "prune")) / (median(base, "train") + median(base, "prune"))
        rows.append([f"`{config}`", PIN_WORDS[config], len(runs), f"{median(runs, 'train'):.1f}",
                     f"{median(runs, 'prune'):.1f}", f"{ratio:.2f}x",
                     ", ".join(f"{r['times_s']['train'] + r['times_s']['prune']:.0f}" for r in runs),
                     " / ".join(pct(s["test_accuracy"]) for s in runs[0]["stages"].values())])
    rounds = max(len(r) for r in by.values())
    how = (f"{rounds} rounds, the configurations interleaved in each" if rounds > 1 else
           "one run each, one after another on a shared machine (the load varied: read the times as rough)")
    return _runs_source(d, f"{how}; early stopping ends each run at its own epoch, so the time per epoch compares") + "\n" + table(
        ["run", "pins", "runs", "train s/epoch", "prune s/epoch", "per epoch / unpinned", "train + prune s, each run",
         "test acc % fp32 / pruned / INT8"], rows)


def t_reproducibility_matrix() -> str:
    d = load("benchmarks/results/reproducibility.json")["matrix"]
    sets, rows = [], []
    for i, r in enumerate(d["runs"], 1):
        key = tuple(s["sha256"] for s in r["stages"].values())
        sets += [key] if key not in sets else []
        strongest = [f for f in ("avx2", "avx512f", "avx512_vnni") if f in d["features"]][-1:]
        where = r["emulated"] or f"{d['cpu']}, {FEATURE_NAMES.get(strongest[0], strongest[0]) if strongest else 'native'}"
        rows.append([i, f"`{r['config']}`", where, *(s["sha256"][:10] for s in r["stages"].values()),
                     "ABCDEFGHIJ"[sets.index(key)]])
    return _runs_source(d, "sha256 of each stage's file (first 10 hex digits)") + "\n" + table(
        ["run", "pins", "CPU", "fp32", "pruned", "INT8", "same files as"], rows)


def t_reproducibility_answers() -> str:
    d = load("benchmarks/results/reproducibility.json")["answers"]
    native, emulated = d["runs"][0]["variants"], d["runs"][-1]["variants"]
    rows = [[f"`{name}`", pct(v["test_accuracy"]), pct(emulated[name]["test_accuracy"]),
             "yes" if v["file_sha256"] == emulated[name]["file_sha256"] else "no",
             "yes" if v["probabilities_sha256"] == emulated[name]["probabilities_sha256"] else "no"]
            for name, v in native.items()]
    return source("benchmarks/results/reproducibility.json", d, f"; `{d['model']}` quantized and scored natively and "
                  f"under {d['runs'][-1]['emulated']}") + "\n" + table(
        ["file", "test acc % (native)", "test acc % (emulated AVX2)", "same file", "same probabilities, bit for bit"],
        rows)


TABLES = {name.removeprefix("t_").replace("_", "-"): fn for name, fn in globals().items() if name.startswith("t_")}


def render(text: str, where: str = "") -> str:
    """`text` with every table block rewritten from its source."""
    def replace(m):
        name = m.group("name")
        if name not in TABLES:
            raise SystemExit(f"docs/build.py: {where}: unknown table '{name}' (known: {', '.join(sorted(TABLES))})")
        return m.group(1) + TABLES[name]() + m.group(4)
    return BLOCK.sub(replace, text)


def figure(path: Path = FIGURE) -> None:
    """Accuracy against gzipped size: every shipped model, records included (dense fp32 -> INT8), with lenet's
    sparsity sweep; one panel per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    found = {**manifests(), **{n: json.loads((EXPORTED / f"{n}.json").read_text()) for n in RECORDS
                               if (EXPORTED / f"{n}.json").is_file()}}
    datasets = [d for d in ("mnist", "fashion-mnist") if any(m["dataset"] == d for m in found.values())]
    common = manifest_machine(found)
    sweep = sorted(load("benchmarks/results/sparsity-lenet/sparsity.json")["rows"], key=lambda r: r["target_sparsity"])
    fig, axes = plt.subplots(1, len(datasets), figsize=(12, 6.2), dpi=110, squeeze=False,
                             gridspec_kw={"width_ratios": [3, 1][: len(datasets)]})
    for ax, dataset in zip(axes[0], datasets):
        shown = {k: v for k, v in found.items() if v["dataset"] == dataset}
        if dataset == "mnist":
            ax.plot([r["int8_gzip_bytes"] / 1000 for r in sweep], [r["int8_test_accuracy"] for r in sweep], "-o",
                    color="0.55", ms=4, label="lenet INT8 at 0-98% sparsity (sweep)")
            for r in sweep:
                ax.annotate(f"{r['target_sparsity'] * 100:.0f}%", (r["int8_gzip_bytes"] / 1000, r["int8_test_accuracy"]),
                            textcoords="offset points", xytext=(-5, 2), ha="right", fontsize=7, color="0.4")
        accuracies = []
        for i, (name, m) in enumerate(shown.items()):
            s, colour, marker = m["stages"], f"C{i % 10}", "sD^v<>"[i // 10 % 6]
            x0, y0 = s["fp32"]["gzip_bytes"] / 1000, s["fp32"]["test_accuracy"]
            x1, y1 = s["int8"]["gzip_bytes"] / 1000, s["int8"]["test_accuracy"]
            accuracies += [y0, y1]
            ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "color": colour, "alpha": 0.5})
            ax.plot([x0], [y0], "o", mfc="none", color=colour)
            ax.plot([x1], [y1], marker, color=colour, label=f"{name} ({num(s['int8']['nonzero_parameters'])} non-zero)"
                    f"{built_elsewhere(m, common).replace('measured on ', '')}")
            ax.annotate(name, (x1, y1), textcoords="offset points", xytext=(0, -10), ha="center", fontsize=6,
                        color=colour)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("gzipped .onnx size (KB, log scale)")
        ax.set_ylabel(f"{'MNIST' if dataset == 'mnist' else 'Fashion-MNIST'} test accuracy (%)")
        ax.set_ylim(min(accuracies + ([97.9] if dataset == "mnist" else [])) - 0.15, max(accuracies) + 0.15)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3 if dataset == "mnist" else 1,
                  frameon=False)
    fig.suptitle(f"Accuracy vs download size: dense fp32 (circle) -> INT8 (filled); measured on "
                 f"{cpu(common)} unless marked (the CPU features a file was measured on)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if a document is out of date")
    parser.add_argument("--no-figure", action="store_true", help="tables only (no matplotlib needed)")
    args = parser.parse_args(argv)
    stale = []
    for doc in DOCUMENTS:
        text = doc.read_text()
        new = render(text, doc.name)
        if new != text:
            stale.append(doc.relative_to(ROOT))
            if not args.check:
                doc.write_text(new)
    if args.check:
        if stale:
            print(f"out of date: {', '.join(map(str, stale))} (run `python docs/build.py`)", file=sys.stderr)
        return 1 if stale else 0
    if not args.no_figure:
        figure()
    print(f"rewrote {', '.join(map(str, stale)) or 'nothing (all up to date)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
