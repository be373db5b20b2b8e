"""What every shipped ONNX file says about itself (metadata_props, doc string, producer): onnx only, no TensorFlow,
so quantizing or re-stamping a file needs none of the training stack."""

from __future__ import annotations

import json
import os

import onnx

from edgedigits import __version__
from edgedigits.runtime import NORMALIZATION
from edgedigits.runtime.model.artifacts import atomic_path
from edgedigits.training import models

INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"
BATCH = "N"  # the batch dimension's name in every shipped graph (tf2onnx would call it unk__49)


def set_metadata(proto: onnx.ModelProto, **values) -> None:
    """Store values in metadata_props (non-strings as JSON), replacing keys already present."""
    current = {p.key: p.value for p in proto.metadata_props}
    current.update({k: v if isinstance(v, str) else json.dumps(v, allow_nan=False) for k, v in values.items()})
    del proto.metadata_props[:]
    for key, value in current.items():
        proto.metadata_props.add(key=key, value=value)


def rename_output(proto: onnx.ModelProto, name: str) -> None:
    """Give the graph's (first) output the contract's name, wherever a node writes it."""
    old = proto.graph.output[0].name
    for node in proto.graph.node:
        node.output[:] = [name if o == old else o for o in node.output]
    proto.graph.output[0].name = name


def base_metadata(labels, dataset: str, pipeline: str, shape: tuple = models.INPUT_SHAPE,
                  files: dict | None = None) -> dict:
    """The contract an app needs, as metadata_props: the sentence, and the same facts as machine-readable keys.
    A model of a dataset in files (`files`: where it was read, so `bench` can score it again) takes images of its
    `shape` as that data has them; the built-in datasets' models take MNIST-convention digits."""
    meta = {
        "labels": list(labels),
        "dataset": dataset,
        "normalization": NORMALIZATION if files is None else normalization(shape),
        "input_name": INPUT_NAME,
        "input_dtype": "float32",
        "input_layout": "NHWC",
        "input_shape": [BATCH, *shape],
        "input_scale": 1 / 255,  # float input = uint8 pixel * input_scale
        "ink": "white-on-black",
        "output_name": OUTPUT_NAME,
        "pipeline": pipeline,
        "producer": "edgedigits",
    }
    if files is not None:
        del meta["ink"]  # the user's images are as they are
        meta["dataset_files"] = files
    return meta


def normalization(shape: tuple) -> str:
    """The input contract of a model of a dataset in files, in words."""
    height, width, channels = shape
    colour = "grayscale" if channels == 1 else "RGB, channels last"
    return (f"float32 = uint8 / 255, shape [N,{height},{width},{channels}], {colour}, pixels as in the training "
            f"data")


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
    _, height, width, channels = meta.get("input_shape", [BATCH, *models.INPUT_SHAPE])
    size = f"{height}x{width}" + (" RGB" if channels == 3 else "")
    text = (f"{meta['pipeline']} ({meta.get('stage', 'fp32')}), made by edgedigits: {source}. Classifies {size} "
            f"{meta['dataset']} images into {len(labels)} classes ({', '.join(labels)}). Input '{meta['input_name']}':"
            f" {meta.get('normalization', NORMALIZATION)}. Output '{meta['output_name']}': [{BATCH},{len(labels)}] "
            f"probabilities.")
    if "test_accuracy" in meta:
        text += f" Test accuracy {meta['test_accuracy']:.2f}% on the {meta['dataset']} test set through onnxruntime."
    return text


def save(proto: onnx.ModelProto, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))


def stamp(path: str | os.PathLike, description: str, check, **meta) -> None:
    """Rewrite the ONNX file at `path` with its description and `meta` (finalize), then `check(path)`: what is
    written loads, its metadata meets the contract of its kind."""
    proto = onnx.load(str(path))
    finalize(proto, description, **meta)
    save(proto, path)
    check(path)
