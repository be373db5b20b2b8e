"""Keras -> ONNX with tf2onnx, checked twice: onnx.checker on the graph, and parity against Keras on test images.

Parity compares outputs only (max |diff|, argmax agreement); accuracy is scored later on the full test set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import tf2onnx  # noqa: E402, I001  (after the stack: it imports TensorFlow)
import tf2onnx.rewriter  # noqa: E402, F401  (its modules take names from tf2onnx's counter when first imported)

from edgedigits.errors import GateError
from edgedigits.runtime import Classifier, normalize
from edgedigits.training import models
from edgedigits.training.metadata import INPUT_NAME, OUTPUT_NAME, save
from edgedigits.training.stack import tf

__all__ = ["ParityError", "parity", "save", "to_onnx"]


class ParityError(GateError):
    """The exported graph does not compute what the Keras model computes."""


def to_onnx(model, opset: int = 17) -> onnx.ModelProto:
    """Convert with a dynamic batch dimension; input 'input' float32 [N,28,28,1], output 'probabilities' [N,C].

    tf2onnx numbers the nodes it adds from a counter global to the process; it restarts here, so a model converts to
    the same bytes whatever was converted before it in the process (tf2onnx.rewriter, whose modules take numbers
    when first imported, is imported with this module)."""
    tf2onnx.utils.INTERNAL_NAME = 1
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
