"""Run an exported model with onnxruntime and numpy only: what any app that embeds an edgedigits model needs.

Never import TensorFlow here (a test checks): an app that embeds a model installs none of the training stack.
Everything an app needs to know (input/output names, labels, normalization) is read from the ONNX metadata.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edgedigits.errors import InputError

IMAGE_SHAPE = (28, 28)
NORMALIZATION = "float32 = uint8 / 255, shape [N,28,28,1], white ink on black (MNIST convention)"


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 [N,28,28] (or [28,28], or already-float [0,1]) -> the model's float32 [N,28,28,1] input."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise InputError(f"expected images of shape [N,28,28] or [N,28,28,1], got {list(np.shape(images))}")
    if images.dtype == np.uint8:
        return (images.astype(np.float32) / np.float32(255.0))[..., None]
    if np.issubdtype(images.dtype, np.floating):
        return np.ascontiguousarray(images, dtype=np.float32)[..., None]
    raise InputError(f"expected uint8 or float images, got dtype {images.dtype}")


def session_options(threads: int = 0) -> ort.SessionOptions:
    """Session options used everywhere, so accuracy and latency are measured on the same configuration."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return options


def open_session(path: str | os.PathLike, threads: int = 0, providers: list[str] | None = None) -> ort.InferenceSession:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model not found: {path}")
    try:
        return ort.InferenceSession(str(path), session_options(threads), providers=providers or ["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
        raise InputError(f"cannot load {path} as an ONNX model: {str(exc).splitlines()[0]}") from None


@dataclass
class Prediction:
    indices: np.ndarray  # [N] int
    labels: list[str]
    probabilities: np.ndarray  # [N, C] float32

    @property
    def confidences(self) -> np.ndarray:
        return self.probabilities[np.arange(len(self.indices)), self.indices]


class Classifier:
    """An exported model ready to classify 28x28 images."""

    def __init__(self, path: str | os.PathLike, threads: int = 0, providers: list[str] | None = None):
        self.path = Path(path)
        self.session = open_session(path, threads, providers)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.metadata = meta
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name
        shape = self.session.get_inputs()[0].shape
        if len(shape) != 4 or list(shape[1:]) != [28, 28, 1]:
            raise InputError(f"{self.path}: model input must be [N,28,28,1], got {shape}")
        self.labels = json.loads(meta["labels"]) if "labels" in meta else [str(i) for i in range(self.num_outputs)]

    @property
    def num_outputs(self) -> int:
        return int(self.session.get_outputs()[0].shape[-1])

    def probabilities(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        x = normalize(images)
        out = [self.session.run([self.output_name], {self.input_name: x[i : i + batch_size]})[0]
               for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.num_outputs), np.float32)

    def classify(self, images: np.ndarray) -> Prediction:
        probs = self.probabilities(images)
        indices = probs.argmax(axis=1)
        return Prediction(indices, [self.labels[i] for i in indices], probs)


def accuracy(path: str | os.PathLike, images: np.ndarray, labels: np.ndarray, threads: int = 0) -> float:
    """Top-1 accuracy in percent through onnxruntime on the artifact itself."""
    predicted = Classifier(path, threads=threads).probabilities(images).argmax(axis=1)
    return float(100.0 * np.mean(predicted == np.asarray(labels)))
