"""Image files in: a photo or scan read from disk into a colour frame, or one clear error naming the file."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from edgedigits.errors import InputError

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


def quiet_opencv() -> None:
    """OpenCV and FFmpeg print their own warnings on stderr for a missing camera or a bad file; we say it in one
    line instead."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A colour image from a file, or InputError naming it (missing, a directory, not an image)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such image file: {path}")
    try:
        raw = np.fromfile(path, np.uint8)
        # imdecode asserts on an empty buffer (cv2.error) and returns None for bytes that are not an image
        image = cv2.imdecode(raw, cv2.IMREAD_COLOR) if raw.size else None
    except (OSError, cv2.error) as exc:
        raise InputError(f"cannot read {path} as an image: {' '.join(str(exc).split())[:200]}") from None
    if image is None:
        raise InputError(f"cannot read {path} as an image" + (" (empty file)" if not raw.size else ""))
    return image


