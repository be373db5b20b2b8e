"""How fast a model runs, and on what: batch-1 latency, throughput, and the CPU features that decide INT8 speed.

Shared by bench, the pipeline's INT8 variant choice and the experiments, so every number is measured one way.
numpy only (plus /proc/cpuinfo).
"""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Callable

import numpy as np

CPU_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")


def machine_info() -> dict:
    """CPU model, cores, the instruction-set features that decide INT8/fp32 speed, and library versions."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    libs = {}
    for name in ("onnxruntime", "onnx", "numpy", "openvino", "onnxruntime-ep-openvino"):
        try:
            libs[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "features": [f for f in CPU_FEATURES if f in flags],
        "python": platform.python_version(),
        "libraries": libs,
    }


def percentiles(samples_us: np.ndarray) -> dict:
    p50, p90, p99 = np.percentile(np.asarray(samples_us, dtype=np.float64), [50, 90, 99])
    return {"p50_us": float(p50), "p90_us": float(p90), "p99_us": float(p99)}


def latency_us(run: Callable, images: np.ndarray, warmup: int, runs: int) -> np.ndarray:
    """Batch-1 wall time of `run` per call, in microseconds, cycling through real images."""
    singles = [images[i : i + 1] for i in range(min(len(images), 256))]
    for i in range(warmup):
        run(singles[i % len(singles)])
    samples = np.empty(runs)
    clock = time.perf_counter_ns
    for i in range(runs):
        x = singles[i % len(singles)]
        t0 = clock()
        run(x)
        samples[i] = (clock() - t0) / 1000.0
    return samples


def interleaved_latency_us(runs: dict, warmup: int, count: int, rounds: int = 20) -> dict:
    """Batch-1 latency samples for several models, measured round-robin so every model sees the same machine.

    `runs` maps a key to (run, images). On a shared or frequency-scaling machine the same model's p50 can move by half
    between back-to-back runs, so measuring models one after another compares machine states, not models.
    """
    per_round = max(1, count // rounds)
    samples = {key: [] for key in runs}
    for key, (run, images) in runs.items():
        latency_us(run, images, warmup, 0)
    for _ in range(rounds):
        for key, (run, images) in runs.items():
            samples[key].append(latency_us(run, images, 5, per_round))
    return {key: np.concatenate(parts) for key, parts in samples.items()}


def throughput(run: Callable, images: np.ndarray, batch: int, seconds: float) -> float:
    """Images per second at `batch`, over at least `seconds` (and at least 3 batches) after one warm-up batch."""
    x = images[:batch]
    run(x)
    done, t0 = 0, time.perf_counter()
    while done < 3 * len(x) or time.perf_counter() - t0 < seconds:
        run(x)
        done += len(x)
    return done / (time.perf_counter() - t0)
