"""The dataset file formats edgedigits reads: the original IDX files (gzipped or not) and Keras' .npz layout,
with the checks every source gets (shapes, dtypes, label ranges, sha256). numpy only, never pickle."""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from edgedigits.errors import InputError
from edgedigits.limits import MAX_DATA_BYTES

DATASETS: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion-mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
}
SPLITS = ("x_train", "y_train", "x_test", "y_test")
IDX_FILES = {  # split -> file name (optionally with .gz) as published and as Debian installs them
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049

Arrays = dict[str, np.ndarray]

def idx_paths(directory: Path) -> dict[str, Path]:
    """The IDX files present in `directory`, gzipped preferred."""
    found = {}
    for split, stem in IDX_FILES.items():
        for path in (directory / f"{stem}.gz", directory / stem):
            if path.is_file():
                found[split] = path
                break
    return found


def read_idx_dir(directory: Path) -> Arrays:
    paths = idx_paths(directory)
    missing = [f"{stem}[.gz]" for split, stem in IDX_FILES.items() if split not in paths]
    if missing:
        raise InputError(f"missing {', '.join(missing)} in {directory}")
    return {split: parse_idx(read_file(path), str(path), magic(split)) for split, path in paths.items()}


def read_file(path: Path) -> bytes:
    """A data file's bytes (gunzipped for .gz), refused past limits.MAX_DATA_BYTES before it is read in full."""
    try:
        size = path.stat().st_size
        if size > MAX_DATA_BYTES:
            raise InputError(f"{path}: {size:,} bytes, over the {MAX_DATA_BYTES:,}-byte limit for a data file")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    return gunzip(raw, str(path)) if path.suffix == ".gz" else raw


def gunzip(raw: bytes, what: str) -> bytes:
    """Decompressed gzip data, at most limits.MAX_DATA_BYTES of it: a small file that would inflate past that (a
    gzip bomb) is refused before it does."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
            data = f.read(MAX_DATA_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile and CRC errors are OSErrors, truncation EOFError
        raise InputError(f"{what}: corrupt gzip data ({reason(exc)})") from None
    if len(data) > MAX_DATA_BYTES:
        raise InputError(f"{what}: decompresses to more than the {MAX_DATA_BYTES:,}-byte limit for a data file")
    return data


def magic(split: str) -> int:
    return IMAGES_MAGIC if split.startswith("x_") else LABELS_MAGIC


def parse_idx(raw: bytes, what: str, magic: int) -> np.ndarray:
    """Parse an IDX file of unsigned bytes, checking that its header matches what it is and how long it is."""
    ndim = 3 if magic == IMAGES_MAGIC else 1
    header = 4 * (1 + ndim)
    if len(raw) < header:
        raise InputError(f"{what}: truncated, {len(raw)} bytes is shorter than the IDX header")
    found, *dims = struct.unpack(f">{1 + ndim}I", raw[:header])
    if found != magic:
        kind = "images" if magic == IMAGES_MAGIC else "labels"
        raise InputError(f"{what}: IDX magic number {found}, expected {magic} ({kind})")
    if ndim == 3 and dims[1:] != [28, 28]:
        raise InputError(f"{what}: images are {dims[1]}x{dims[2]}, expected 28x28")
    expected, present = math.prod(dims), len(raw) - header
    if present != expected:
        problem = "truncated" if present < expected else "trailing bytes"
        raise InputError(f"{what}: {problem}, header says {dims[0]} items ({expected} bytes), file holds {present}")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims).copy()  # copy: writable, like np.load's


def read_npz(file, what: str) -> tuple[Arrays, dict[str, str]]:
    """Keras' npz layout; also returns the cache's notes (origin, sha256) when present. Never unpickles."""
    try:
        _check_inflated(file, what)
        npz = np.load(file, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise InputError(f"{what}: a single array, not an .npz archive")
        with npz:
            missing = [key for key in SPLITS if key not in npz.files]
            if missing:
                raise InputError(f"{what}: no array {', '.join(missing)} (has {', '.join(npz.files) or 'none'})")
            arrays = {key: npz[key] for key in SPLITS}
            notes = {key: str(npz[key]) for key in ("origin", "sha256") if key in npz.files}
    except InputError:
        raise
    except Exception as exc:  # a damaged archive or array header fails in many ways (zip, zlib, ValueError, tokenize)
        raise InputError(f"cannot read {what}: {reason(exc)}") from None
    return arrays, notes


def _check_inflated(file, what: str) -> None:
    """An .npz archive's arrays, as its directory sizes them, within limits.MAX_DATA_BYTES (zipfile never reads a
    member past its recorded size), so a small archive cannot inflate past the limit."""
    if not zipfile.is_zipfile(file):
        return
    with zipfile.ZipFile(file) as archive:
        total = sum(info.file_size for info in archive.infolist())
    if hasattr(file, "seek"):
        file.seek(0)
    if total > MAX_DATA_BYTES:
        raise InputError(f"{what}: its arrays hold {total:,} bytes, over the {MAX_DATA_BYTES:,}-byte limit for a "
                         f"data file")


def check_sha256(data: bytes, expected: str, what: str) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise InputError(f"sha256 of {what} is {digest}, expected {expected}; refusing it")


def validated(name: str, arrays: Arrays, source: str) -> Arrays:
    """Same checks for every source: uint8 [N,28,28] images, in-range labels, as many labels as images."""
    num_classes = len(DATASETS[name])
    checked = {}
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            raise InputError(f"{source}: x_{part} is {x.dtype} {list(x.shape)}, expected uint8 [N, 28, 28]")
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise InputError(f"{source}: y_{part} is {y.dtype} {list(y.shape)}, expected integer labels [N]")
        if len(x) != len(y) or len(x) == 0:
            raise InputError(f"{source}: {len(x)} {part} images but {len(y)} labels")
        if y.min() < 0 or y.max() >= num_classes:
            raise InputError(f"{source}: y_{part} has labels {y.min()}..{y.max()}, expected 0..{num_classes - 1}")
        checked[f"x_{part}"], checked[f"y_{part}"] = x, y.astype(np.uint8)
    return checked


def reason(exc: BaseException) -> str:
    """An exception as one line, for messages that list several failures."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())
