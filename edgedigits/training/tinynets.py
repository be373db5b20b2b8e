"""Nets for the two fronts beside models.py's references: few weights (parameter records) and few nodes (batch-1
time), registered with registry.register like every other builder.
"""

from __future__ import annotations

from edgedigits.training.models import classifier, register


def _conv_bn_relu(layers, n: int, filters: int, kernel: int, stride: int = 1) -> list:
    """A valid convolution without bias, batch norm (folded into the convolution's kernel and bias at export) and
    ReLU (fused into the convolution by onnxruntime)."""
    return [layers.Conv2D(filters, kernel, strides=stride, use_bias=False, name=f"conv{n}"),
            layers.BatchNormalization(name=f"bn{n}"), layers.ReLU(name=f"relu{n}")]


# lenet-fast's two strided convolutions and a third, unstrided 3x3 one on the 5x5 map: 8 nodes in onnxruntime's
# optimized graph (Reshape, Conv, Conv, Conv, ReorderOutput, Reshape, Gemm, Softmax), ~344k multiply-adds, every
# width a multiple of 16 (the AVX-512 NCHWc block). Channels-first flatten, so no transpose before the Gemm.
# Trained with conv3 at 64 and structured-pruned to 48 (pipelines/lenet-fast-deep.toml).
@register("LeNet-class network shaped for onnxruntime's optimized graph, one convolution deeper than lenet-fast: "
          "two stride-2 convolutions and a 3x3 one, batch norm folded, no hidden dense layer",
          "conv16 5x5/2 + BN, conv32 3x3/2 + BN, conv64 3x3 + BN, dense softmax")
def lenet_fast_deep(layers, num_classes):
    return [*_conv_bn_relu(layers, 1, 16, 5, 2), *_conv_bn_relu(layers, 2, 32, 3, 2), *_conv_bn_relu(layers, 3, 64, 3),
            layers.Permute((3, 1, 2), name="channels_first"), layers.Flatten(name="flatten"),
            classifier(layers, num_classes)]
