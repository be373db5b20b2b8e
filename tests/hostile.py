"""Generators of hostile input, by class (Hypothesis strategies, and what each one writes to disk): the journal a
folder someone sends you may hold, manifests, model metadata, image files, and values for every argument of the
runtime API. tests/test_fuzz.py says what must hold for every case each one generates."""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from hypothesis import strategies as st

from edgedigits.runtime.model import artifacts

# --- JSON of any shape, with the NaN and Infinity tokens Python's json module writes -------------------------------

LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                   st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
JSON = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                          max_size=3), max_leaves=8)


def dumps(value) -> str:
    return json.dumps(value, allow_nan=True)  # NaN, Infinity: what a hand-edited or hostile file may hold


# --- journals -------------------------------------------------------------------------------------------------------

SET = "lenet"
NAMES = st.one_of(
    st.sampled_from(["lenet.onnx", "lenet.int8.onnx", "lenet.json", "../victim.txt", "/tmp/edgedigits-victim.txt",
                     "sub/lenet.onnx", "other.onnx", "..", ".", "", "lenet.onnx/..", "lenet.\\..\\victim.txt",
                     "lenet.x\x00y", "lenet.", ".lenet.onnx", "lenet.json/"]),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=10),
)
ENTRY = st.sampled_from(["file", "dir", "link-out", "link-in", "fifo", "missing"])
DIGEST = st.sampled_from(["right", "wrong", "number", "missing"])


@dataclass
class Journal:
    order: object  # the journal's "order" (usually a list of names)
    entries: dict  # name -> (what stands at staging/name, how its digest is given, its bytes)
    journal: str  # json, garbage, nan, link-out, dir, missing
    mark: str  # file, dir, link-out, missing
    staging: str  # dir, file, link-out


@st.composite
def journals(draw) -> Journal:
    order = draw(st.one_of(st.lists(NAMES, max_size=4), JSON))
    names = order if isinstance(order, list) else []
    entries = {name: (draw(ENTRY), draw(DIGEST), draw(st.binary(min_size=1, max_size=8)))
               for name in names if isinstance(name, str)}
    return Journal(order, entries, draw(st.sampled_from(["json", "json", "garbage", "nan", "link-out", "dir",
                                                         "fifo", "missing"])),
                   draw(st.sampled_from(["file", "file", "dir", "link-out", "fifo", "missing"])),
                   draw(st.sampled_from(["dir", "dir", "dir", "file", "link-out"])))


def plain(name: str) -> bool:
    """A name that can stand in a folder as one entry."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name and len(name) < 200


def plant(folder: Path, outside: Path, case: Journal) -> None:
    """Write `case` into folder/.lenet.staging; links point into `outside`, a folder beside it."""
    staging = folder / f".{SET}{artifacts.STAGING_SUFFIX}"
    if case.staging == "file":
        staging.write_bytes(b"a plain file")
        return
    if case.staging == "link-out":
        staging.symlink_to(outside, target_is_directory=True)
        return
    staging.mkdir()
    _stand(staging / artifacts.STAGING_MARK, case.mark, b"", outside)
    digests = {}
    for name, (kind, digest, data) in case.entries.items():
        if plain(name):
            _stand(staging / name, kind, data, outside)
        digests[name] = {"right": hashlib.sha256(data).hexdigest(), "wrong": "0" * 64, "number": 7,
                         "missing": None}[digest]
    digests = {k: v for k, v in digests.items() if v is not None}
    text = {"json": dumps({"order": case.order, "sha256": digests}), "garbage": "{not json",
            "nan": dumps({"order": case.order, "sha256": math.nan})}.get(case.journal, "")
    _stand(staging / artifacts.COMMIT, "file" if case.journal in ("json", "garbage", "nan") else case.journal,
           text.encode(), outside)


def _stand(path: Path, kind: str, data: bytes, outside: Path) -> None:
    if kind == "file":
        path.write_bytes(data)
    elif kind == "dir":
        path.mkdir()
    elif kind == "link-out":
        path.symlink_to(outside / "victim.txt")
    elif kind == "link-in":
        path.symlink_to(path.parent.parent / "lenet.json")
    elif kind == "fifo":
        os.mkfifo(path)


# --- manifests ------------------------------------------------------------------------------------------------------

MANIFEST_KEYS = ["files", "stages", "files.pruned", "files.int8", "stages.int8", "stages.pruned", "stages.int8.sha256",
                 "stages.int8.parameters", "stages.int8.nonzero_parameters", "stages.pruned.sha256", "name"]


@st.composite
def manifests(draw, base: dict) -> bytes:
    """The bytes of a manifest: the real one with a key replaced by any JSON (NaN and Infinity included), a value
    that names a path, or bytes that are not JSON at all."""
    kind = draw(st.sampled_from(["replace", "replace", "path", "garbage", "deep", "whole"]))
    if kind == "garbage":
        return draw(st.binary(max_size=40))
    if kind == "deep":  # deeper than Python's JSON parser recurses
        return b'{"stages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    if kind == "whole":
        return dumps(draw(JSON)).encode()
    manifest = json.loads(json.dumps(base))
    *parents, leaf = draw(st.sampled_from(MANIFEST_KEYS)).split(".")
    node = manifest
    for key in parents:
        node = node.setdefault(key, {}) if isinstance(node, dict) else {}
    value = draw(JSON) if kind == "replace" else draw(st.sampled_from(["../lenet.int8.onnx", "/etc/passwd",
                                                                        "sub/x.onnx", "", "."]))
    if isinstance(node, dict):
        node[leaf] = value
    return dumps(manifest).encode()


# --- model metadata -------------------------------------------------------------------------------------------------

def model_bytes(meta: dict, classes: int = 10, shape=("N", 28, 28, 1)) -> bytes:
    """A small valid classifier graph (flatten, matrix product, softmax) carrying `meta` as its metadata_props."""
    from onnx import TensorProto, helper, numpy_helper

    pixels = int(np.prod([d for d in shape[1:]]))
    weights = np.random.default_rng(0).normal(0, 0.01, (pixels, classes)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["input", "shape"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["z"]),
         helper.make_node("Softmax", ["z"], ["probabilities"], axis=-1)], "hostile",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes])],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(np.array([-1, pixels], np.int64), "shape")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    return model.SerializeToString()


def sequence_bytes(height: int = 32, classes: int = 11, meta: dict | None = None) -> bytes:
    """A graph shaped like a number reader: [N,height,W,1] -> [N,W/4,classes] (an average pool and a 1x1 conv)."""
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(0).normal(0, 0.1, (classes, 1, height, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]),
         helper.make_node("Conv", ["nchw", "w"], ["z"], strides=[height, 4]),
         helper.make_node("Squeeze", ["z", "axis"], ["zs"]),
         helper.make_node("Transpose", ["zs"], ["zt"], perm=[0, 2, 1]),
         helper.make_node("Softmax", ["zt"], ["probabilities"], axis=-1)], "sequence",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", height, "W", 1])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", "T", classes])],
        [numpy_helper.from_array(weights, "w"), numpy_helper.from_array(np.array([2], np.int64), "axis")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    for key, value in (meta or {}).items():
        model.metadata_props.add(key=key, value=value)
    return model.SerializeToString()


LABEL = st.one_of(st.sampled_from(["7", "sneaker", "", " 7", "a\nb", "x" * 65, "\x1b[31m", "7"]), st.text(max_size=6))
META_VALUES = {
    "labels": st.one_of(st.lists(LABEL, min_size=9, max_size=11).map(dumps), JSON.map(dumps), st.text(max_size=8),
                        st.just(dumps([str(d) for d in range(10)])), st.just("[" * 100_000 + "]" * 100_000)),
    "input_scale": st.one_of(st.sampled_from(["0.00392156862745098", "1", "255", "nan", "Infinity", "[]", "-0.0",
                                              "true", "1e999", "[" * 100_000]),
                             st.text(max_size=6)),
    "ink": st.sampled_from(["white-on-black", "black-on-white", "", "WHITE-ON-BLACK"]),
    "input_layout": st.sampled_from(["NHWC", "NCHW", "nhwc"]),
    "input_dtype": st.sampled_from(["float32", "uint8", "float16"]),
    "input_shape": st.one_of(st.sampled_from([dumps(["N", 28, 28, 1]), dumps(["N", 1, 28, 28]), dumps([28, 28])]),
                             JSON.map(dumps)),
    "input_name": st.sampled_from(["input", "image", "x"]),
    "output_name": st.sampled_from(["probabilities", "logits"]),
    "dataset": st.one_of(st.sampled_from(["mnist", "fashion-mnist", "../../etc", "a b", "x" * 100]),
                         st.text(max_size=8)),
    "stage": st.one_of(st.sampled_from(["int8", "pruned", "fp32", "bad\nstage"]), st.text(max_size=8)),
    "normalization": st.one_of(st.text(max_size=20), st.just("n" * 3000)),
    "anything": st.text(max_size=20),
}


@st.composite
def metadata(draw) -> dict:
    keys = draw(st.lists(st.sampled_from(sorted(META_VALUES)), unique=True, max_size=5))
    return {key: draw(META_VALUES[key]) for key in keys}


# --- image files ----------------------------------------------------------------------------------------------------

FORMATS = [".png", ".jpg", ".bmp", ".tif", ".webp", ".pgm", ".ppm", ".gif"]


def encode(ext: str, image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(ext, image)
    assert ok, ext
    return buf.tobytes()


def claim_size(data: bytes, width: int, height: int) -> bytes:
    """The same file with a header that claims width x height pixels (the data stays as small as it was)."""
    raw = bytearray(data)
    if raw.startswith(b"\x89PNG"):
        raw[16:24] = struct.pack(">II", width, height)
        raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])))
    elif raw.startswith(b"\xff\xd8"):
        at = 2
        while raw[at + 1] not in (0xC0, 0xC1, 0xC2):
            at += 2 + struct.unpack(">H", raw[at + 2 : at + 4])[0]
        raw[at + 5 : at + 9] = struct.pack(">HH", min(height, 65535), min(width, 65535))
    elif raw.startswith(b"BM"):
        raw[18:26] = struct.pack("<ii", min(width, 2**31 - 1), -min(height, 2**31 - 1))
    elif raw.startswith(b"GIF"):
        raw[6:10] = struct.pack("<HH", min(width, 65535), min(height, 65535))
    elif raw[:1] == b"P":
        head, _, rest = bytes(raw).partition(b"\n")
        return head + f"\n{width} {height}\n".encode() + rest.split(b"\n", 1)[1]
    else:
        return bytes(raw)
    return bytes(raw)


@st.composite
def image_files(draw) -> bytes:
    """An image file: well formed in any format (grey, colour, with transparency, 16-bit), with a header claiming
    a size past the pixel limit, cut short, or with bytes flipped."""
    ext = draw(st.sampled_from(FORMATS))
    h, w = draw(st.integers(8, 40)), draw(st.integers(8, 40))
    channels = draw(st.sampled_from([1, 3, 4] if ext in (".png", ".webp", ".tif") else [1, 3]))
    image = draw(st.sampled_from([np.uint8, np.uint16] if ext in (".png", ".tif") else [np.uint8]))
    pixels = np.random.default_rng(draw(st.integers(0, 99))).integers(0, np.iinfo(image).max, (h, w, channels),
                                                                        dtype=image)
    if ext == ".pgm":
        pixels = pixels[..., :1]
    elif ext in (".ppm", ".gif"):
        pixels = np.repeat(pixels[..., :1], 3, axis=2)
    data = encode(ext, pixels[..., 0] if pixels.shape[2] == 1 else pixels)
    damage = draw(st.sampled_from(["none", "none", "huge", "cut", "flip"]))
    if damage == "huge":
        side = draw(st.sampled_from([7000, 20000, 65535, 2**20]))
        data = claim_size(data, side, side)
    elif damage == "cut":
        data = data[: draw(st.integers(1, max(1, len(data) - 1)))]
    elif damage == "flip":
        raw = bytearray(data)
        for at in draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=4)):
            raw[at] ^= 0xFF
        data = bytes(raw)
    return data
