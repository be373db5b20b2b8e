"""Cut each found number out of the grey image as a level strip of fixed height, for the strip reader (a CRNN with a
CTC head that reads a strip's digits and reads separators, lines, texture and specks as nothing).

A strip follows the number's centre line (so a rising number is read level), is STRIP_ROWS tall with the digits
DIGIT_ROWS of it, and keeps CONTEXT x the digit height of the image beyond both ends. Its grey levels are
normalized so paper is 0 and ink 1 whatever the light and the ink's colour; light ink on a dark ground is turned
round first. numpy only: every step is defined exactly (`cut`, `normalize`, `resample`), so JavaScript can
repeat it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edgedigits.errors import InputError, shown
from edgedigits.runtime.model import contract
from edgedigits.runtime.model.session import open_session
from edgedigits.runtime.reading import resample
from edgedigits.runtime.reading.finder import Line
from edgedigits.runtime.reading.sequence import BLANK, decode  # noqa: F401  (BLANK: the CTC blank class the reader uses)

STRIP_ROWS = 32
DIGIT_ROWS = 20  # a digit's height in strip rows
STRIDE = 4  # strip columns per output step of the reader
CONTEXT = 0.25  # digit heights of image kept beyond each end of the line
MIN_CONTRAST = 24.0  # grey levels: weaker differences from paper stay below full ink
KIND = "strip-reader"  # the metadata kind of a strip reader's ONNX file
LIGHT_INK = 1.5  # a strip is light ink on dark when its light tail is this much further from the median (3/2)


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
    """The strip of `line` from a grey image, uint8 [STRIP_ROWS, W] (module docstring; every step in float64).

    f = DIGIT_ROWS / max(height, 1) strip pixels per image pixel; d the line's unit direction, n = (-d_y, d_x);
    reach = CONTEXT x height; W = max(4 STRIDE, ceil((length + 2 reach) f / STRIDE) STRIDE). Strip pixel (u, v)
    shows image point origin + ((u + 0.5) / f) d + ((v + 0.5) / f) n, origin = start - reach d - (STRIP_ROWS / 2 / f)
    n. Digits taller than 2 x DIGIT_ROWS are first box-shrunk by k = floor(height / DIGIT_ROWS) (`resample.shrink`)
    over the window of whole pixels around the strip's corners (floor of the least x, y minus 2 to the ceiling of the
    largest plus 3, clipped to the image), so each sample sees the ink between samples; a shrunk pixel (i, j) sits
    at window point (k j + (k - 1) / 2, k i + (k - 1) / 2). Sampled bilinearly (`resample.bilinear`), outside the
    window with the window's lower median grey, rounded half up to uint8."""
    height = max(float(line.height), 1.0)
    f = DIGIT_ROWS / height
    d = np.asarray(line.end, np.float64) - np.asarray(line.start, np.float64)
    length = float(np.sqrt(d[0] * d[0] + d[1] * d[1]))
    d = d / max(length, 1e-9)
    n = np.array([-d[1], d[0]])
    reach = CONTEXT * height
    width = max(4 * STRIDE, int(np.ceil((length + 2 * reach) * f / STRIDE)) * STRIDE)
    origin = np.asarray(line.start, np.float64) - reach * d - (STRIP_ROWS / 2 / f) * n
    corners = np.array([origin + a * d + b * n for a in (0.0, width / f) for b in (0.0, STRIP_ROWS / f)])
    H, W = gray.shape
    x0 = int(min(max(np.floor(corners[:, 0].min()) - 2, 0), W - 1))
    y0 = int(min(max(np.floor(corners[:, 1].min()) - 2, 0), H - 1))
    x1 = int(min(max(np.ceil(corners[:, 0].max()) + 3, x0 + 1), W))
    y1 = int(min(max(np.ceil(corners[:, 1].max()) + 3, y0 + 1), H))
    window = gray[y0:y1, x0:x1]
    k = max(1, min(int(np.floor(height / DIGIT_ROWS)), window.shape[0], window.shape[1]))
    small = resample.shrink(window, k)
    u = (np.arange(width, dtype=np.float64) + 0.5) / f
    v = (np.arange(STRIP_ROWS, dtype=np.float64) + 0.5) / f
    xs = origin[0] + u[None, :] * d[0] + v[:, None] * n[0]
    ys = origin[1] + u[None, :] * d[1] + v[:, None] * n[1]
    xs, ys = (xs - x0 - (k - 1) / 2) / k, (ys - y0 - (k - 1) / 2) / k
    sampled = resample.bilinear(small, xs, ys, float(resample.lower_median(small)))
    return np.floor(sampled + 0.5).astype(np.uint8)


def normalize(strip: np.ndarray) -> np.ndarray:
    """uint8 strip -> float32 with paper at 0 and ink at 1. Of its n pixels sorted, paper is the one at (n - 1) // 2,
    the dark end at t = (n - 1) x 2 // 100, the light end at n - 1 - t; ink is the dark side, unless the light
    side reaches more than LIGHT_INK times as far (chalk, a negative, a white-on-black digit): then the strip is
    negated first. Out: clip((paper - value) / max(reach, MIN_CONTRAST), -0.5, 1.5), in float64, then float32."""
    flat = np.ravel(strip)
    count = flat.size
    tail = (count - 1) * 2 // 100
    at = [tail, (count - 1) // 2, count - 1 - tail]
    lo, paper, hi = (int(v) for v in np.partition(flat, at)[at])
    dark, light = paper - lo, hi - paper
    s = strip.astype(np.float64)
    if 2 * light > 3 * dark:  # light > LIGHT_INK x dark, in integers
        s, paper, dark = -s, -paper, light
    return np.clip((paper - s) / max(dark, MIN_CONTRAST), -0.5, 1.5).astype(np.float32)


def shifted(line: Line, offset: float) -> Line:
    """`line` moved across itself by `offset` x its digit height (along n = (-d_y, d_x), d its unit direction)."""
    d = np.asarray(line.end, np.float64) - np.asarray(line.start, np.float64)
    d = d / max(float(np.sqrt(d[0] * d[0] + d[1] * d[1])), 1e-9)
    move = offset * float(line.height) * np.array([-d[1], d[0]])
    return replace(line, start=np.asarray(line.start, np.float64) + move, end=np.asarray(line.end, np.float64) + move)


def strip(gray: np.ndarray, line: Line) -> Strip:
    return Strip(normalize(cut(gray, line)), line, DIGIT_ROWS / max(float(line.height), 1.0))


def kind_of(session) -> str | None:
    """The kind an ONNX file's metadata says it is ("kind"; files shipped before it had one said it as "pipeline")."""
    meta = session.get_modelmeta().custom_metadata_map
    return meta.get("kind", meta.get("pipeline"))


def batch(images: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """Strips as one float32 [N, STRIP_ROWS, W, 1] batch, padded on the right with paper (0) to the widest, and
    each one's number of output steps."""
    width = max(im.shape[1] for im in images)
    out = np.zeros((len(images), STRIP_ROWS, width, 1), np.float32)
    for i, im in enumerate(images):
        out[i, :, : im.shape[1], 0] = im
    return out, [im.shape[1] // STRIDE for im in images]


class StripReader:
    """The strip reader's ONNX file: strips in, per strip the digits read with confidence and image box. A file
    that is not one (the number reader's contract at STRIP_ROWS rows, metadata kind "strip-reader") is one
    InputError."""

    def __init__(self, path: str | Path, threads: int = 1):
        self.session = open_session(path, threads)
        self.input = contract.read_sequence(self.session, path, STRIP_ROWS, BLANK + 1, STRIDE)
        if kind_of(self.session) != KIND:
            raise InputError(f"{path}: not a strip reader (its metadata kind is {shown(kind_of(self.session))}, not "
                             f"{KIND!r})")
        self.run(np.zeros((1, STRIP_ROWS, 4 * STRIDE, 1), np.float32))  # warm-up

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input: x})[0]

    def probabilities(self, strips: list[Strip]) -> tuple[np.ndarray, list[int]]:
        """The reader's [N, T, 11] output for strips read in one batch, and each strip's number of output steps."""
        x, steps = batch([s.image for s in strips])
        return self.run(x), steps

    @staticmethod
    def digits(s: Strip, probs: np.ndarray) -> list[tuple[int, float, tuple[int, int, int, int]]]:
        """The digits of one strip's [T, 11] probabilities: (digit, confidence, image box) each, left to right."""
        out = []
        for label, confidence, column in decode(probs):
            cx, cy = s.point(column)
            h = s.line.height
            out.append((label, confidence, (int(cx - 0.3 * h), int(cy - 0.5 * h), int(0.6 * h), int(h))))
        return out

    def read(self, strips: list[Strip]) -> list[list[tuple[int, float, tuple[int, int, int, int]]]]:
        if not strips:
            return []
        probs, steps = self.probabilities(strips)
        return [self.digits(s, p[:t]) for s, p, t in zip(strips, probs, steps)]
