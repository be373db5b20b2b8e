"""onnxruntime sessions, opened one way everywhere, and the one batch-1 path: what an app runs, bench times and
the pipeline's INT8 choice measures. Never import TensorFlow here (a test checks)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort

from edgedigits.errors import InputError, shown
from edgedigits.limits import MAX_THREADS


def check_count(name: str, value, low: int, high: int | None = None, note: str = "") -> None:
    """An int argument of the API inside [low, high]: anything else (a string, a float, a bool) is one InputError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low or (
            high is not None and value > high):
        allowed = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise InputError(f"{name} must be an integer {allowed}{f' ({note})' if note else ''}, got {shown(value)}")


def session_options(threads: int = 0) -> ort.SessionOptions:
    """Session options used everywhere, so accuracy and latency are measured on the same configuration."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return options


def open_session(path: str | os.PathLike, threads: int = 0, providers: list[str] | None = None) -> ort.InferenceSession:
    """An onnxruntime session on exactly the providers asked for (default CPU): an unavailable provider is an
    error, not a silent fallback, so a measurement never runs somewhere else than it says."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise InputError(f"a model is the path of an .onnx file, got {shown(path)}")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model not found: {path}")
    check_count("threads", threads, 0, MAX_THREADS, "0 = onnxruntime's default")
    if providers is not None and (not isinstance(providers, (list, tuple)) or not all(
            isinstance(p, str) for p in providers)):
        raise InputError(f"providers must be a list of execution provider names, got {str(providers)[:80]!r}")
    providers = list(providers or ["CPUExecutionProvider"])
    missing = [p for p in providers if p not in ort.get_available_providers()]
    if missing:
        raise InputError(f"execution provider {', '.join(missing)} not available here; available: "
                         f"{', '.join(ort.get_available_providers())}")
    try:
        return ort.InferenceSession(str(path), session_options(threads), providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
        raise InputError(f"cannot load {path} as an ONNX model: {str(exc).splitlines()[0]}") from None


class BoundOne:
    """Batch 1 through IOBinding: the input and output bound once to numpy buffers `x` and `y`, which every call
    reuses (write the image into `x`, call `run()`, read `y`). The Classifier's per-frame path and bench's batch-1
    timing both run through this, so the latency bench reports is the one an app gets.

    `run` calls the binding's run in onnxruntime's C++ extension directly, with one RunOptions made up front.
    Measured on a 7-node graph here, one thread: ~0.7 us cheaper per call than
    `InferenceSession.run_with_iobinding(binding)`, whose Python wrapper checks for WebGPU graph capture on every
    call (and, given RunOptions, looks up a run option through a raised exception: +30 us), and whose C++ side builds
    a RunOptions per call when given none. Where the extension's objects are not reachable (another onnxruntime
    build), the public call is used.
    """

    DTYPES = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8}

    def __init__(self, session: ort.InferenceSession):
        (inp,), (out,) = session.get_inputs(), session.get_outputs()
        if not self.fits(session):
            raise InputError(f"batch-1 binding needs a float or uint8 input and a float output of known shape, got "
                             f"{inp.type} {inp.shape} -> {out.type} {out.shape}")
        self.x = np.zeros((1, *inp.shape[1:]), self.DTYPES[inp.type])
        self.y = np.zeros((1, *out.shape[1:]), np.float32)
        binding = session.io_binding()
        binding.bind_cpu_input(inp.name, self.x)  # by reference: writes into x are what the next run reads
        binding.bind_output(out.name, "cpu", 0, np.float32, list(self.y.shape), self.y.ctypes.data)
        self.binding = binding  # keeps the binding (and through self, x and y) alive as long as run is
        native_session, native_binding = getattr(session, "_sess", None), getattr(binding, "_iobinding", None)
        if callable(getattr(native_session, "run_with_iobinding", None)) and native_binding is not None:
            self.run = functools.partial(native_session.run_with_iobinding, native_binding, ort.RunOptions())
        else:
            self.run = functools.partial(session.run_with_iobinding, binding)

    @classmethod
    def fits(cls, session: ort.InferenceSession) -> bool:
        """One input and one output, of a type and a (non-batch) shape the buffers can be made for."""
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            return False
        (inp,), (out,) = inputs, outputs
        return (inp.type in cls.DTYPES and out.type == "tensor(float)" and len(inp.shape) >= 1 and len(out.shape) >= 1
                and all(isinstance(d, int) and d > 0 for d in [*inp.shape[1:], *out.shape[1:]]))


def runner(session: ort.InferenceSession) -> Callable[[np.ndarray], np.ndarray]:
    """`run(x) -> first output` for a session, the way an app calls it: at batch 1 through `BoundOne` (when the
    model fits it), batches through session.run. bench, the INT8 variant choice and compare all time and score a
    model through this one path. The batch-1 result is a buffer the next call reuses."""
    if not isinstance(session, ort.InferenceSession):
        raise InputError(f"runner needs an onnxruntime session (runtime.open_session(path)), got "
                         f"{type(session).__name__}")
    (inp,), (out,) = session.get_inputs()[:1], session.get_outputs()[:1]
    plain = lambda x: session.run([out.name], {inp.name: x})[0]  # noqa: E731
    if not BoundOne.fits(session):
        return plain
    one = BoundOne(session)
    x1, y1, bound = one.x, one.y, one.run

    def run(x):
        if x.shape != x1.shape or x.dtype != x1.dtype:
            return plain(x)
        np.copyto(x1, x)
        bound()
        return y1

    return run
