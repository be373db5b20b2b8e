"""Run an exported model with onnxruntime and numpy only: what any app that embeds an edgedigits model needs.

Never import TensorFlow here (a test checks): an app that embeds a model installs none of the training stack.
Everything an app needs to know (input/output names, labels, normalization) is read from the ONNX metadata.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits.errors import InputError, shown
from edgedigits.runtime.model import contract
from edgedigits.runtime.model.session import BoundOne, check_count, open_session

IMAGE_SHAPE = (28, 28)
UINT8 = np.dtype(np.uint8)  # arrays of native uint8 share this dtype object: an `is` test is the cheapest
NORMALIZATION = contract.NORMALIZATION


# uint8 -> float32 uint8/255 by table lookup: bit-identical to astype(float32) / 255, and not a numpy ufunc. Measured
# here, a ufunc right before session.run slowed that run by ~10 us; a lookup by ~3 (benchmarks/call_overhead.py).
_SCALE = np.arange(256, dtype=np.float32) / np.float32(255.0)


def normalize(images: np.ndarray, shape: tuple = contract.IMAGE_INPUT) -> np.ndarray:
    """uint8 images (or already-float [0,1]) -> the float32 [N,H,W,C] input of a model taking `shape` (height, width,
    channels; default the digit models' 28x28x1): [N,H,W] or one [H,W] for one channel, [N,H,W,C] or one [H,W,C].
    Float32 input that is already contiguous is returned as a view, never copied."""
    images = np.asarray(images)
    given = list(images.shape)
    height, width, channels = shape
    one = (height, width) if channels == 1 else (height, width, channels)
    if channels == 1 and images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == len(one):
        images = images[None]
    if images.ndim != len(one) + 1 or images.shape[1:] != one:
        forms = (f"[N,{height},{width}], [{height},{width}] or [N,{height},{width},1]" if channels == 1 else
                 f"[N,{height},{width},{channels}] or [{height},{width},{channels}]")
        raise InputError(f"expected images of shape {forms}, got {given}")
    if images.dtype == np.uint8:
        x = _SCALE.take(images)
        return x[..., None] if channels == 1 else x
    if np.issubdtype(images.dtype, np.floating):
        x = np.ascontiguousarray(images, dtype=np.float32)
        if x.size and not (-0.01 <= x.min() and x.max() <= 1.01):  # NaN fails these comparisons too
            if not np.isfinite(x).all():
                raise InputError("float images must be scaled to [0, 1] (uint8 / 255), got NaN or infinite values")
            raise InputError(f"float images must be scaled to [0, 1] (uint8 / 255), got values in "
                             f"[{x.min():g}, {x.max():g}]")
        return x[..., None] if channels == 1 else x
    raise InputError(f"expected uint8 or float images, got dtype {images.dtype}")


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
    """An exported image classifier (28x28 digits, or any [N,H,W,C] input its contract names): one session, reused
    for every call.

    threads: onnxruntime intra-op threads (0 = its default, all cores; 1 = one core, the edge case).
    providers: e.g. ["CPUExecutionProvider"] (default); an unavailable one is refused.
    Labels, normalization and tensor names come from the model's metadata_props, so the .onnx is all an app needs.
    """

    def __init__(self, path: str | os.PathLike, threads: int = 0, providers: list[str] | None = None):
        self.session = open_session(path, threads, providers)  # checks path and threads first
        self.path = Path(path)
        self.threads = threads
        self.contract = contract.read(self.session, self.path, input_shape=None)  # any image size and channels
        self.input_shape = self.contract.input_shape  # (height, width, channels)
        height, width, channels = self.input_shape
        self._one_shape = (height, width) if channels == 1 else self.input_shape  # one uint8 image, as apps give it
        self.metadata = self.contract.metadata
        self.input_name, self.output_name = self.contract.input_name, self.contract.output_name
        self._classes = self.contract.classes
        self.labels = self.contract.labels
        self.normalization = self.contract.normalization
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
        """[N, classes] float32 for uint8 [N,H,W] (or one [H,W]; [N,H,W,C] for colour; or floats in [0,1]).
        One session run when N <= batch_size: the per-frame path pays no chunking or copying."""
        if type(batch_size) is not int or batch_size < 1:  # two cheap tests on the per-frame path
            check_count("batch_size", batch_size, 1)
        if self._bind_one and type(images) is np.ndarray and images.dtype is UINT8 and images.shape == self._one_shape:
            # one uint8 frame, the common embedded call: normalized straight into the bound input buffer
            one, pixels = self._bound()
            _SCALE.take(images, out=pixels, mode="clip")  # uint8 is always in range; "clip" skips numpy's buffering
            one.run()
            return one.y.copy()  # the bound output is reused by the next call
        x = normalize(images, self.input_shape)
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
        """This thread's batch-1 binding (BoundOne) and its input buffer as a view of one image: measured on lenet here,
        ~9 us cheaper per call than session.run with a feed dict, and ~5 more than binding a new input array each
        call (benchmarks/call_overhead.py). Per thread, so a Classifier can be shared across threads."""
        bound = getattr(self._local, "bound", None)
        if bound is None:
            one = BoundOne(self.session)
            bound = self._local.bound = (one, one.x.reshape(self._one_shape))
        return bound

    def classify(self, images: np.ndarray) -> Prediction:
        """Labels, class indices, probabilities (and .confidences) for a batch of images; scores that are not finite
        are an InputError (probabilities() hands them on as the model gave them)."""
        probs = finite(self.probabilities(images), self.path)
        return Prediction(probs.argmax(1), probs, self.labels)

    def indices(self, labels) -> np.ndarray:
        """Class indices for `labels`: indices as they are, label names (strings) looked up in the model's labels."""
        labels = np.asarray(labels)
        if labels.dtype.kind not in "US":
            return labels
        where = {name: k for k, name in enumerate(self.labels)}
        unknown = sorted({str(x) for x in labels.ravel().tolist()} - set(where))
        if unknown:
            raise InputError(f"labels {shown(unknown)} are not among the model's labels {shown(self.labels)}")
        return np.vectorize(where.__getitem__, otypes=[np.int64])(labels) if labels.size else labels.astype(np.int64)


def top1(probabilities: np.ndarray, labels) -> float:
    """Top-1 accuracy in percent of per-class scores [N, C] against integer class indices [N]: the one definition
    of accuracy that every score of edgedigits (pipeline, bench, compare, sweeps) is computed with. Scores that are
    not finite (a model that gives NaN) are an InputError, never an accuracy."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or not np.issubdtype(probabilities.dtype, np.number):
        raise InputError(f"scores must be a numeric [N, classes] array, got {probabilities.dtype} of shape "
                         f"{list(probabilities.shape)}")
    labels = np.asarray(labels)
    if labels.shape != (len(probabilities),):
        raise InputError(f"labels must be one per image: {len(probabilities)} images, labels of shape "
                         f"{list(labels.shape)}")
    if not len(labels):
        raise InputError("accuracy needs at least one image")
    if not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"labels must be class indices (integers), got {labels.dtype} values such as "
                         f"{shown(labels[0])}")
    if labels.min() < 0 or labels.max() >= probabilities.shape[1]:
        raise InputError(f"labels must be class indices in [0, {probabilities.shape[1] - 1}], got values in "
                         f"[{labels.min()}, {labels.max()}]")
    finite(probabilities, "the model")
    return float(100.0 * np.mean(probabilities.argmax(axis=1) == labels))


def finite(scores: np.ndarray, what) -> np.ndarray:
    """`scores` when every one is a finite number; else an InputError: argmax of NaN is class 0, read as certain."""
    if not np.isfinite(scores).all():
        raise InputError(f"{what} gave NaN or infinite scores: a model must output finite probabilities")
    return scores


def accuracy(path: str | os.PathLike, images: np.ndarray, labels, threads: int = 0) -> float:
    """Top-1 accuracy in percent through onnxruntime on the artifact itself. Labels are class indices, or the
    model's label names (its metadata `labels`, e.g. "7" or "sneaker")."""
    model = Classifier(path, threads=threads)
    return top1(model.probabilities(images), model.indices(labels))
