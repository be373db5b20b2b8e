"""The ONNX contract of an edgedigits classifier, read and checked in one place: what its input and output are
called and shaped, its class labels and normalization, all from the file itself (graph and metadata_props), so an
app needs nothing but the .onnx. Every loader (Classifier, bench) reads a model through `read`; a file that breaks
the contract is one InputError naming the file and what is wrong."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from edgedigits.errors import InputError, shown
from edgedigits.limits import MAX_LABEL_CHARS
from edgedigits.runtime.model.jsonfile import loads

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
            raise InputError(f"{path}: metadata {key} {shown(meta[key])} is not the graph's {actual!r}")
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
    check_metadata(meta, shape, path)
    return Contract(inp.name, out.name, tuple(shape[1:]), classes, labels,
                    meta.get("normalization", NORMALIZATION), meta)


# What the runtime feeds a model and reads from its metadata: a file whose metadata says otherwise would be fed the
# wrong numbers and read silently wrong, so it is refused. Keys not listed here are only shown, never acted on.
FED = {"input_dtype": "float32", "input_layout": "NHWC", "ink": "white-on-black"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")  # dataset and stage: short names printed in tables
MAX_TEXT = 2000  # characters of any metadata value the runtime shows (normalization)


def check_metadata(meta: dict, shape: list, path: Path) -> None:
    """Every metadata key the runtime acts on, checked against what it feeds the model (uint8 / 255, NHWC float32,
    white ink on black) and against the graph's own input shape; InputError names the key."""
    for key, wanted in FED.items():
        if key in meta and meta[key] != wanted:
            raise InputError(f"{path}: metadata {key} {shown(meta[key])} is not {wanted!r}, which edgedigits feeds")
    if "input_scale" in meta:
        scale = _json(meta["input_scale"])
        scale = float(scale) if type(scale) in (int, float) else math.nan
        if not math.isclose(scale, 1 / 255, rel_tol=1e-6):
            raise InputError(f"{path}: metadata input_scale {shown(meta['input_scale'])} is not 1/255 (edgedigits "
                             f"feeds uint8 / 255)")
    if "input_shape" in meta:
        said = _json(meta["input_shape"])
        if not (isinstance(said, list) and len(said) == len(shape) and all(
                a == b for a, b in zip(said, shape) if isinstance(a, int) and isinstance(b, int))):
            raise InputError(f"{path}: metadata input_shape {shown(meta['input_shape'])} is not the graph's {shape}")
    for key in ("dataset", "stage"):
        if key in meta and not NAME.match(meta[key]):
            raise InputError(f"{path}: metadata {key} {shown(meta[key])} is not a name (letters, digits, . _ + -, at "
                             f"most 64)")
    if len(meta.get("normalization", "")) > MAX_TEXT:
        raise InputError(f"{path}: metadata normalization is {len(meta['normalization']):,} characters, over "
                         f"{MAX_TEXT:,}")


def read_sequence(session: ort.InferenceSession, path, height: int, classes: int, stride: int) -> str:
    """The contract of a number reader (a sequence model), checked; returns its input name. One float32 input
    [N,height,W,1], one float32 output [N,T,classes] (digits and the CTC blank), and metadata that agrees: a
    classifier or a model of other classes given as a number reader is one InputError."""
    path = Path(path)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise InputError(f"{path}: a number reader has one input and one output, got {len(inputs)} and "
                         f"{len(outputs)}")
    inp, out = inputs[0], outputs[0]
    if inp.type != "tensor(float)" or len(inp.shape) != 4 or inp.shape[1] != height or inp.shape[3] != 1:
        raise InputError(f"{path}: not a number reader: its input must be float32 [N,{height},W,1], got {inp.type} "
                         f"{inp.shape}")
    if out.type != "tensor(float)" or len(out.shape) != 3 or out.shape[2] != classes:
        raise InputError(f"{path}: not a number reader: its output must be float32 [N,T,{classes}] (digits and the "
                         f"blank), got {out.type} {out.shape}")
    meta = dict(session.get_modelmeta().custom_metadata_map)
    for key, wanted in (("stride", stride), ("blank", classes - 1)):
        if key in meta and _json(meta[key]) != wanted:
            raise InputError(f"{path}: metadata {key} {shown(meta[key])} is not {wanted}, which the reader decodes")
    if "labels" in meta and _labels(meta, classes - 1, path) != [str(d) for d in range(classes - 1)]:
        raise InputError(f"{path}: a number reader's labels must be the digits 0-{classes - 2}")
    check_metadata(meta, inp.shape, path)
    return inp.name


def _json(text: str):
    try:
        return loads(text)
    except ValueError:
        return None


def _labels(meta: dict, classes: int, path: Path) -> list:
    if "labels" not in meta:
        if classes <= 0:
            raise InputError(f"{path}: the output's class count is unknown and the metadata has no labels")
        return [str(i) for i in range(classes)]
    labels = _json(meta["labels"])
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise InputError(f"{path}: metadata labels must be a JSON list of class names (strings), got "
                         f"{shown(meta['labels'])}")
    if classes > 0 and len(labels) != classes:
        raise InputError(f"{path}: {len(labels)} labels in metadata, but the model outputs {classes} classes")
    for label in labels:  # printed in a line of text per image: one short, printable, distinct word each
        if not label or len(label) > MAX_LABEL_CHARS or not label.isprintable() or label != label.strip():
            raise InputError(f"{path}: metadata label {shown(label)} is not a class name (1-{MAX_LABEL_CHARS} "
                             f"printable characters, no surrounding space)")
    if len(set(labels)) != len(labels):
        raise InputError(f"{path}: metadata labels name a class twice: {shown(meta['labels'])}")
    return labels
