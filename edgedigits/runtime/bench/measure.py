"""Benchmark exported models: test accuracy, size, batch-1 latency percentiles and throughput per execution target.

Batch-1 latency runs with one intra-op thread (the edge case: one core serving one frame); throughput runs with all
cores at a large batch. Accuracy is scored on the full test set through the same throughput runner, so the number
that is fast is the number that is right. numpy, onnxruntime and (when installed) openvino only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from edgedigits.errors import InputError
from edgedigits.runtime import datasets
from edgedigits.runtime.bench import targets
from edgedigits.runtime.bench.timing import interleaved_latency_us, percentiles, throughput
from edgedigits.runtime.model import artifacts, contract
from edgedigits.runtime.model.artifacts import file_stats
from edgedigits.runtime.model.classifier import normalize, top1
from edgedigits.runtime.model.jsonfile import loads, read_json
from edgedigits.runtime.model.session import open_session

log = logging.getLogger(__name__)


@dataclass
class Settings:
    runs: int = 500  # timed batch-1 runs (after warm-up)
    warmup: int = 50
    batch: int = 256  # throughput batch
    throughput_seconds: float = 1.0  # time spent in throughput measurement per model and target
    latency_threads: int = 1
    throughput_threads: int = 0  # 0 = all cores
    dataset: str = ""  # score every model on this labelled CSV, image folder or .npz (default: each model's own)


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


def usable(models: list[Path]) -> tuple[list[Path], list[str]]:
    """The models whose contract can be read (`describe`), and a message for each of the others."""
    good, problems = [], []
    for path in models:
        try:
            describe(path)
            good.append(path)
        except InputError as exc:
            problems.append(str(exc))
    return good, problems


def describe(path: Path) -> dict:
    """Name, variant, dataset (and, for a dataset in files, where it was read from), input shape and labels of a
    model, from its contract (`contract.read`: an unusable file is an InputError), and its parameter counts from
    its manifest (NAME.json beside it) only when that manifest describes this very file (its sha256): a manifest
    never lends its figures to another file."""
    stem = path.name.removesuffix(".onnx")
    name, _, variant = stem.partition(".")
    found = contract.read(open_session(path, 1), path, input_shape=None)
    info = {"model": name, "variant": found.stage or variant or "pruned", "dataset": found.dataset or "mnist",
            "input_shape": found.input_shape, "labels": found.labels, "files": _files(found.metadata, path)}
    try:  # a manifest only adds parameter counts: an unreadable or unrelated one leaves them out
        stage = read_json(path.with_name(f"{name}.json"))["stages"][info["variant"]]
        counts = {key: stage[key] for key in ("parameters", "nonzero_parameters")}
        if stage["sha256"] == file_stats(path)["sha256"] and all(
                type(v) is int and v >= 0 for v in counts.values()):
            info.update(counts)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return info


def _files(metadata: dict, path: Path) -> dict:
    """Where a model trained on a dataset in files read it (metadata "dataset_files"), or {} for a built-in one."""
    if "dataset_files" not in metadata:
        return {}
    try:
        files = loads(metadata["dataset_files"])
        if not isinstance(files, dict) or not isinstance(files.get("path"), str):
            raise ValueError(files)
    except ValueError:
        raise InputError(f"{path}: metadata dataset_files must be a JSON object with the dataset's path") from None
    return files


def test_set(info: dict, override: str = ""):
    """The dataset a model is scored on: its own (a built-in one by name, one in files where its metadata says it
    was read), or the files `override` names, read as the model takes them (its input shape and class names)."""
    if not info["files"] and not override:
        return datasets.load(info["dataset"])
    files = {**info["files"], **({"path": override, "test": ""} if override else {})}
    shape = list(info["input_shape"])
    try:
        source = datasets.FileSource(path=files["path"], test=files.get("test", ""), label=files.get("label", "label"),
                                     shape=shape, classes=list(info["labels"]), test_fraction=files.get(
                                         "test_fraction", 0.1))
    except (InputError, TypeError) as exc:
        raise InputError(f"model {info['model']}: its dataset_files metadata is not usable ({exc})") from None
    try:
        return datasets.load(source)
    except InputError as exc:
        if override:
            raise
        raise InputError(f"model {info['model']} was scored on {info['dataset']} read from {files['path']}: {exc} "
                         f"(name the data with --dataset)") from None


def _size(shape) -> str:
    return "x".join(str(d) for d in shape)


# --- measuring -----------------------------------------------------------------------------------------------------


def accuracy(run: Callable, images: np.ndarray, labels: np.ndarray, batch: int = 1000) -> float:
    """Top-1 accuracy of `run` (a target's runner) on the images, in batches (`classifier.top1`). Each batch's
    scores are copied: a runner may hand back its own output buffer, which the next batch overwrites (OpenVINO's
    reused infer request does; kept uncopied, every batch scored as the last one did)."""
    return top1(np.concatenate([np.array(run(images[i : i + batch])) for i in range(0, len(images), batch)]), labels)


def bench_model(path: Path, target: targets.Target, settings: Settings,
                test_sets: dict) -> tuple[Row, Callable, np.ndarray]:
    """Accuracy, size and throughput of one model on one target; returns the row, a one-thread runner and its images
    for the latency measurement, which `run` interleaves across all models."""
    info = describe(path)
    row = Row(model=info["model"], variant=info["variant"], dataset=info["dataset"], target=target.name,
              parameters=info.get("parameters"), nonzero_parameters=info.get("nonzero_parameters"))
    stats = file_stats(path)
    row.bytes, row.gzip_bytes = stats["bytes"], stats["gzip_bytes"]
    own = info["files"] or settings.dataset  # a dataset in files is read as this model takes it
    key = json.dumps([info["dataset"], info["files"], settings.dataset, info["input_shape"], info["labels"]]) \
        if own else info["dataset"]
    if key not in test_sets:
        ds = test_set(info, settings.dataset)
        test_sets[key] = (normalize(ds.x_test, (*ds.x_test.shape[1:3], ds.x_test.shape[3] if ds.x_test.ndim == 4
                                                else 1)), ds.y_test)
    x, y = test_sets[key]
    if tuple(x.shape[1:]) != tuple(info["input_shape"]):
        raise InputError(f"{path}: takes {_size(info['input_shape'])} images, but its dataset {info['dataset']} has "
                         f"{_size(x.shape[1:])} images")
    fast = target.make(path, settings.throughput_threads)
    row.accuracy = accuracy(fast, x, y)
    row.throughput_ips = throughput(fast, x, settings.batch, settings.throughput_seconds)
    single = target.make(path, settings.latency_threads)
    single(x[:1])  # some engines compile per input shape: a target that refuses batch 1 fails here, not mid-timing
    return row, single, x


def run(paths: list[str], settings: Settings, target_names: list[str] | None = None):
    """Benchmark every model on every target; returns (rows, problems). A model that fails becomes a problem, not a
    crash."""
    models = find_models(paths)
    found, problems = targets.select(target_names)
    if not found:
        raise InputError("; ".join(problems) or "no execution target available")
    rows, singles, test_sets = [], {}, {}
    for path in models:
        for target in found:
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


