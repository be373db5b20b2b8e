"""Keras -> ONNX with tf2onnx, checked twice: onnx.checker on the graph, and parity against Keras on real inputs.
For any model: the caller (a task) gives the input signature and the inputs to compare on.

Parity compares outputs only (max |diff|, argmax agreement); accuracy is scored on the full test set afterwards.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import tf2onnx  # noqa: E402, I001  (after the stack: it imports TensorFlow)
import tf2onnx.rewriter  # noqa: E402, F401  (its modules take names from tf2onnx's counter when first imported)

from edgedigits import runtime
from edgedigits.errors import GateError
from edgedigits.training.metadata import save
from edgedigits.training.stack import tf

__all__ = ["ParityError", "parity", "save", "to_onnx"]


class ParityError(GateError):
    """The exported graph does not compute what the Keras model computes."""


def to_onnx(model, signature=None, opset: int = 17) -> onnx.ModelProto:
    """Convert `model` with the input TensorSpecs `signature` (default: the model's own inputs, named as in Keras;
    dynamic dimensions stay dynamic), checked.

    tf2onnx numbers the nodes it adds from a counter global to the process; it restarts here, so a model converts to
    the same bytes whatever was converted before it in the process (tf2onnx.rewriter, whose modules take numbers
    when first imported, is imported with this module)."""
    tf2onnx.utils.INTERNAL_NAME = 1
    if signature is None:
        signature = tuple(tf.TensorSpec(t.shape, t.dtype, name=t.name.split(":")[0]) for t in model.inputs)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=opset)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def parity(model, onnx_path: str | Path, inputs: np.ndarray, tolerance: float = 1e-4) -> dict:
    """Compare Keras `model` and onnxruntime on the float `inputs` (one batch); raise ParityError if they differ by
    more than `tolerance` anywhere."""
    expected = np.asarray(model(inputs, training=False))
    session = runtime.open_session(onnx_path)
    got = session.run(None, {session.get_inputs()[0].name: inputs})[0]
    result = {
        "images": int(len(inputs)),
        "max_abs_diff": float(np.max(np.abs(expected - got))),
        "argmax_agreement": float(np.mean(expected.argmax(-1) == got.argmax(-1))),
        "tolerance": tolerance,
    }
    if result["max_abs_diff"] > tolerance:
        raise ParityError(f"ONNX output differs from Keras by {result['max_abs_diff']:.3g} (> {tolerance:g}) on "
                          f"{len(inputs)} inputs")
    return result
