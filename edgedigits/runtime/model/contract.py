"""The ONNX contract of an edgedigits classifier, read and checked in one place: what its input and output are
called and shaped, its class labels and normalization, all from the file itself (graph and metadata_props), so an
app needs nothing but the .onnx. Every loader (Classifier, bench) reads a model through `read`; a file that breaks
the contract is one InputError naming the file and what is wrong."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from edgedigits.errors import InputError

IMAGE_INPUT = (28, 28, 1)  # height, width, channels of the models the digit reader runs
NORMALIZATION = "float32 = uint8 / 255, shape [N,28,28,1], white ink on black (MNIST convention)"


@dataclass(frozen=True)
class Contract:
    input_name: str
    output_name: str
    input_shape: tuple  # (height, width, channels)
    classes: int  # -1 when the graph does not say
    labels: list  # one name per class
    normalization: str
    metadata: dict  # every metadata_props entry, as strings

    @property
    def dataset(self) -> str:
        return self.metadata.get("dataset", "")

    @property
    def stage(self) -> str:
        return self.metadata.get("stage", "")


def read(session: ort.InferenceSession, path, input_shape: tuple | None = IMAGE_INPUT) -> Contract:
    """The contract of the model `session` runs, checked: one float32 image input [N,H,W,C] (of `input_shape`
    when given), one output [N,C], metadata names that agree with the graph's, and labels as a JSON list of C
    strings (digits 0..C-1 when the metadata has none)."""
    path = Path(path)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) < 1:
        raise InputError(f"{path}: a classifier has one input and one output, got {len(inputs)} and {len(outputs)}")
    inp, out = inputs[0], outputs[0]
    meta = dict(session.get_modelmeta().custom_metadata_map)
    for key, actual in (("input_name", inp.name), ("output_name", out.name)):
        if meta.get(key, actual) != actual:
            raise InputError(f"{path}: metadata {key} {meta[key]!r} is not the graph's {actual!r}")
    shape = inp.shape
    if len(shape) != 4 or not all(isinstance(d, int) and d > 0 for d in shape[1:]):
        raise InputError(f"{path}: model input must be an image batch [N,H,W,C], got {shape}")
    if input_shape is not None and tuple(shape[1:]) != tuple(input_shape):
        wanted = ",".join(str(d) for d in input_shape)
        raise InputError(f"{path}: model input must be [N,{wanted}], got {shape}")
    if inp.type != "tensor(float)":
        raise InputError(f"{path}: model input must be float32, got {inp.type}")
    if out.type != "tensor(float)" or len(out.shape) != 2:
        raise InputError(f"{path}: model output must be float32 [N,classes], got {out.type} {out.shape}")
    classes = out.shape[-1] if isinstance(out.shape[-1], int) else -1
    labels = _labels(meta, classes, path)
    return Contract(inp.name, out.name, tuple(shape[1:]), classes, labels,
                    meta.get("normalization", NORMALIZATION), meta)


def _labels(meta: dict, classes: int, path: Path) -> list:
    if "labels" not in meta:
        if classes <= 0:
            raise InputError(f"{path}: the output's class count is unknown and the metadata has no labels")
        return [str(i) for i in range(classes)]
    try:
        labels = json.loads(meta["labels"])
    except json.JSONDecodeError:
        labels = None
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise InputError(f"{path}: metadata labels must be a JSON list of class names (strings), got "
                         f"{meta['labels'][:80]!r}")
    if classes > 0 and len(labels) != classes:
        raise InputError(f"{path}: {len(labels)} labels in metadata, but the model outputs {classes} classes")
    return labels
