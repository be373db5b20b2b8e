"""Accuracy against what a model costs: the Pareto front of every shipped model in weights, bytes and batch-1 time,
the lenet sparsity sweep, the peer engines and published reference points.

    python benchmarks/pareto.py [--exported exported] [--sweep benchmarks/results/sparsity-lenet/sparsity.json]
                                [--peers benchmarks/results/amx/peers-lenet.json] [--out benchmarks/results]

Writes pareto.json, pareto.md and pareto.png. Every shipped point is read from its INT8 ONNX file: test accuracy
through onnxruntime on the full test set (as its manifest records it), non-zero and all parameters counted in the
graph (kernels and biases; batch norm is folded into the convolutions by the export), multiply-accumulates and
gzipped bytes. The sweep's points are its recorded INT8 figures. Reference points are dense models as their sources
report them: no INT8 file, so they appear on the weights panel only. The time panel takes every batch-1 p50 from one
benchmarks/peers.py run (one thread, all engines interleaved round-robin in one process): each shipped model's fp32
and INT8 files through onnxruntime (`make peers` lists them all) beside LiteRT's, OpenVINO's and Keras' lenet.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgedigits.runtime.model import artifacts
from edgedigits.training import graphstats

# (label, dataset, parameters, test accuracy %): published figures for dense, unpruned models; the two smallest
# chose their model on the test set (early stopping, or pruning kept while test accuracy held)
REFERENCES = [
    ("BN + global-average-pooling CNN (about 7,000 params)", "mnist", 7_000, 99.4),
    ("BN + global-average-pooling CNN (about 8,900 params)", "mnist", 8_900, 99.4),
    ("InstanceNorm CNN (1,936 params)", "mnist", 1_936, 99.10),
    ("small CNN, selected on test (697 params)", "mnist", 697, 99.03),
    ("neural golfing, selected on test (575 params)", "mnist", 575, 98.0),
    ("LeNet-5 of a Keras MNIST course", "mnist", 44_426, 98.38),
    ("'LeNet-5 v2' of a Keras MNIST course", "mnist", 276_438, 99.50),
]
FASHION_BEST_CNN = 90.68  # no parameter count published: drawn as a line
# The bars: (dataset, at most this many non-zero parameters, at least this accuracy)
BARS = [("mnist", 300, 98.0), ("mnist", 500, 98.0), ("mnist", 1_000, 99.0), ("mnist", 2_000, 99.0),
        ("mnist", 8_000, 99.4), ("fashion-mnist", 10_000, 91.0), ("fashion-mnist", 10_000, 92.0)]
PEERS = ROOT / "benchmarks/results/amx/peers-lenet.json"  # a run with every shipped file (`make peers`)


def shipped_points(exported: Path) -> list[dict]:
    points = []
    for manifest_path in sorted(exported.glob("*.json")):
        m = json.loads(manifest_path.read_text())
        int8 = exported / m["files"]["int8"]
        counts = graphstats.parameter_stats(int8)
        stats = artifacts.file_stats(int8)
        points.append({
            "name": m["name"], "model": m["model"], "dataset": m["dataset"], "kind": "shipped",
            "test_accuracy": round(m["stages"]["int8"]["test_accuracy"], 2),
            "fp32_test_accuracy": round(m["stages"]["fp32"]["test_accuracy"], 2),
            "pruned_test_accuracy": round(m["stages"].get("pruned", m["stages"]["fp32"])["test_accuracy"], 2),
            "nonzero_parameters": counts["nonzero_parameters"], "parameters": counts["parameters"],
            "macs": graphstats.macs(int8), "gzip_bytes": stats["gzip_bytes"],
            "measured_on": m["stages"]["int8"].get("measured_on"),
        })
    return points


def timed_points(points: list[dict], peers: Path) -> list[dict]:
    """Batch-1 p50 of each shipped model's fp32 and INT8 files and of the peer engines, from one peers run; the
    shipped files' accuracies are their manifests' (a peers run scores on the test set of its own pipeline)."""
    if not peers.is_file():
        return []
    run = json.loads(peers.read_text())
    engines, pipeline = run["engines"], run.get("pipeline", "lenet")
    out = []
    for p in (p for p in points if p["kind"] == "shipped"):
        for stage, keys in (("pruned", (f"ort {p['name']}", "ort pruned" if p["name"] == pipeline else "")),
                            ("int8", (f"ort {p['name']}.int8", "ort-int8 (shipped)" if p["name"] == pipeline else ""))):
            found = next((engines[k] for k in keys if k in engines), None)
            if found:
                acc = p["test_accuracy"] if stage == "int8" else p["pruned_test_accuracy"]
                out.append({"name": p["name"], "file": stage, "dataset": p["dataset"], "kind": "shipped",
                            "test_accuracy": acc, "p50_us": round(found["p50_us"], 2)})
    for name, e in engines.items():
        if not name.startswith("ort"):  # LiteRT, OpenVINO and Keras running lenet
            out.append({"name": name, "file": "", "dataset": "mnist", "kind": "peer", "test_accuracy": e["accuracy"],
                        "p50_us": round(e["p50_us"], 2)})
    return out


def sweep_points(sweep: Path) -> list[dict]:
    if not sweep.is_file():
        return []
    rows = json.loads(sweep.read_text())["rows"]
    return [{"name": f"lenet {r['target_sparsity']:.0%} pruned", "model": "lenet", "dataset": "mnist", "kind": "sweep",
             "test_accuracy": round(r["int8_test_accuracy"], 2), "nonzero_parameters": r["int8_nonzero_parameters"],
             "parameters": r["parameters"], "gzip_bytes": r["int8_gzip_bytes"]} for r in rows]


def front(points: list[dict], cost: str) -> list[dict]:
    """The points no other point beats: none is as cheap and at least as accurate (strictly better in one)."""
    best, kept = -1.0, []
    for p in sorted(points, key=lambda p: (p[cost], -p["test_accuracy"])):
        if p["test_accuracy"] > best:
            kept.append(p)
            best = p["test_accuracy"]
    return kept


def bars_met(points: list[dict]) -> list[dict]:
    out = []
    for dataset, budget, accuracy in BARS:
        within = [p for p in points if p["kind"] == "shipped" and p["dataset"] == dataset
                  and p["nonzero_parameters"] <= budget]
        best = max(within, key=lambda p: p["test_accuracy"], default=None)
        out.append({"dataset": dataset, "max_nonzero": budget, "min_accuracy": accuracy,
                    "best": best and best["name"], "best_accuracy": best and best["test_accuracy"],
                    "met": bool(best and best["test_accuracy"] >= accuracy)})
    return out


def time_table(timed: list[dict], peers: Path) -> list[str]:
    if not timed:
        return []
    run = json.loads(peers.read_text())
    m = run["machine"]
    lines = ["## Batch-1 time", "",
             f"p50 from `{peers.relative_to(ROOT) if peers.is_relative_to(ROOT) else peers}`: {m['cpu']}, "
             f"{m['cores']} cores, features {' '.join(m['features'])}; {run['settings']}. Shipped files through "
             "onnxruntime (accuracy: their manifests), peers running lenet (accuracy: the peers run).", "",
             "| model | file | dataset | test acc % | p50 us | on the time front |", "|---|---|---|---:|---:|---|"]
    fronts = {d: {(p["name"], p["file"]) for p in front([q for q in timed if q["dataset"] == d], "p50_us")}
              for d in {p["dataset"] for p in timed}}
    for p in sorted(timed, key=lambda p: (p["dataset"], p["p50_us"])):
        file = {"pruned": "fp32 .onnx", "int8": ".int8.onnx"}.get(p["file"], "peer")
        lines.append(f"| {p['name']} | {file} | {p['dataset']} | {p['test_accuracy']:.2f} | {p['p50_us']:.1f} | "
                     f"{'yes' if (p['name'], p['file']) in fronts[p['dataset']] else ''} |")
    return lines + [""]


def markdown(points: list[dict], bars: list[dict]) -> str:
    lines = ["# Accuracy against non-zero parameters and gzipped bytes", "",
             "Shipped INT8 ONNX files (exported/), counted in the files themselves: non-zero and all parameters "
             "(kernels and biases, batch norm folded into the convolutions), multiply-accumulates per image, gzipped "
             "bytes. Test accuracy through onnxruntime on the full 10,000-image test set.", "",
             "| model | dataset | INT8 test acc % | fp32 / pruned % | non-zero params | all params | MACs | gzip bytes |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for p in sorted((p for p in points if p["kind"] == "shipped"), key=lambda p: (p["dataset"], p["nonzero_parameters"])):
        lines.append(f"| {p['name']} ({p['model']}) | {p['dataset']} | {p['test_accuracy']:.2f} | "
                     f"{p['fp32_test_accuracy']:.2f} / {p['pruned_test_accuracy']:.2f} | {p['nonzero_parameters']:,} | "
                     f"{p['parameters']:,} | {p['macs']:,} | {p['gzip_bytes']:,} |")
    cpus = sorted({" ".join(p["measured_on"]) for p in points if p.get("measured_on")})
    lines += ["", f"INT8 accuracies measured on CPUs with: {'; '.join(cpus)}.", "",
              "## Bars", "", "| dataset | at most non-zero | at least % | best shipped within | its % | met |",
              "|---|---:|---:|---|---:|---|"]
    for b in bars:
        acc = f"{b['best_accuracy']:.2f}" if b["best_accuracy"] is not None else "-"
        lines.append(f"| {b['dataset']} | {b['max_nonzero']:,} | {b['min_accuracy']} | {b['best'] or '-'} | {acc} | "
                     f"{'yes' if b['met'] else 'no'} |")
    lines += ["", "## Reference points (dense models, as published)", ""]
    lines += [f"- {label}: {acc}% with {params:,} parameters ({dataset})" for label, dataset, params, acc in REFERENCES]
    lines += ["- Han et al. (2015) pruned LeNet-5 12x with no loss of accuracy.",
              f"- The best Fashion-MNIST CNN of a cross-validation study: {FASHION_BEST_CNN}%.", ""]
    return "\n".join(lines)


def plot_time(ax, timed: list[dict], dataset: str, low: float, high: float) -> None:
    """Accuracy against batch-1 p50: each shipped model's fp32 (circle) and INT8 (square) files, and the peers."""
    mine = [p for p in timed if p["dataset"] == dataset]
    if not mine:
        ax.axis("off")
        ax.text(0.5, 0.5, f"no {dataset} file in the peers run", ha="center", transform=ax.transAxes)
        return
    best = front(mine, "p50_us")
    edge = 12 * min(p["p50_us"] for p in mine)  # Keras runs 100x slower: named in a note, not drawn
    far = [p for p in mine if p["p50_us"] > edge]
    mine = [p for p in mine if p["p50_us"] <= edge]
    ax.plot([p["p50_us"] for p in best], [p["test_accuracy"] for p in best], "-", color="tab:blue", alpha=0.3,
            linewidth=4, label="Pareto front")
    for stage, marker, label in (("pruned", "o", "shipped fp32 .onnx (onnxruntime)"),
                                 ("int8", "s", "shipped .int8.onnx (onnxruntime)")):
        chosen = [p for p in mine if p["kind"] == "shipped" and p["file"] == stage]
        ax.scatter([p["p50_us"] for p in chosen], [p["test_accuracy"] for p in chosen], marker=marker,
                   color="tab:blue", facecolors="none" if stage == "pruned" else "tab:blue", zorder=3, label=label)
    peers = [p for p in mine if p["kind"] == "peer"]
    if peers:
        ax.scatter([p["p50_us"] for p in peers], [p["test_accuracy"] for p in peers], marker="x", color="tab:red",
                   zorder=3, label="peers running lenet")
    for p in mine:
        name = p["name"] + (" int8" if p["file"] == "int8" else "")
        ax.annotate(name, (p["p50_us"], p["test_accuracy"]), textcoords="offset points", xytext=(4, 3), fontsize=6,
                    color="tab:red" if p["kind"] == "peer" else "black")
    if far:
        ax.text(0.98, 0.02, "off the right edge: " + ", ".join(f"{p['name']} {p['p50_us']:,.0f} us" for p in far),
                transform=ax.transAxes, ha="right", va="bottom", fontsize=6, color="tab:red")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_xscale("log")
    ax.set_xlim(min(p["p50_us"] for p in mine) / 1.15, edge)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("batch-1 p50, us, one thread (log)")
    ax.set_ylabel(f"{dataset} test accuracy %")
    accuracies = [p["test_accuracy"] for p in mine]
    ax.set_ylim(max(low, min(accuracies) - 0.15), min(high, max(accuracies) + 0.15))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")


def plot(points: list[dict], timed: list[dict], path: Path) -> None:
    """One row per dataset: accuracy against non-zero parameters (with the published points and the bars), against
    gzipped bytes and against batch-1 time (when a peers run is there); the line joins each panel's Pareto front."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = [d for d in ("mnist", "fashion-mnist") if any(p["dataset"] == d for p in points)]
    columns = 3 if timed else 2
    fig, axes = plt.subplots(len(datasets), columns, figsize=(6.5 * columns, 5.5 * len(datasets)), squeeze=False)
    for row, dataset in zip(axes, datasets):
        mine = [p for p in points if p["dataset"] == dataset]
        refs = [r for r in REFERENCES if r[1] == dataset]
        bars = [b for b in BARS if b[0] == dataset]
        accuracies = [p["test_accuracy"] for p in mine] + [r[3] for r in refs] + [b[2] for b in bars]
        low, high = min(accuracies) - 0.3, min(100.0, max(accuracies) + 0.4)
        for ax, cost, label in ((row[0], "nonzero_parameters", "non-zero parameters in the INT8 file (log)"),
                                (row[1], "gzip_bytes", "gzipped INT8 file, bytes (log)")):
            shipped = [p for p in mine if p["kind"] == "shipped"]
            sweep = sorted((p for p in mine if p["kind"] == "sweep"), key=lambda p: p[cost])
            if sweep:
                ax.plot([p[cost] for p in sweep], [p["test_accuracy"] for p in sweep], "s--", color="tab:gray",
                        label="lenet sparsity sweep")
            best = front(mine, cost)
            ax.plot([p[cost] for p in best], [p["test_accuracy"] for p in best], "-", color="tab:blue", alpha=0.3,
                    linewidth=4, label="Pareto front")
            ax.scatter([p[cost] for p in shipped], [p["test_accuracy"] for p in shipped], color="tab:blue", zorder=3,
                       label="shipped")
            for p in shipped:
                ax.annotate(p["name"], (p[cost], p["test_accuracy"]), textcoords="offset points", xytext=(4, 4),
                            fontsize=7)
            if cost == "nonzero_parameters":
                if refs:
                    ax.scatter([r[2] for r in refs], [r[3] for r in refs], marker="x", color="tab:red", zorder=3,
                               label="published dense models (all parameters)")
                for i, (name, _, params, acc) in enumerate(refs):
                    ax.annotate(name, (params, acc), textcoords="offset points", xytext=(4, -10 - 8 * (i % 2)),
                                fontsize=6, color="tab:red")
                ax.plot([b[1] for b in bars], [b[2] for b in bars], "^", color="black", markersize=7,
                        label="bars: at least this accurate with at most this many")
            if dataset == "fashion-mnist":
                ax.axhline(FASHION_BEST_CNN, color="tab:red", linestyle=":", linewidth=1,
                           label=f"best CNN of a Fashion-MNIST cross-validation study ({FASHION_BEST_CNN}%)")
            ax.set_xscale("log")
            costs = [p[cost] for p in mine]
            if cost == "nonzero_parameters":
                costs += [b[1] for b in bars] + [r[2] for r in refs]
            ax.set_xlim(min(costs) / 1.6, max(costs) * 1.6)
            ax.set_xlabel(label)
            ax.set_ylabel(f"{dataset} test accuracy %")
            ax.set_ylim(low, high)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7, loc="best")
        if timed:
            plot_time(row[2], timed, dataset, low, high)
    fig.suptitle("Accuracy against cost: ONNX files, full test sets through onnxruntime; time: one peers run")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exported", default=str(ROOT / "exported"))
    parser.add_argument("--sweep", default=str(ROOT / "benchmarks/results/sparsity-lenet/sparsity.json"))
    parser.add_argument("--peers", default=str(PEERS), help="a benchmarks/peers.py results file (the time axis)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results"))
    args = parser.parse_args()
    points = shipped_points(Path(args.exported)) + sweep_points(Path(args.sweep))
    timed = timed_points(points, Path(args.peers))
    bars = bars_met(points)
    out = Path(args.out)
    mnist_timed = [p for p in timed if p["dataset"] == "mnist"]
    artifacts.write_json_atomic(out / "pareto.json", {
        "points": points, "timed": timed, "bars": bars, "peers_run": str(Path(args.peers).resolve().relative_to(ROOT))
        if timed and Path(args.peers).resolve().is_relative_to(ROOT) else (args.peers if timed else None),
        "front": {**{cost: [p["name"] for p in front([p for p in points if p["dataset"] == "mnist"], cost)]
                     for cost in ("nonzero_parameters", "gzip_bytes")},
                  "p50_us": [f"{p['name']} {p['file']}".strip() for p in front(mnist_timed, "p50_us")]},
        "references": [dict(zip(("label", "dataset", "parameters", "test_accuracy"), r)) for r in REFERENCES]})
    text = markdown(points, bars) + "\n".join(time_table(timed, Path(args.peers).resolve()))
    (out / "pareto.md").write_text(text)
    plot(points, timed, out / "pareto.png")
    print(text)


if __name__ == "__main__":
    main()
