"""Frames as a YUV4MPEG2 file (.y4m), the raw video format Chromium's fake camera plays
(`--use-fake-device-for-media-stream --use-file-for-fake-video-capture=FILE.y4m`), so a web page's getUserMedia sees
known frames. Raw 4:2:0 planes from OpenCV's colour conversion (BT.601, video range, as cameras deliver): no encoder.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np


def header(width: int, height: int, fps: float) -> bytes:
    """The stream header: progressive 4:2:0, square pixels, the frame rate as a fraction."""
    rate = Fraction(fps).limit_denominator(1001)
    return f"YUV4MPEG2 W{width} H{height} F{rate.numerator}:{rate.denominator} Ip A1:1 C420\n".encode()


def to_i420(frame: np.ndarray) -> bytes:
    """A BGR (or grey) uint8 frame of even width and height -> its Y, U and V planes, one after the other."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or frame.shape[0] % 2 or frame.shape[1] % 2:
        raise ValueError(f"expected a uint8 BGR or grey frame of even width and height, got {frame.dtype} "
                         f"{list(frame.shape)}")
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes()


def write(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float = 10.0, repeat: int = 1) -> int:
    """Write `frames` (all one size), each shown `repeat` times in a row, to `path` at `fps`; returns the number of
    frames in the file."""
    path, count, size = Path(path), 0, None
    try:
        with open(path, "wb") as out:
            for frame in frames:
                if size is None:
                    size = frame.shape[:2]
                    out.write(header(size[1], size[0], fps))
                elif frame.shape[:2] != size:
                    raise ValueError(f"all frames must be {size[1]}x{size[0]}, got {frame.shape[1]}x{frame.shape[0]}")
                planes = to_i420(frame)
                for _ in range(repeat):
                    out.write(b"FRAME\n" + planes)
                    count += 1
            if size is None:
                raise ValueError("no frames to write")
    except BaseException:
        path.unlink(missing_ok=True)  # no half-written video
        raise
    return count


def read(path: str | os.PathLike) -> tuple[list[np.ndarray], float]:
    """The BGR frames of a 4:2:0 .y4m file and its frame rate (OpenCV's conversion back, for checking)."""
    data = Path(path).read_bytes()
    end = data.index(b"\n")
    fields = {tag[0]: tag[1:] for tag in data[:end].decode().split()[1:]}
    width, height = int(fields["W"]), int(fields["H"])
    num, den = (int(v) for v in fields.get("F", "30:1").split(":"))
    size, frames, pos = width * height * 3 // 2, [], end + 1
    while pos < len(data):
        pos = data.index(b"\n", pos) + 1  # "FRAME" and its optional parameters
        planes = np.frombuffer(data, np.uint8, size, pos).reshape(height * 3 // 2, width)
        frames.append(cv2.cvtColor(planes, cv2.COLOR_YUV2BGR_I420))
        pos += size
    return frames, num / den
