"""Keras -> ONNX with tf2onnx, checked twice: onnx.checker on the graph, and parity against Keras on test images.

Parity compares outputs only (max |diff|, argmax agreement); accuracy is scored later on the full test set.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx

from edgedigits import __version__
from edgedigits.errors import GateError
from edgedigits.runtime import NORMALIZATION, Classifier, normalize
from edgedigits.runtime.artifacts import atomic_path
from edgedigits.training import models
from edgedigits.training.stack import tf

import tf2onnx  # noqa: E402  (after training_stack: it imports TensorFlow)

INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"
BATCH = "N"  # the batch dimension's name in every shipped graph (tf2onnx would call it unk__49)


class ParityError(GateError):
    """The exported graph does not compute what the Keras model computes."""


def to_onnx(model, opset: int = 17) -> onnx.ModelProto:
    """Convert with a dynamic batch dimension; input 'input' float32 [N,28,28,1], output 'probabilities' [N,C]."""
    spec = (tf.TensorSpec((None, *models.INPUT_SHAPE), tf.float32, name=INPUT_NAME),)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=opset)
    _rename_output(proto, OUTPUT_NAME)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _rename_output(proto: onnx.ModelProto, name: str) -> None:
    old = proto.graph.output[0].name
    for node in proto.graph.node:
        node.output[:] = [name if o == old else o for o in node.output]
    proto.graph.output[0].name = name


def set_metadata(proto: onnx.ModelProto, **values) -> None:
    """Store values in metadata_props (non-strings as JSON), replacing keys already present."""
    current = {p.key: p.value for p in proto.metadata_props}
    current.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()})
    del proto.metadata_props[:]
    for key, value in current.items():
        proto.metadata_props.add(key=key, value=value)


def base_metadata(labels, dataset: str, pipeline: str) -> dict:
    """The contract an app needs, as metadata_props: the sentence, and the same facts as machine-readable keys."""
    return {
        "labels": list(labels),
        "dataset": dataset,
        "normalization": NORMALIZATION,
        "input_name": INPUT_NAME,
        "input_dtype": "float32",
        "input_layout": "NHWC",
        "input_shape": [BATCH, *models.INPUT_SHAPE],
        "input_scale": 1 / 255,  # float input = uint8 pixel * input_scale
        "ink": "white-on-black",
        "output_name": OUTPUT_NAME,
        "pipeline": pipeline,
        "producer": "edgedigits",
    }


def finalize(proto: onnx.ModelProto, description: str, version: int = 1, **meta) -> None:
    """Make a graph read well in other tools (Netron, model zoos, any app): producer and version, a doc string
    saying what the model is, the batch dimension named N, no opset imports that no node uses (the quantizer
    adds eight), and `meta` merged into metadata_props."""
    proto.producer_name, proto.producer_version = "edgedigits", __version__
    proto.model_version = version
    proto.doc_string = description
    graph = proto.graph
    batch = {t.type.tensor_type.shape.dim[0].dim_param for t in [*graph.input, *graph.output]
             if t.type.tensor_type.shape.dim and t.type.tensor_type.shape.dim[0].dim_param}
    for value in [*graph.input, *graph.output, *graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in batch:
                dim.dim_param = BATCH
    used = {node.domain or "ai.onnx" for node in graph.node} | {"ai.onnx"}
    kept = [o for o in proto.opset_import if (o.domain or "ai.onnx") in used]
    del proto.opset_import[:]
    proto.opset_import.extend(kept)
    set_metadata(proto, **meta)


def describe(meta: dict, source: str) -> str:
    """The doc string of a shipped graph: what it is, its input contract and its measured accuracy."""
    labels = meta["labels"]
    text = (f"{meta['pipeline']} ({meta.get('stage', 'fp32')}), made by edgedigits: {source}. Classifies 28x28 "
            f"{meta['dataset']} images into {len(labels)} classes ({', '.join(labels)}). Input '{meta['input_name']}':"
            f" {NORMALIZATION}. Output '{meta['output_name']}': [{BATCH},{len(labels)}] probabilities.")
    if "test_accuracy" in meta:
        text += (f" Test accuracy {meta['test_accuracy']:.2f}% on the {meta['dataset']} test set through onnxruntime"
                 + (f" (CPU features: {' '.join(meta['measured_on'])})." if meta.get("measured_on") else "."))
    return text


def save(proto: onnx.ModelProto, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))


def parity(model, onnx_path: str | Path, images: np.ndarray, tolerance: float = 1e-4) -> dict:
    """Compare Keras and onnxruntime on `images` (uint8); raise ParityError if they differ by more than `tolerance`."""
    x = normalize(images)
    expected = model.predict(x, batch_size=1000, verbose=0)
    got = Classifier(onnx_path).probabilities(images)
    result = {
        "images": int(len(x)),
        "max_abs_diff": float(np.max(np.abs(expected - got))),
        "argmax_agreement": float(np.mean(expected.argmax(1) == got.argmax(1))),
        "tolerance": tolerance,
    }
    if result["max_abs_diff"] > tolerance:
        raise ParityError(
            f"ONNX output differs from Keras by {result['max_abs_diff']:.3g} (> {tolerance:g}) on {len(x)} test images"
        )
    return result
