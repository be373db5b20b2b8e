"""Cut each found number out of the grey image as a level strip of fixed height, for the strip reader (a CRNN with a
CTC head that reads a strip's digits and reads separators, lines, texture and specks as nothing).

A strip follows the number's centre line (so a rising number is read level), is STRIP_ROWS tall with the digits
DIGIT_ROWS of it, and keeps CONTEXT x the digit height of the image beyond both ends. Its grey levels are
normalized so paper is 0 and ink 1 whatever the light and the ink's colour; light ink on a dark ground is turned
round first. numpy and OpenCV only: the same steps are small enough to write again in JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgedigits.runtime.model.session import open_session
from edgedigits.runtime.reading.finder import Line
from edgedigits.runtime.reading.sequence import BLANK, decode  # noqa: F401  (BLANK: the CTC blank class the reader uses)

STRIP_ROWS = 32
DIGIT_ROWS = 20  # a digit's height in strip rows
STRIDE = 4  # strip columns per output step of the reader
CONTEXT = 0.25  # digit heights of image kept beyond each end of the line
MIN_CONTRAST = 24.0  # grey levels: weaker differences from paper stay below full ink
LIGHT_INK = 1.5  # a strip is light ink on dark when its light tail is this much further from the median


@dataclass
class Strip:
    image: np.ndarray  # float32 [STRIP_ROWS, W], W a multiple of STRIDE: paper 0, ink 1
    line: Line
    scale: float  # strip pixels per image pixel

    def point(self, column: float) -> np.ndarray:
        """The image point on the centre line under strip column `column`."""
        d = self.line.end - self.line.start
        d = d / max(1e-9, float(np.hypot(*d)))
        return self.line.start + (column / self.scale - CONTEXT * self.line.height) * d


def cut(gray: np.ndarray, line: Line) -> np.ndarray:
    """The strip of `line` from a grey image, uint8 [STRIP_ROWS, W]: scaled down with INTER_AREA first (a large
    photo's digits are many times DIGIT_ROWS tall), then rotated level with bilinear sampling."""
    f = DIGIT_ROWS / max(line.height, 1.0)
    d = line.end - line.start
    length = float(np.hypot(*d))
    d = d / max(length, 1e-9)
    n = np.array([-d[1], d[0]])
    reach = CONTEXT * line.height
    width = max(4 * STRIDE, int(np.ceil(((length + 2 * reach) * f) / STRIDE)) * STRIDE)
    half = STRIP_ROWS / 2 / f
    corners = np.array([line.start - reach * d + s * half * n for s in (-1, 1)]
                       + [line.start + (width / f - reach) * d + s * half * n for s in (-1, 1)])
    H, W = gray.shape
    x0, y0 = np.clip(np.floor(corners.min(0)).astype(int) - 2, 0, [W - 1, H - 1])
    x1, y1 = np.clip(np.ceil(corners.max(0)).astype(int) + 3, [x0 + 1, y0 + 1], [W, H])
    sub = gray[y0:y1, x0:x1]
    g = 1.0
    if f < 1.0:
        size = (max(1, round(sub.shape[1] * f)), max(1, round(sub.shape[0] * f)))
        g_x, g_y = size[0] / sub.shape[1], size[1] / sub.shape[0]
        sub = cv2.resize(sub, size, interpolation=cv2.INTER_AREA)
    else:
        g_x = g_y = g
    origin = (line.start - reach * d - half * n - [x0, y0]) * [g_x, g_y]
    # strip (u, v) -> sub (x, y): origin + u / f * d + v / f * n, each axis scaled by g
    m = np.array([[d[0] * g_x / f, n[0] * g_x / f, origin[0]], [d[1] * g_y / f, n[1] * g_y / f, origin[1]]])
    fill = float(np.median(sub))
    return cv2.warpAffine(sub, m.astype(np.float64), (width, STRIP_ROWS),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=fill)


def normalize(strip: np.ndarray) -> np.ndarray:
    """uint8 strip -> float32 with paper at 0 and ink at 1: the median is paper; ink is the darker tail (the lighter
    one when it reaches much further: chalk, a negative, a white-on-black digit)."""
    s = strip.astype(np.float32)
    paper = float(np.median(s))
    lo, hi = np.percentile(s, (2, 98))
    dark, light = paper - lo, hi - paper
    if light > LIGHT_INK * dark:
        s, dark = -s, light
        paper = -paper
    return np.clip((paper - s) / max(dark, MIN_CONTRAST), -0.5, 1.5).astype(np.float32)


def strip(gray: np.ndarray, line: Line) -> Strip:
    return Strip(normalize(cut(gray, line)), line, DIGIT_ROWS / max(line.height, 1.0))


def batch(images: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """Strips as one float32 [N, STRIP_ROWS, W, 1] batch, padded on the right with paper (0) to the widest, and
    each one's number of output steps."""
    width = max(im.shape[1] for im in images)
    out = np.zeros((len(images), STRIP_ROWS, width, 1), np.float32)
    for i, im in enumerate(images):
        out[i, :, : im.shape[1], 0] = im
    return out, [im.shape[1] // STRIDE for im in images]


class StripReader:
    """The strip reader's ONNX file: strips in, per strip the digits read with confidence and image box."""

    def __init__(self, path: str | Path, threads: int = 1):
        self.session = open_session(path, threads)
        self.input = self.session.get_inputs()[0].name
        self.run(np.zeros((1, STRIP_ROWS, 4 * STRIDE, 1), np.float32))  # warm-up

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: x})[0]

    def read(self, strips: list[Strip]) -> list[list[tuple[int, float, tuple[int, int, int, int]]]]:
        if not strips:
            return []
        x, steps = batch([s.image for s in strips])
        probs = self.run(x)
        out = []
        for s, p, t in zip(strips, probs, steps):
            digits = []
            for label, confidence, column in decode(p[:t]):
                cx, cy = s.point(column)
                h = s.line.height
                digits.append((label, confidence, (int(cx - 0.3 * h), int(cy - 0.5 * h), int(0.6 * h), int(h))))
            out.append(digits)
        return out
