"""Benchmark exported models: test accuracy, size, batch-1 latency percentiles and throughput per execution target.

Runtime half: numpy, onnxruntime and (when installed) openvino only. Batch-1 latency runs with one intra-op thread
(the edge case: one core serving one frame); throughput runs with all cores at a large batch. Accuracy is scored
on the full test set through the same throughput session, so the number that is fast is the number that is right.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort

from edgedigits.errors import InputError
from edgedigits.runtime import artifacts, data, normalize, open_session
from edgedigits.runtime.artifacts import file_stats
from edgedigits.runtime.timing import interleaved_latency_us, percentiles, throughput

# Providers onnxruntime may list that are not a local device to measure (Azure calls a remote endpoint).
NOT_LOCAL = {"AzureExecutionProvider"}


@dataclass
class Settings:
    runs: int = 500  # timed batch-1 runs (after warm-up)
    warmup: int = 50
    batch: int = 256  # throughput batch
    throughput_seconds: float = 1.0  # time spent in throughput measurement per model and target
    latency_threads: int = 1
    throughput_threads: int = 0  # 0 = all cores


@dataclass
class Target:
    """One way to execute an .onnx file: an onnxruntime provider or an OpenVINO device."""

    name: str
    make: Callable[[Path, int], Callable[[np.ndarray], np.ndarray]]  # (model, threads) -> run(x) -> probabilities
    options: str = ""


@dataclass
class Row:
    model: str
    variant: str
    dataset: str
    target: str
    accuracy: float | None = None
    parameters: int | None = None
    nonzero_parameters: int | None = None
    bytes: int | None = None
    gzip_bytes: int | None = None
    p50_us: float | None = None
    p90_us: float | None = None
    p99_us: float | None = None
    throughput_ips: float | None = None
    error: str = ""
    extra: dict = field(default_factory=dict)


# --- targets -------------------------------------------------------------------------------------------------------


def _ort_target(provider: str) -> Target:
    def make(path: Path, threads: int):
        session = open_session(path, threads, [provider])
        name_in, name_out = session.get_inputs()[0].name, session.get_outputs()[0].name
        return lambda x: session.run([name_out], {name_in: x})[0]

    short = provider.removesuffix("ExecutionProvider").lower()
    return Target(f"ort-{short}", make, "graph_optimization_level=ORT_ENABLE_ALL, inter_op_num_threads=1")


def _openvino_target(device: str) -> Target:
    def make(path: Path, threads: int):
        import openvino as ov

        config = {"INFERENCE_NUM_THREADS": threads} if threads and device == "CPU" else {}
        compiled = ov.Core().compile_model(str(path), device, config)
        request = compiled.create_infer_request()
        return lambda x: next(iter(request.infer({0: x}).values()))

    return Target(f"openvino-{device}", make, "compile_model defaults, INFERENCE_NUM_THREADS on CPU")


def openvino_devices() -> list[str]:
    """Devices OpenVINO reports (CPU, GPU = Intel iGPU, NPU), or [] when the optional package is not installed."""
    try:
        import openvino as ov
    except ImportError:
        return []
    return list(ov.Core().available_devices)


def discover_targets() -> dict[str, Target]:
    targets = {}
    for provider in ort.get_available_providers():
        if provider not in NOT_LOCAL:
            target = _ort_target(provider)
            targets[target.name] = target
    for device in openvino_devices():
        target = _openvino_target(device)
        targets[target.name] = target
    return targets


def select_targets(requested: list[str] | None) -> tuple[list[Target], list[str]]:
    """The requested targets that exist, and one message per requested target that does not."""
    available = discover_targets()
    if not requested:
        return list(available.values()), []
    found, missing = [], []
    for name in requested:
        if name in available:
            found.append(available[name])
        elif name.startswith("openvino") and not openvino_devices():
            missing.append(f"target {name}: OpenVINO is not installed (pip install 'edgedigits[intel]')")
        else:
            missing.append(f"target {name} is not available here (available: {', '.join(available)})")
    return found, missing


# --- models --------------------------------------------------------------------------------------------------------


def find_models(paths: list[str]) -> list[Path]:
    """Every .onnx named, or inside a named folder; a folder with none, or a missing path, is an InputError.
    In a folder, what a killed writer left is finished or removed first (artifacts.recover), and hidden files
    (temp and staging files) are never models."""
    found = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            artifacts.recover(path)
            models = sorted(p for p in path.glob("*.onnx") if not artifacts.is_hidden(p))
            if not models:
                raise InputError(f"no .onnx models in {path}")
            found += models
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"no such file or folder: {path}")
    return found


def describe(path: Path) -> dict:
    """Name, variant and dataset of a model, from its manifest (NAME.json beside it) when there is one."""
    stem = path.name.removesuffix(".onnx")
    name, _, variant = stem.partition(".")
    variant = variant or "pruned"
    session = open_session(path, 1)  # InputError when it is not a loadable model
    meta = session.get_modelmeta().custom_metadata_map
    info = {"model": name, "variant": meta.get("stage", variant), "dataset": meta.get("dataset", "mnist")}
    shape = session.get_inputs()[0].shape
    if len(shape) != 4 or list(shape[1:]) != [28, 28, 1]:
        raise InputError(f"{path}: input must be [N,28,28,1], got {shape}")
    manifest = path.with_name(f"{name}.json")
    try:  # a manifest only adds parameter counts: an unreadable one leaves them out
        stage = json.loads(manifest.read_text())["stages"][info["variant"]]
        info.update(parameters=int(stage["parameters"]), nonzero_parameters=int(stage["nonzero_parameters"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return info


# --- measuring -----------------------------------------------------------------------------------------------------


def accuracy(run: Callable, images: np.ndarray, labels: np.ndarray, batch: int = 1000) -> float:
    predicted = np.concatenate([run(images[i : i + batch]).argmax(1) for i in range(0, len(images), batch)])
    return float(100.0 * np.mean(predicted == labels))


def bench_model(path: Path, target: Target, settings: Settings, test_sets: dict) -> tuple[Row, Callable, np.ndarray]:
    """Accuracy, size and throughput of one model on one target; returns the row, a one-thread runner and its images
    for the latency measurement, which `run` interleaves across all models."""
    info = describe(path)
    row = Row(model=info["model"], variant=info["variant"], dataset=info["dataset"], target=target.name,
              parameters=info.get("parameters"), nonzero_parameters=info.get("nonzero_parameters"))
    stats = file_stats(path)
    row.bytes, row.gzip_bytes = stats["bytes"], stats["gzip_bytes"]
    if info["dataset"] not in test_sets:
        ds = data.load(info["dataset"])
        test_sets[info["dataset"]] = (normalize(ds.x_test), ds.y_test)
    x, y = test_sets[info["dataset"]]
    fast = target.make(path, settings.throughput_threads)
    row.accuracy = accuracy(fast, x, y)
    row.throughput_ips = throughput(fast, x, settings.batch, settings.throughput_seconds)
    return row, target.make(path, settings.latency_threads), x


def run(paths: list[str], settings: Settings, target_names: list[str] | None = None, log=print):
    """Benchmark every model on every target; returns (rows, problems). A model that fails becomes a problem, not a crash."""
    models = find_models(paths)
    targets, problems = select_targets(target_names)
    if not targets:
        raise InputError("; ".join(problems) or "no execution target available")
    rows, singles, test_sets = [], {}, {}
    for path in models:
        for target in targets:
            try:
                row, single, images = bench_model(path, target, settings, test_sets)
            except InputError as exc:  # the model itself is unusable: skip it on every target
                problems.append(str(exc))
                break
            except Exception as exc:  # a target that refuses this model: report it, measure the rest
                problems.append(f"{path} on {target.name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
                continue
            rows.append(row)
            singles[len(rows) - 1] = (single, images)
            log(f"  {row.model} {row.variant} on {row.target}: {row.accuracy:.2f}%, {row.throughput_ips:,.0f} images/s")
    log(f"  batch-1 latency, {len(singles)} models interleaved ...")
    for index, samples in interleaved_latency_us(singles, settings.warmup, settings.runs).items():
        for key, value in percentiles(samples).items():
            setattr(rows[index], key, value)
    return rows, problems


# --- reporting -----------------------------------------------------------------------------------------------------

COLUMNS = [  # (header, Row attribute, format)
    ("model", "model", "{}"),
    ("variant", "variant", "{}"),
    ("dataset", "dataset", "{}"),
    ("acc %", "accuracy", "{:.2f}"),
    ("params", "parameters", "{:,}"),
    ("non-zero", "nonzero_parameters", "{:,}"),
    ("bytes", "bytes", "{:,}"),
    ("gzip", "gzip_bytes", "{:,}"),
    ("p50 us", "p50_us", "{:.1f}"),
    ("p90 us", "p90_us", "{:.1f}"),
    ("p99 us", "p99_us", "{:.1f}"),
    ("images/s", "throughput_ips", "{:,.0f}"),
    ("target", "target", "{}"),
]


def cells(row: Row) -> list[str]:
    return ["-" if getattr(row, attr) is None else fmt.format(getattr(row, attr)) for _, attr, fmt in COLUMNS]


def header_lines(machine: dict, settings: Settings, targets: list[Target]) -> list[str]:
    libs = ", ".join(f"{k} {v}" for k, v in machine["libraries"].items())
    return [
        f"machine: {machine['cpu']}, {machine['cores']} cores, features: {' '.join(machine['features']) or 'none of AVX2/AVX-512/VNNI/AMX'}",
        f"libraries: python {machine['python']}, {libs}",
        f"batch-1 latency: {settings.warmup} warm-up + {settings.runs} timed runs, intra_op_num_threads={settings.latency_threads};"
        f" throughput: batch {settings.batch}, {settings.throughput_seconds:g} s, intra_op_num_threads="
        f"{settings.throughput_threads or 'all'}; accuracy: full test set",
        *(f"target {t.name}: {t.options}" for t in targets),
    ]


def text_table(rows: list[Row]) -> str:
    grid = [[h for h, _, _ in COLUMNS]] + [cells(r) for r in rows]
    widths = [max(len(line[i]) for line in grid) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) if i < 3 or i == len(COLUMNS) - 1 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(line, widths))) for line in grid)


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(h for h, _, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def as_records(rows: list[Row]) -> list[dict]:
    return [{attr: getattr(r, attr) for _, attr, _ in COLUMNS} for r in rows]


def write_reports(rows, machine, header, json_path=None, csv_path=None, markdown_path=None) -> None:
    """Write the requested report files, each atomically."""
    import csv
    import io

    from edgedigits.runtime.artifacts import write_bytes_atomic, write_json_atomic

    if json_path:
        write_json_atomic(json_path, {"machine": machine, "settings": header, "rows": as_records(rows)})
    if csv_path:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=[attr for _, attr, _ in COLUMNS])
        writer.writeheader()
        writer.writerows(as_records(rows))
        write_bytes_atomic(csv_path, buffer.getvalue().encode())
    if markdown_path:
        text = "\n".join(f"> {line}" for line in header) + "\n\n" + markdown_table(rows) + "\n"
        write_bytes_atomic(markdown_path, text.encode())


def plot(rows: list[Row], path, title: str) -> None:
    """Two panels: accuracy against gzipped size, and batch-1 p50 latency per model variant (one bar per target)."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgedigits.runtime.artifacts import atomic_path

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5), constrained_layout=True)
    first = {}
    for r in rows:
        first.setdefault((r.model, r.variant), r)
    markers = {"pruned": "o", "int8": "s", "fp32": "^"}
    colours = {m: plt.cm.tab10(i % 10) for i, m in enumerate(dict.fromkeys(m for m, _ in first))}
    for model, colour in colours.items():  # one colour per model, its variants joined: the cost of each step
        points = sorted((r.gzip_bytes / 1000, r.accuracy, v) for (m, v), r in first.items() if m == model)
        left.plot([p[0] for p in points], [p[1] for p in points], color=colour, alpha=0.5, linewidth=1)
        for x, y, variant in points:
            left.scatter(x, y, marker=markers.get(variant, "D"), s=55, color=colour,
                         label=f"{model} {variant}")
    left.legend(fontsize=7, ncol=2, loc="center right", title="square = int8, circle = pruned fp32", title_fontsize=7)
    left.set_xscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    one_two_five = matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0))
    left.xaxis.set_major_locator(one_two_five)
    left.xaxis.set_major_formatter(plain)
    left.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    left.margins(x=0.25, y=0.15)
    left.set_xlabel("gzipped model size (KB, log scale)")
    left.set_ylabel("test accuracy (%)")
    left.set_title("accuracy vs download size")
    left.grid(True, alpha=0.3)
    labels = [f"{m} {v}" for m, v in first]
    targets = sorted({r.target for r in rows})
    width = 0.8 / max(len(targets), 1)
    for i, target in enumerate(targets):
        values = [next((r.p50_us for r in rows if (r.model, r.variant, r.target) == (m, v, target)), 0) for m, v in first]
        positions = np.arange(len(labels)) + i * width
        right.barh(positions, values, height=width, label=target)
        for y, v in zip(positions, values):
            if v:
                right.annotate(f"{v:.0f} us", (v, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    right.set_yticks(np.arange(len(labels)) + width * (len(targets) - 1) / 2, labels, fontsize=8)
    right.invert_yaxis()
    right.set_xscale("log")
    right.xaxis.set_major_locator(one_two_five)
    right.xaxis.set_major_formatter(plain)
    right.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    right.set_xlim(left=min(r.p50_us for r in rows) / 2, right=max(r.p50_us for r in rows) * 3)
    right.set_xlabel("batch-1 latency p50 (microseconds, one thread, log scale)")
    right.set_title("latency")
    right.legend(fontsize=8)
    right.grid(True, axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
