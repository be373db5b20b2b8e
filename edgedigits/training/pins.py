"""Reproducible training: what makes two runs of a recipe give different bytes, pinned before TensorFlow loads.

Measured (benchmarks/reproducibility.py): with the recipe's seed, two runs on one machine give the same files; what
changed them was the intra-op thread count (TensorFlow partitions sums by thread, so a 4-core machine trains other
weights than a 2-core one) and oneDNN's instruction set (AVX-512 kernels sum in another order than AVX2 ones). So a
training run, by default:
- caps oneDNN at AVX2 (ONEDNN_MAX_CPU_ISA), the kernels every x86-64 CPU that runs TensorFlow's wheels has;
- runs TensorFlow on a fixed number of threads (REPRODUCIBLE_THREADS, or EDGEDIGITS_THREADS), not one per core;
- turns on TensorFlow's op determinism (an op without a deterministic kernel is an error, not a silent difference).
EDGEDIGITS_REPRODUCIBLE=0 turns all three off (TensorFlow's own defaults: the fastest kernels and every core), for
benchmarks that time Keras itself. The manifest records the pins in force (`in_force`), and `edgedigits verify`
re-runs a recipe under the same ones (`environment`).

Set before TensorFlow is imported (training/stack.py calls `before_import` and `after_import`): oneDNN reads its
variables once.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata as importlib_metadata

REPRODUCIBLE_THREADS = 2
ISA = "AVX2"
# every variable that changes what TensorFlow computes; `environment` sets or clears exactly these
VARIABLES = ("EDGEDIGITS_REPRODUCIBLE", "EDGEDIGITS_THREADS", "ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS")
LIBRARIES = ("edgedigits", "tensorflow", "tf-keras", "tensorflow-model-optimization", "tf2onnx", "onnx",
             "onnxruntime", "numpy", "opencv-python-headless")


def reproducible() -> bool:
    return os.environ.get("EDGEDIGITS_REPRODUCIBLE", "1") != "0"


def threads() -> int:
    """TensorFlow's intra-op threads: EDGEDIGITS_THREADS (sweep workers share the cores), else the fixed count when
    reproducible, else 0 (TensorFlow's default: one per core)."""
    if os.environ.get("EDGEDIGITS_THREADS"):
        return int(os.environ["EDGEDIGITS_THREADS"])
    return REPRODUCIBLE_THREADS if reproducible() else 0


def before_import() -> None:
    """The environment oneDNN reads when TensorFlow loads."""
    if reproducible():
        os.environ.setdefault("ONEDNN_MAX_CPU_ISA", ISA)


def after_import(tf) -> None:
    """Threads and determinism, before TensorFlow runs its first op."""
    if threads():
        tf.config.threading.set_intra_op_parallelism_threads(threads())
        tf.config.threading.set_inter_op_parallelism_threads(1)
    if reproducible():
        tf.config.experimental.enable_op_determinism()


def in_force(tf) -> dict:
    """The pins of this process (`tf`: TensorFlow as training/stack.py loaded it), as the manifest records them."""
    return {
        "reproducible": reproducible(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "op_determinism": _determinism(tf),
    }


def environment(record: dict) -> dict[str, str | None]:
    """The variables (None: unset) that give a new process the pins `record` (from `in_force`) describes."""
    return {
        "EDGEDIGITS_REPRODUCIBLE": "1" if record.get("reproducible") else "0",
        "EDGEDIGITS_THREADS": str(record["intra_op_threads"]) if record.get("intra_op_threads") else None,
        "ONEDNN_MAX_CPU_ISA": record.get("onednn_max_cpu_isa"),
        "TF_ENABLE_ONEDNN_OPTS": record.get("tf_enable_onednn_opts"),
    }


def _determinism(tf) -> bool:
    from tensorflow.python.framework import config as tf_config  # no public getter for the flag

    return bool(tf_config.is_op_determinism_enabled())


def record(ctx, tf) -> dict:
    """The manifest's "reproduce" entry for the run `ctx` (stages.Run) trained with TensorFlow `tf`."""
    quant = ctx.recipe.quantize
    by = "recipe" if len(quant.variants) == 1 else ("timing" if quant.select == "fastest" else "validation")
    return {
        "command": "edgedigits verify MANIFEST",
        "recipe_sha256": ctx.recipe.sha256,
        "data_sha256": ctx.ds.sha256,
        "pins": in_force(tf),
        "int8_variant_chosen_by": by,  # recipe: one variant named; timing: the running CPU's; validation: accuracy
        "python": platform.python_version(),
        "libraries": {name: _version(name) for name in LIBRARIES},
    }


def _version(name: str) -> str | None:
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return None
