"""Run an exported model with onnxruntime and numpy only: what any app that embeds an edgedigits model needs.

Never import TensorFlow here (a test checks): an app that embeds a model installs none of the training stack.
Everything an app needs to know (input/output names, labels, normalization) is read from the ONNX metadata.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edgedigits.errors import InputError
from edgedigits.limits import MAX_THREADS

IMAGE_SHAPE = (28, 28)
UINT8 = np.dtype(np.uint8)  # arrays of native uint8 share this dtype object: an `is` test is the cheapest
NORMALIZATION = "float32 = uint8 / 255, shape [N,28,28,1], white ink on black (MNIST convention)"
DEFAULT_MODEL = Path("exported/lenet.int8.onnx")  # what `train-prune-export lenet` writes
PACKAGED_MODEL = Path(__file__).resolve().parent / "shipped" / "lenet.int8.onnx"  # the INT8 lenet in the package


# uint8 -> float32 uint8/255 by table lookup: bit-identical to astype(float32) / 255, and not a numpy ufunc. Measured
# here, a ufunc right before session.run slowed that run by ~10 us; a lookup by ~3 (benchmarks/call_overhead.py).
_SCALE = np.arange(256, dtype=np.float32) / np.float32(255.0)


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 [N,28,28] (or [28,28], or already-float [0,1]) -> the model's float32 [N,28,28,1] input.
    Float32 input that is already contiguous is returned as a view, never copied."""
    images = np.asarray(images)
    given = list(images.shape)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise InputError(f"expected images of shape [N,28,28], [28,28] or [N,28,28,1], got {given}")
    if images.dtype == np.uint8:
        return _SCALE.take(images)[..., None]
    if np.issubdtype(images.dtype, np.floating):
        x = np.ascontiguousarray(images, dtype=np.float32)
        if x.size and not (-0.01 <= x.min() and x.max() <= 1.01):  # NaN fails these comparisons too
            if not np.isfinite(x).all():
                raise InputError("float images must be scaled to [0, 1] (uint8 / 255), got NaN or infinite values")
            raise InputError(f"float images must be scaled to [0, 1] (uint8 / 255), got values in "
                             f"[{x.min():g}, {x.max():g}]")
        return x[..., None]
    raise InputError(f"expected uint8 or float images, got dtype {images.dtype}")


def check_count(name: str, value, low: int, high: int | None = None, note: str = "") -> None:
    """An int argument of the API inside [low, high]: anything else (a string, a float, a bool) is one InputError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low or (
            high is not None and value > high):
        allowed = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise InputError(f"{name} must be an integer {allowed}{f' ({note})' if note else ''}, got {value!r}")


def default_model() -> Path:
    """The model apps use when none is named: exported/lenet.int8.onnx in the working directory (a user's own
    build), else the INT8 lenet shipped inside the package."""
    return DEFAULT_MODEL if DEFAULT_MODEL.is_file() else PACKAGED_MODEL


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
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model not found: {path}")
    check_count("threads", threads, 0, MAX_THREADS, "0 = onnxruntime's default")
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


def session_runner(session: ort.InferenceSession):
    """`run(x) -> first output` for a session: how bench, quantization and comparisons time and score a model."""
    name_in, name_out = session.get_inputs()[0].name, session.get_outputs()[0].name
    return lambda x: session.run([name_out], {name_in: x})[0]


@dataclass
class Prediction:
    indices: np.ndarray  # [N] int
    probabilities: np.ndarray  # [N, C] float32
    names: list[str]  # the model's label names, in class order

    @property
    def labels(self) -> list[str]:
        """The predicted label per image; built when read, so a per-frame classify() does not pay for it."""
        return [self.names[i] for i in self.indices.tolist()]

    @property
    def confidences(self) -> np.ndarray:
        return self.probabilities[np.arange(len(self.indices)), self.indices]


class Classifier:
    """An exported model ready to classify 28x28 images: one session, reused for every call.

    threads: onnxruntime intra-op threads (0 = its default, all cores; 1 = one core, the edge case).
    providers: e.g. ["CPUExecutionProvider"] (default); an unavailable one is refused.
    Labels, normalization and tensor names come from the model's metadata_props, so the .onnx is all an app needs.
    """

    def __init__(self, path: str | os.PathLike, threads: int = 0, providers: list[str] | None = None):
        self.path = Path(path)
        self.threads = threads
        self.session = open_session(path, threads, providers)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.metadata = meta
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        # The graph's own names are authoritative; metadata names, when present, must agree with them.
        self.input_name, self.output_name = inputs[0].name, outputs[0].name
        for key, actual in (("input_name", self.input_name), ("output_name", self.output_name)):
            if meta.get(key, actual) != actual:
                raise InputError(f"{self.path}: metadata {key} {meta[key]!r} is not the graph's {actual!r}")
        classes = outputs[0].shape[-1] if outputs[0].shape else None
        self._classes = classes if isinstance(classes, int) else -1
        shape = inputs[0].shape
        if len(shape) != 4 or list(shape[1:]) != [28, 28, 1]:
            raise InputError(f"{self.path}: model input must be [N,28,28,1], got {shape}")
        if inputs[0].type != "tensor(float)":
            raise InputError(f"{self.path}: model input must be float32, got {inputs[0].type}")
        try:
            self.labels = json.loads(meta["labels"]) if "labels" in meta else [str(i) for i in range(self.num_outputs)]
        except json.JSONDecodeError:
            raise InputError(f"{self.path}: metadata labels is not a JSON list") from None
        if self.num_outputs > 0 and len(self.labels) != self.num_outputs:
            raise InputError(f"{self.path}: {len(self.labels)} labels in metadata, output shape {outputs[0].shape}")
        self.normalization = meta.get("normalization", NORMALIZATION)
        self._outputs = [self.output_name]
        # the batch-1 fast path needs a known float output shape; anything else takes session.run
        self._bind_one = self._classes > 0 and BoundOne.fits(self.session)
        self._local = threading.local()  # one IOBinding per thread: a Classifier may be shared across threads

    @property
    def num_outputs(self) -> int:
        return self._classes

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def probabilities(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """[N, classes] float32 for uint8 [N,28,28] (or one [28,28], or floats in [0,1]).
        One session run when N <= batch_size: the per-frame path pays no chunking or copying."""
        if type(batch_size) is not int or batch_size < 1:  # two cheap tests on the per-frame path
            check_count("batch_size", batch_size, 1)
        if self._bind_one and type(images) is np.ndarray and images.dtype is UINT8 and images.shape == IMAGE_SHAPE:
            # one uint8 frame, the common embedded call: normalized straight into the bound input buffer
            one, pixels = self._bound()
            _SCALE.take(images, out=pixels, mode="clip")  # uint8 is always in range; "clip" skips numpy's buffering
            one.run()
            return one.y.copy()  # the bound output is reused by the next call
        x = normalize(images)
        if len(x) == 1 and self._bind_one:
            one, _ = self._bound()
            one.x[...] = x
            one.run()
            return one.y.copy()
        if len(x) <= batch_size:
            if len(x) == 0:
                return np.zeros((0, self.num_outputs), np.float32)
            return self.session.run(self._outputs, {self.input_name: x})[0]
        out = [self.session.run(self._outputs, {self.input_name: x[i : i + batch_size]})[0]
               for i in range(0, len(x), batch_size)]
        return np.concatenate(out)

    def _bound(self) -> tuple[BoundOne, np.ndarray]:
        """This thread's batch-1 binding (BoundOne) and its input buffer as a 28x28 view: measured on lenet here,
        ~9 us cheaper per call than session.run with a feed dict, and ~5 more than binding a new input array each
        call (benchmarks/call_overhead.py). Per thread, so a Classifier can be shared across threads."""
        bound = getattr(self._local, "bound", None)
        if bound is None:
            one = BoundOne(self.session)
            bound = self._local.bound = (one, one.x.reshape(IMAGE_SHAPE))
        return bound

    def classify(self, images: np.ndarray) -> Prediction:
        """Labels, class indices, probabilities (and .confidences) for a batch of images."""
        probs = self.probabilities(images)
        return Prediction(probs.argmax(1), probs, self.labels)


def accuracy(path: str | os.PathLike, images: np.ndarray, labels: np.ndarray, threads: int = 0) -> float:
    """Top-1 accuracy in percent through onnxruntime on the artifact itself."""
    labels = np.asarray(labels)
    predicted = Classifier(path, threads=threads).probabilities(images).argmax(axis=1)
    if labels.shape != predicted.shape:
        raise InputError(f"labels must be one per image: {len(predicted)} images, labels of shape {list(labels.shape)}")
    if not len(labels):
        raise InputError("accuracy needs at least one image")
    return float(100.0 * np.mean(predicted == labels))
