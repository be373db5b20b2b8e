"""Image files in: a photo or scan read from disk into a colour frame, or one clear error naming the file.

Limits (edgedigits/limits.py, docs/limits.md): a file over MAX_IMAGE_BYTES is refused before it is read; one whose
header says more than MAX_IMAGE_PIXELS is refused before it is decoded, except a JPEG, which is decoded at 1/2,
1/4 or 1/8 of its size (libjpeg scales while it decodes), the first that fits. Transparent images are flattened
onto the paper their ink stands out from, as a viewer shows them. What the decoders print (libpng's warnings)
never reaches the terminal: a failed read says it in its one line of error.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path

import cv2
import numpy as np

from edgedigits.errors import InputError
from edgedigits.limits import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS
from edgedigits.runtime.reading import imagesize

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
REDUCED = ((2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4), (8, cv2.IMREAD_REDUCED_COLOR_8))
_STDERR = threading.Lock()  # file descriptor 2 is the process's: one decode at a time borrows it


def quiet_opencv() -> None:
    """OpenCV and FFmpeg print their own warnings on stderr for a missing camera or a bad file; we say it in one
    line instead."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A colour (BGR uint8) image from a file, or InputError naming it (missing, a directory, not an image, over a
    limit)."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"an image is the path of a file, got {type(path).__name__}")
    path = Path(path)
    try:
        if not path.is_file():
            raise InputError(f"no such image file: {path}")
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise InputError(f"cannot read {path} as an image (empty file)")
            if size > MAX_IMAGE_BYTES:
                raise InputError(f"{path}: {size:,} bytes, over the {MAX_IMAGE_BYTES:,}-byte limit for an image file")
            header = imagesize.sniff(f)
            flag = _flag(path, header)
            f.seek(0)
            raw = np.frombuffer(f.read(MAX_IMAGE_BYTES + 1), np.uint8)
    except OSError as exc:  # unreadable (permissions, a vanished file, an I/O error)
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    image, said = _decode(raw, flag)
    if image is None:
        raise InputError(f"cannot read {path} as an image" + (f" ({said})" if said else ""))
    if image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS:  # a format whose header is not read here
        raise InputError(f"{path}: {image.shape[1]}x{image.shape[0]} pixels, over the {MAX_IMAGE_PIXELS:,}-pixel "
                         f"limit for an image")
    return image


def _flag(path: Path, header: imagesize.Header | None) -> int:
    """How to decode: in colour; keeping transparency when the file has it; a large JPEG at a reduced scale."""
    if header is None:
        return cv2.IMREAD_COLOR
    if header.pixels <= MAX_IMAGE_PIXELS:
        return cv2.IMREAD_UNCHANGED if header.alpha else cv2.IMREAD_COLOR
    if header.format == "jpeg":
        for scale, flag in REDUCED:
            if -(-header.width // scale) * -(-header.height // scale) <= MAX_IMAGE_PIXELS:
                return flag
    raise InputError(f"{path}: {header.width}x{header.height} pixels, over the {MAX_IMAGE_PIXELS:,}-pixel limit for "
                     f"an image" + (" (a JPEG is read at up to 1/8 scale)" if header.format == "jpeg" else ""))


def _decode(raw: np.ndarray, flag: int) -> tuple[np.ndarray | None, str]:
    """The decoded BGR image (None if it is not one) and the decoder's own last word on stderr, captured."""
    with _captured_stderr() as said:
        try:
            image = cv2.imdecode(raw, flag)
        except cv2.error as exc:  # OpenCV's own pixel limit, or a decoder that gave up loudly
            image = None
            said.append(" ".join(str(exc).split())[-160:])
    if image is not None and flag == cv2.IMREAD_UNCHANGED:
        image = flatten(image)
    return image, said[-1] if said else ""


@contextlib.contextmanager
def _captured_stderr():
    """Point file descriptor 2 at a temporary file while the block runs; yield a list that gets its last line.
    The descriptor is the process's: what other threads print meanwhile goes there too, so decodes take turns."""
    said: list[str] = []
    with _STDERR, tempfile.TemporaryFile() as sink:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: nothing to keep quiet
            yield said
            return
        try:
            os.dup2(sink.fileno(), 2)
            yield said
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines = [line.strip() for line in sink.read(4096).decode("utf-8", "replace").splitlines() if line.strip()]
            said[:0] = lines[-1:]


def flatten(image: np.ndarray) -> np.ndarray:
    """Any decoded image (grey, colour, with transparency; 8 or 16 bits) as BGR uint8. Transparent pixels become
    the paper the visible ink stands out from: white behind dark ink, black behind light ink."""
    if image.ndim == 2:
        image = image[..., None]
    depth = float(np.iinfo(image.dtype).max) if np.issubdtype(image.dtype, np.integer) else 1.0
    if image.shape[2] in (2, 4):
        colour, alpha, bands = image[..., :-1], image[..., -1:], range(0, image.shape[0], 512)
        weight = ink = 0.0
        for top in bands:  # in bands: a float copy of a whole large image is never made
            a = alpha[top : top + 512].astype(np.float32)
            weight += float(a.sum(dtype=np.float64))
            ink += float((colour[top : top + 512].astype(np.float32).mean(axis=2, keepdims=True) * a).sum(
                dtype=np.float64))
        paper = np.float32(depth if ink / max(weight, 1.0) < depth / 2 else 0.0)
        out = np.empty(image.shape[:2] + (colour.shape[2],), np.uint8)
        for top in bands:
            a = alpha[top : top + 512].astype(np.float32) / np.float32(depth)
            band = colour[top : top + 512].astype(np.float32) * a + paper * (1 - a)
            out[top : top + 512] = np.clip(band * np.float32(255.0 / depth) + 0.5, 0, 255)
        image = out
    elif image.dtype != np.uint8:
        image = np.clip(image.astype(np.float32) * np.float32(255.0 / depth) + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.shape[2] == 1 else image
