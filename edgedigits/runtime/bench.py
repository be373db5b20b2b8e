"""Benchmark exported models: test accuracy, size, batch-1 latency percentiles and throughput per execution target.

Runtime half: numpy, onnxruntime and (when installed) openvino only. Batch-1 latency runs with one intra-op thread
(the edge case: one core serving one frame); throughput runs with all cores at a large batch. Accuracy is scored
on the full test set through the same throughput session, so the number that is fast is the number that is right.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort

from edgedigits import tables
from edgedigits.errors import InputError
from edgedigits.runtime import artifacts, data, normalize, open_session, session_options, timing
from edgedigits.runtime.artifacts import ensure_writable_dir, file_stats
from edgedigits.runtime.classifier import BoundOne
from edgedigits.runtime.timing import interleaved_latency_us, machine_info, percentiles, throughput

log = logging.getLogger(__name__)

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
    int8_p50_ratio: float | None = None  # INT8 row: its p50 / the same model's fp32 p50 on the same target
    int8_ips_ratio: float | None = None  # INT8 row: its images/s / the fp32 file's images/s
    error: str = ""
    extra: dict = field(default_factory=dict)


# --- targets -------------------------------------------------------------------------------------------------------
# Each engine is called its fastest documented way, and says how in `options`: a benchmark that calls one engine
# through a slow path compares call paths, not engines. A runner may return a buffer the next call reuses.


def _ort_runner(session: ort.InferenceSession) -> Callable[[np.ndarray], np.ndarray]:
    """session.run for batches; at batch 1, the Classifier's own path (BoundOne: IOBinding with the input and output
    bound once to numpy buffers, run through onnxruntime's C++ binding with one reused RunOptions)."""
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    if not BoundOne.fits(session):
        return lambda x: session.run([out.name], {inp.name: x})[0]
    one = BoundOne(session)
    x1, y1, bound = one.x, one.y, one.run

    def run(x):
        if x.shape != x1.shape:
            return session.run([out.name], {inp.name: x})[0]
        np.copyto(x1, x)
        bound()
        return y1

    return run


def _ort_target(provider: str) -> Target:
    def make(path: Path, threads: int):
        return _ort_runner(open_session(path, threads, [provider]))

    short = provider.removesuffix("ExecutionProvider").lower()
    return Target(f"ort-{short}", make, "graph_optimization_level=ORT_ENABLE_ALL, inter_op_num_threads=1; batch 1: "
                  "the Classifier's path: IOBinding, input and output bound once to numpy buffers, "
                  "run_with_iobinding of onnxruntime's C++ binding with one reused RunOptions; batches: session.run")


def _openvino_target(device: str) -> Target:
    def make(path: Path, threads: int):
        import openvino as ov

        core, compiled = ov.Core(), {}
        config = {"PERFORMANCE_HINT": "LATENCY"}
        if threads and device == "CPU":
            config["INFERENCE_NUM_THREADS"] = threads

        def run(x):
            slot = compiled.get(x.shape)
            if slot is None:  # one static-shape compile and one infer request per batch size, reused
                model = core.read_model(str(path))
                model.reshape({model.inputs[0]: ov.PartialShape(list(x.shape))})
                request = core.compile_model(model, device, config).create_infer_request()
                buffer = np.zeros(x.shape, np.float32)
                request.set_input_tensor(ov.Tensor(buffer, shared_memory=True))
                slot = compiled[x.shape] = (request, buffer)
            request, buffer = slot
            np.copyto(buffer, x)
            request.infer()
            return request.get_output_tensor().data

        return run

    threads = "INFERENCE_NUM_THREADS = the thread count on CPU, " if device == "CPU" else ""
    return Target(f"openvino-{device}", make, f"PERFORMANCE_HINT=LATENCY, {threads}static shape per batch size, one "
                  "reused infer request, input set once as a shared-memory ov.Tensor, request.infer()")


def openvino_devices() -> list[str]:
    """Devices OpenVINO reports (CPU, GPU = Intel iGPU, NPU), or [] when the optional package is not installed."""
    try:
        import openvino as ov
    except ImportError:
        return []
    return list(ov.Core().available_devices)


PLUGIN = "onnxruntime-ep-openvino"  # onnxruntime's OpenVINO execution provider as a plugin for the stock wheel
_plugin_registered = False


def ort_openvino_devices() -> dict:
    """OpenVINO device name -> OrtEpDevice, from onnxruntime's OpenVINO plugin EP; {} when the plugin is not
    installed or exposes no device (it exposes none on non-Intel CPUs)."""
    global _plugin_registered
    try:
        import onnxruntime_ep_openvino as plugin
    except ImportError:
        return {}
    if not _plugin_registered:
        try:  # needs onnxruntime >= 1.23 and the plugin's bundled OpenVINO libraries
            ort.register_execution_provider_library("openvino_ep", plugin.get_library_path())
        except Exception:  # a plugin that cannot load exposes no device, like one on a non-Intel CPU
            return {}
        _plugin_registered = True
    return {d.ep_metadata.get("ov_device", str(d.device.type)): d for d in ort.get_ep_devices()
            if d.ep_name == plugin.get_ep_name()}


def _ort_openvino_target(device: str, ep_device) -> Target:
    def make(path: Path, threads: int):
        options = session_options(threads)
        options.add_provider_for_devices([ep_device], {})
        return _ort_runner(ort.InferenceSession(str(path), options))

    return Target(f"ort-openvino-{device}", make, f"onnxruntime with the {PLUGIN} plugin EP (register_execution_"
                  "provider_library, add_provider_for_devices); batch 1: IOBinding as ort-cpu")


def discover_targets() -> dict[str, Target]:
    targets = {}
    for provider in ort.get_available_providers():
        if provider not in NOT_LOCAL:
            target = _ort_target(provider)
            targets[target.name] = target
    for device in openvino_devices():
        target = _openvino_target(device)
        targets[target.name] = target
    for device, ep_device in ort_openvino_devices().items():
        target = _ort_openvino_target(device, ep_device)
        targets[target.name] = target
    return targets


def _why_missing(name: str, available: dict) -> str:
    if name.startswith("ort-openvino"):
        import importlib.util

        if importlib.util.find_spec("onnxruntime_ep_openvino") is None:
            return f"target {name}: onnxruntime's OpenVINO plugin is not installed (pip install 'edgedigits[intel]')"
        cpu = machine_info()["cpu"]
        return f"target {name}: {PLUGIN} exposes no device here ({cpu}); it exposes Intel CPUs, GPUs and NPUs"
    if name.startswith("openvino") and not openvino_devices():
        return f"target {name}: OpenVINO is not installed (pip install 'edgedigits[intel]')"
    return f"target {name} is not available here (available: {', '.join(available)})"


def select_targets(requested: list[str] | None) -> tuple[list[Target], list[str]]:
    """The requested targets that exist, and one message per requested target that does not."""
    available = discover_targets()
    if not requested:
        return list(available.values()), []
    found = [available[name] for name in requested if name in available]
    return found, [_why_missing(name, available) for name in requested if name not in available]


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


def run(paths: list[str], settings: Settings, target_names: list[str] | None = None):
    """Benchmark every model on every target; returns (rows, problems). A model that fails becomes a problem, not a
    crash."""
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
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                problems.append(f"{path} on {target.name}: {reason}")
                continue
            rows.append(row)
            singles[len(rows) - 1] = (single, images)
            log.info(f"  {row.model} {row.variant} on {row.target}: {row.accuracy:.2f}%, "
                     f"{row.throughput_ips:,.0f} images/s")
    log.info(f"  batch-1 latency, {len(singles)} models interleaved ...")
    for index, samples in interleaved_latency_us(singles, settings.warmup, settings.runs).items():
        for key, value in percentiles(samples).items():
            setattr(rows[index], key, value)
    int8_ratios(rows)
    return rows, problems


def int8_ratios(rows: list[Row]) -> None:
    """Fill each INT8 row's ratios to the same model's fp32 file (the pruned, else the dense one) on the same target:
    where INT8 pays on this CPU, model by model (p50 below 1x or images/s above 1x)."""
    preference = {"fp32": 1, "pruned": 2}
    fp32 = {}
    for r in sorted((r for r in rows if r.variant in preference and r.p50_us), key=lambda r: preference[r.variant]):
        fp32[(r.model, r.target)] = r  # the pruned file, when there is one, replaces the dense one
    for r in rows:
        ref = fp32.get((r.model, r.target))
        if r.variant == "int8" and ref and r.p50_us:
            r.int8_p50_ratio = r.p50_us / ref.p50_us
            r.int8_ips_ratio = r.throughput_ips / ref.throughput_ips


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
    ("INT8/fp32 p50", "int8_p50_ratio", "{:.2f}x"),
    ("INT8/fp32 images/s", "int8_ips_ratio", "{:.2f}x"),
    ("target", "target", "{}"),
]


def cells(row: Row) -> list[str]:
    return ["-" if getattr(row, attr) is None else fmt.format(getattr(row, attr)) for _, attr, fmt in COLUMNS]


def header_lines(machine: dict, settings: Settings, targets: list[Target]) -> list[str]:
    libs = ", ".join(f"{k} {v}" for k, v in machine["libraries"].items())
    return [
        f"machine: {machine['cpu']}, {machine['cores']} cores, features: "
        f"{' '.join(machine['features']) or 'none of AVX2/AVX-512/VNNI/AMX'}",
        f"libraries: python {machine['python']}, {libs}",
        f"load average (1, 5, 15 min) at the start: {' '.join(f'{v:.2f}' for v in os.getloadavg())} on "
        f"{machine['cores']} cores",
        f"batch-1 latency: {settings.warmup} warm-up + {settings.runs} timed runs, "
        f"intra_op_num_threads={settings.latency_threads};"
        f" throughput: batch {settings.batch}, {settings.throughput_seconds:g} s, intra_op_num_threads="
        f"{settings.throughput_threads or 'all'}; accuracy: full test set",
        *(f"target {t.name}: {t.options}" for t in targets),
    ]


def text_table(rows: list[Row]) -> str:
    return tables.text([[h for h, _, _ in COLUMNS]] + [cells(r) for r in rows], left={0, 1, 2, len(COLUMNS) - 1})


def markdown_table(rows: list[Row]) -> str:
    return tables.markdown([h for h, _, _ in COLUMNS], [cells(r) for r in rows])


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


def measure_and_write(paths: list[str], settings: Settings, targets: list[str] | None, out_dir, json_path=None,
                      csv_path=None, markdown_path=None, png_path=None) -> tuple[list[Row], list[str], list]:
    """`edgedigits bench`: measure every model on every target, write the reports (and the plot when matplotlib is
    installed); returns the rows, the problems (models or targets that failed) and the files written."""
    import importlib.util

    plotting = importlib.util.find_spec("matplotlib") is not None  # in the [train] extra, not in the runtime
    if png_path and not plotting:
        raise InputError("--png needs matplotlib: pip install matplotlib (or 'edgedigits[train]')")
    out = ensure_writable_dir(out_dir)
    for report in (json_path, csv_path, markdown_path, png_path):  # every report writable before measuring
        if report:
            ensure_writable_dir(Path(report).parent)
    machine = timing.machine_info()
    found, _ = select_targets(targets)
    header = header_lines(machine, settings, found)
    for line in header:
        log.info(line)
    rows, problems = run(paths, settings, targets)
    for problem in problems:
        log.info(f"edgedigits: {problem}")
    if not rows:
        raise InputError("nothing was measured")
    written = {"json_path": json_path or out / "bench.json", "csv_path": csv_path or out / "bench.csv",
               "markdown_path": markdown_path or out / "bench.md"}
    write_reports(rows, machine, header, **written)
    written = list(written.values())
    if plotting:
        written.append(png_path or out / "bench.png")
        from edgedigits.runtime.bench_plot import plot

        plot(rows, written[-1], f"edgedigits bench on {machine['cpu']} ({machine['cores']} cores)")
    else:
        log.info("no bench.png: the plot needs matplotlib (pip install matplotlib)")
    return rows, problems, written
