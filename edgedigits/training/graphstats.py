"""Facts read from an ONNX file itself: multiply-accumulates and weight counts (what a user pays for a model).

Counted in the graph rather than in Keras, so an INT8 file is counted as shipped (a weight can round to zero; a
variant may keep some kernels in fp32). Needs the `onnx` package (training half).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx


def macs(path: Path) -> int:
    """Multiply-accumulates per image in the Conv and MatMul/Gemm nodes, from the graph's inferred shapes.

    Counts what edgedigits.training.structured.macs counts in Keras (conv: output pixels x kernel x input channels
    per group; matmul: weight rows x columns), read from the file itself, so a QDQ INT8 graph counts like its fp32
    source.
    Bias adds, activations and pooling are left out; QOperator nodes (QLinearConv) are not counted.
    """
    return _macs(onnx.load(str(path)))


def macs_at(path: Path, shape: tuple[int, ...]) -> int:
    """`macs` of a graph with dynamic input dimensions, for one input of `shape` (a frame of a given size)."""
    proto = onnx.load(str(path))
    for dim, value in zip(proto.graph.input[0].type.tensor_type.shape.dim, shape):
        dim.Clear()
        dim.dim_value = int(value)
    return _macs(proto)


def _macs(proto: onnx.ModelProto) -> int:
    inferred = onnx.shape_inference.infer_shapes(proto)
    shapes = {i.name: list(i.dims) for i in proto.graph.initializer}
    for info in list(inferred.graph.value_info) + list(inferred.graph.output):
        shapes[info.name] = [d.dim_value for d in info.type.tensor_type.shape.dim]
    total = 0
    for node in inferred.graph.node:
        if node.op_type == "Conv":
            cout, cin, kh, kw = shapes[node.input[1]]  # cin is per group already
            _, _, h, w = shapes[node.output[0]]  # tf2onnx emits NCHW Conv between transposes
            total += h * w * cout * cin * kh * kw
        elif node.op_type in ("MatMul", "Gemm") and len(shapes.get(node.input[1], [])) == 2:
            rows, cols = shapes[node.input[1]]
            total += rows * cols
    return int(total)


def weight_stats(path: str | Path) -> dict:
    """Count the conv/dense kernels' elements and exact zeros in the quantized graph itself: INT8 kernels (fed to
    DequantizeLinear, or to MatMulInteger/ConvInteger in dynamic variants) and the kernels a variant left in fp32.

    An INT8 weight is zero when (q - zero_point) == 0 for its channel; comparing q with 0 would be wrong for uint8
    weights and for channels that pruning emptied entirely (onnxruntime gives those their own zero point).
    """
    graph = onnx.load(str(path)).graph
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    counts = {"int8_weights": 0, "int8_zeros": 0, "float_weights": 0, "float_zeros": 0}
    for node in graph.node:
        if node.op_type == "DequantizeLinear":
            weight, zp_input, axis = 0, 2, next((a.i for a in node.attribute if a.name == "axis"), 1)
        elif node.op_type in ("MatMulInteger", "ConvInteger"):  # zero point per output column / channel
            weight, zp_input, axis = 1, 3, -1 if node.op_type == "MatMulInteger" else 0
        elif node.op_type in ("Conv", "Gemm", "MatMul"):
            w = inits.get(node.input[1]) if len(node.input) > 1 else None
            if w is not None and w.ndim >= 2 and np.issubdtype(w.dtype, np.floating):
                counts["float_weights"] += w.size
                counts["float_zeros"] += int(np.sum(w == 0))
            continue
        else:
            continue
        if len(node.input) <= weight or node.input[weight] not in inits or inits[node.input[weight]].ndim < 2:
            continue
        q = _centred(inits, node, weight, zp_input, axis)
        counts["int8_weights"] += q.size
        counts["int8_zeros"] += int(np.sum(q == 0))
    total = counts["int8_weights"] + counts["float_weights"]
    zeros = counts["int8_zeros"] + counts["float_zeros"]
    return {**counts, "kernel_sparsity": round(zeros / total, 4) if total else 0.0}


def _centred(inits: dict, node, weight: int, zp_input: int, axis: int) -> np.ndarray:
    """The integer tensor node.input[weight] minus its zero point (per channel along `axis`): 0 where it encodes 0."""
    q = inits[node.input[weight]].astype(np.int64)
    zp_name = node.input[zp_input] if len(node.input) > zp_input else ""
    zp = inits[zp_name].astype(np.int64) if zp_name else np.zeros(1, np.int64)
    if zp.size > 1:  # per-channel: align the zero points with their axis
        shape = [1] * q.ndim
        shape[axis] = zp.size
        zp = zp.reshape(shape)
    return q - zp


# The nodes whose constant inputs are a model's parameters (kernels and biases; tf2onnx adds a dense bias with Add),
# and for the integer ops of dynamic variants, which input is the weight and where its zero point is.
_PARAMETER_OPS = ("Conv", "Gemm", "MatMul", "Add")
_INTEGER_OPS = {"MatMulInteger": (1, 3, -1), "ConvInteger": (1, 3, 0)}


def parameter_stats(path: str | Path) -> dict:
    """All parameters a user pays for, counted in the file: every kernel and bias element feeding a Conv, Gemm,
    MatMul or bias Add, directly or through a DequantizeLinear (INT8 kernels and int32 biases), and the integer
    weights of dynamic variants; and how many of them encode a non-zero value. Batch norm is already folded into
    the convolutions by the export; quantization scales, zero points and shape constants are not parameters.
    """
    graph = onnx.load(str(path)).graph
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    dequantized = {n.output[0]: n for n in graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits}
    tensors = {}  # parameter name -> its values, zero where they encode 0
    for node in graph.node:
        if node.op_type in _INTEGER_OPS:
            weight, zp_input, axis = _INTEGER_OPS[node.op_type]
            if node.input[weight] in inits:
                tensors[node.input[weight]] = _centred(inits, node, weight, zp_input, axis)
        elif node.op_type in _PARAMETER_OPS:
            for name in node.input:
                if name in dequantized:
                    dq = dequantized[name]
                    axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
                    tensors[dq.input[0]] = _centred(inits, dq, 0, 2, axis)
                elif name in inits:
                    tensors[name] = inits[name]
    return {"parameters": sum(int(t.size) for t in tensors.values()),
            "nonzero_parameters": sum(int(np.count_nonzero(t)) for t in tensors.values())}
