"""Where `edgedigits bench` can run a model, as one table (ENGINES): each engine says which targets it has on
this computer, how to make a runner for a model on one of them, how it is called, and why a target asked for is
missing. Each engine is called its fastest documented way, and says how: a benchmark that calls one engine through
a slow path compares call paths, not engines. A runner may return a buffer the next call reuses.
numpy, onnxruntime and (when installed) openvino only."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort

from edgedigits.errors import InputError
from edgedigits.runtime.bench.timing import machine_info
from edgedigits.runtime.model.session import open_session, runner, session_options

# Providers onnxruntime may list that are not a local device to measure (Azure calls a remote endpoint).
NOT_LOCAL = {"AzureExecutionProvider"}
PLUGIN = "onnxruntime-ep-openvino"  # onnxruntime's OpenVINO execution provider as a plugin for the stock wheel
Run = Callable[[np.ndarray], np.ndarray]


@dataclass
class Target:
    """One way to execute an .onnx file: an engine on one device."""

    name: str
    make: Callable[[Path, int], Run]  # (model, threads) -> run(x) -> probabilities
    options: str = ""


@dataclass(frozen=True)
class Engine:
    """One row of the table."""

    prefix: str  # target names are PREFIX-DEVICE
    devices: Callable[[], dict]  # device name -> what `make` needs to run there ({} when none here)
    make: Callable[[object, Path, int], Run]  # (device handle, model, threads) -> run
    options: Callable[[str], str]  # how the engine is called on a device, for the report
    missing: Callable[[str], str]  # why a target of this engine asked for is not here


def _ort_providers() -> dict:
    return {p.removesuffix("ExecutionProvider").lower(): p for p in ort.get_available_providers()
            if p not in NOT_LOCAL}


def _ort_make(provider: str, path: Path, threads: int) -> Run:
    try:
        return runner(open_session(path, threads, [provider]))
    except InputError as exc:  # a file the CPU provider loads but another refuses is that target's problem
        if provider == "CPUExecutionProvider":
            raise
        raise RuntimeError(f"{provider} refuses it ({exc})") from None


ORT_OPTIONS = ("graph_optimization_level=ORT_ENABLE_ALL, inter_op_num_threads=1; batch 1: the Classifier's path: "
               "IOBinding, input and output bound once to numpy buffers, run_with_iobinding of onnxruntime's C++ "
               "binding with one reused RunOptions; batches: session.run")


def _openvino_make(device: str, path: Path, threads: int) -> Run:
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


def _openvino_options(device: str) -> str:
    threads = "INFERENCE_NUM_THREADS = the thread count on CPU, " if device == "CPU" else ""
    return (f"PERFORMANCE_HINT=LATENCY, {threads}static shape per batch size, one reused infer request, input set "
            "once as a shared-memory ov.Tensor, request.infer()")


def openvino_devices() -> list[str]:
    """Devices OpenVINO reports (CPU, GPU = Intel iGPU, NPU), or [] when the optional package is not installed."""
    try:
        import openvino as ov
    except ImportError:
        return []
    return list(ov.Core().available_devices)


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


def _ort_openvino_make(ep_device, path: Path, threads: int) -> Run:
    options = session_options(threads)
    options.add_provider_for_devices([ep_device], {})
    return runner(ort.InferenceSession(str(path), options))


def _missing_ort(name: str) -> str:
    return f"target {name} is not available here (onnxruntime providers: {', '.join(_ort_providers())})"


def _missing_openvino(name: str) -> str:
    if importlib.util.find_spec("openvino") is None:
        return f"target {name}: OpenVINO is not installed (pip install 'edgedigits[intel]')"
    return f"target {name}: OpenVINO has no such device here (devices: {', '.join(openvino_devices())})"


def _missing_ort_openvino(name: str) -> str:
    if importlib.util.find_spec("onnxruntime_ep_openvino") is None:
        return f"target {name}: onnxruntime's OpenVINO plugin is not installed (pip install 'edgedigits[intel]')"
    return f"target {name}: {PLUGIN} exposes no such device here ({machine_info()['cpu']}); it exposes Intel CPUs, " \
           f"GPUs and NPUs"


ENGINES = (
    Engine("ort", _ort_providers, _ort_make, lambda device: ORT_OPTIONS, _missing_ort),
    Engine("openvino", lambda: {d: d for d in openvino_devices()}, _openvino_make, _openvino_options,
           _missing_openvino),
    Engine("ort-openvino", lambda: ort_openvino_devices(), _ort_openvino_make,
           lambda device: f"onnxruntime with the {PLUGIN} plugin EP (register_execution_provider_library, "
                          "add_provider_for_devices); batch 1: IOBinding as ort-cpu", _missing_ort_openvino),
)


def discover() -> dict[str, Target]:
    """Every target this computer has, by name (ort-cpu, openvino-GPU, ...)."""
    targets = {}
    for engine in ENGINES:
        for device, handle in engine.devices().items():
            name = f"{engine.prefix}-{device}"
            targets[name] = Target(name, lambda path, threads, e=engine, h=handle: e.make(h, path, threads),
                                   engine.options(device))
    return targets


def select(requested: list[str] | None) -> tuple[list[Target], list[str]]:
    """The requested targets that exist (all of them when none is requested), and one message per requested
    target that does not, from the engine its name belongs to."""
    available = discover()
    if not requested:
        return list(available.values()), []
    found = [available[name] for name in requested if name in available]
    problems = []
    for name in requested:
        if name not in available:
            owners = [e for e in ENGINES if name.startswith(f"{e.prefix}-")]
            engine = max(owners, key=lambda e: len(e.prefix)) if owners else None
            problems.append(engine.missing(name) if engine else
                            f"target {name} is not available here (available: {', '.join(available)})")
    return found, problems
