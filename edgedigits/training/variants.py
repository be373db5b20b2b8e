"""The INT8 variants the quantize stage can build, named once. A leaf module (no onnxruntime import), so reading
a recipe can check its variant names without loading the quantizer.

Why several (docs/quantization.md has the figures per CPU): onnxruntime's integer kernels are not faster than its
fp32 ones on networks this small, with AVX2 or AVX-512 VNNI; a first convolution with one input channel is much
slower as QLinearConv; every Q/DQ node costs time at batch 1; U8S8 kernels can saturate without VNNI (reduce-range
and U8U8 read the same on AVX2 and VNNI CPUs). Which one to ship is the recipe's choice (`quantize.select`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """One way to quantize: which ops get integer kernels, in which types, calibrated (static) or at run time."""

    activations: str = "QUInt8"  # onnxruntime.quantization.QuantType names; static only
    weights: str = "QInt8"
    reduce_range: bool = False  # 7-bit weights: avoids U8S8 saturation on CPUs without VNNI
    ops: str = "all"  # all | dense (MatMul/Gemm only) | skip-first-conv (the first Conv stays fp32)
    dynamic: bool = False  # quantize_dynamic: no calibration, activations quantized at run time

    @property
    def format(self) -> str:
        return "dynamic" if self.dynamic else "QDQ"


# All static variants are QDQ: QOperator files ran the same fused kernels (same optimized graph, same speed).
VARIANTS = {
    "u8s8": Variant(),
    "u8s8-reduce-range": Variant(reduce_range=True),
    "u8u8": Variant(weights="QUInt8"),
    "u8s8-skip-first-conv": Variant(ops="skip-first-conv"),
    "u8s8-dense": Variant(ops="dense"),
    # u8s8-dense's kernels with 7-bit weights: the same answers on AVX2 and VNNI CPUs; built when a recipe names it
    "u8s8-dense-reduce-range": Variant(ops="dense", reduce_range=True),
    "dynamic-dense": Variant(ops="dense", dynamic=True),
    "dynamic-dense-reduce-range": Variant(ops="dense", dynamic=True, reduce_range=True),
}
# Built by default: the static ones but u8s8-dense-reduce-range (a recipe names it for the same file on every CPU,
# docs/reproducibility.md). Dynamic variants are the fastest INT8 on AVX2 CPUs, but their activation scales
# come from each call's batch, so an image's answer can depend on what it is batched with (5 of 10,000 MNIST test
# predictions of lenet differ between batch 1 and batch 1000): opt in with quantize.variants when that is acceptable.
DEFAULT = ("u8s8", "u8s8-reduce-range", "u8u8", "u8s8-skip-first-conv", "u8s8-dense")
# Variants whose integer kernels read the same on AVX2 and AVX-512 VNNI CPUs (no U8S8 saturation).
ISA_STABLE = tuple(name for name, v in VARIANTS.items() if v.reduce_range or v.weights == "QUInt8")
