"""Where frames come from: a camera, a video file, an image, a folder of images or a glob."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from edgedigits.errors import InputError
from edgedigits.limits import MAX_CAMERA_INDEX, MAX_IMAGE_PIXELS
from edgedigits.runtime.reading.images import IMAGE_EXTENSIONS, quiet_opencv, read_image


@dataclass
class Source:
    name: str
    frames: Iterator[np.ndarray]
    fps: float  # of the source when it says so (cameras, videos), else 0
    release: Callable[[], None] = lambda: None
    kind: str = "camera"  # camera (paces itself), video (shown at its own frame rate) or images (shown until a key)


def open_source(spec: str) -> Source:
    """A camera index ("0"), a video file, an image, a folder of images or a glob ("shots/*.png").
    Failing to open it, or to read its first frame, is an InputError: a missing or busy camera, an unreadable file."""
    quiet_opencv()
    if not isinstance(spec, (str, int, os.PathLike)) or isinstance(spec, bool):
        raise InputError(f"a source is a camera index, a file, a folder or a glob, got {type(spec).__name__}")
    spec = str(spec)
    if spec.isascii() and spec.isdigit():
        if int(spec) > MAX_CAMERA_INDEX:
            raise InputError(f"camera index {spec[:20]}{'...' * (len(spec) > 20)} is over {MAX_CAMERA_INDEX} (no "
                             f"camera has it); a video or image file is named by its path")
        return _capture(cv2.VideoCapture(int(spec)), f"camera {spec}",
                        f"camera {spec} not found or busy (no such device, or another program is using it)", "camera")
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise InputError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in folder {path}")
        return _images(files, str(path))
    if any(ch in spec for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(spec) if Path(p).is_file())
        if not files:
            raise InputError(f"no files match {spec}")
        return _images(files, spec)
    if not path.is_file():
        raise InputError(f"no such camera, file or folder: {spec}")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return _images([path], spec)
    return _capture(cv2.VideoCapture(str(path)), spec, f"cannot read {spec} as a video (unreadable or not a video)",
                    "video")


def _capture(capture: cv2.VideoCapture, name: str, error: str, kind: str) -> Source:
    opened = capture.isOpened()
    if opened:  # the frame size the container or the camera says, before any frame is decoded
        width, height = (int(capture.get(p) or 0) for p in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT))
        if width * height > MAX_IMAGE_PIXELS:
            capture.release()
            raise InputError(f"{name}: frames of {width}x{height} pixels, over the {MAX_IMAGE_PIXELS:,}-pixel limit")
    ok, first = capture.read() if opened else (False, None)
    if not ok or first is None:
        capture.release()
        raise InputError(error)

    def frames():
        yield first
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame

    return Source(name, frames(), float(capture.get(cv2.CAP_PROP_FPS) or 0.0), capture.release, kind)


def _images(files: list[Path], name: str) -> Source:
    first = read_image(files[0])  # fail before any output if even the first cannot be read

    def frames():
        yield first
        for f in files[1:]:
            yield read_image(f)

    return Source(name, frames(), 0.0, kind="images")


