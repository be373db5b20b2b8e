"""Find the handwritten numbers in an image with a small fully convolutional network, and each number's centre line.

The network (the number finder, trained on synthetic pages) sees the image in grey at a working scale and marks,
per 4x4 cell, whether the cell lies on a number's centre band and how tall that number's digits are. Everything
after the network is a few deterministic steps, small enough to write again in JavaScript: threshold the band map,
take its connected components, fit each one's centre line by least squares (numbers may rise, fall or sit on a
tilted sheet), and read the digit height off the network's height map. numpy and OpenCV only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgedigits.runtime.model.session import open_session

CELL = 4  # the network's output stride: one cell per 4x4 working pixels
MULTIPLE = 32  # working images are padded to a multiple of this (the network's total stride)
MAX_SIDE = 640  # larger images are scaled down to this longer side
MIN_SIDE = 96  # smaller images (tight crops, 16x16 digits) are scaled up to this shorter side
PAD = 0.2  # blank border added around the image, as a fraction of its shorter side (at most MAX_PAD px)...
MAX_PAD = 32  # ...so digits touching the image's edge lie inside the network's view
HEIGHT_UNIT = 16.0  # the height channel is log(digit height / HEIGHT_UNIT), heights in working pixels
THRESHOLD = 0.5  # cells whose band probability is at least this are on a number
MIN_CELLS = 2  # components smaller than this are noise
END_MARGIN = 0.2  # a number's strip reaches this x its digit height past the band's first and last cell
MAX_TILT = 35.0  # degrees: steeper fits are clamped (a short number's band says little about its slope)


@dataclass(frozen=True)
class Working:
    """How an image maps to the network's working image: working = image x scale + pad."""

    scale: float
    pad: int
    shape: tuple[int, int]  # working image height, width (multiples of MULTIPLE)

    def to_image(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, np.float64) - self.pad) / self.scale


@dataclass
class Line:
    """One number's centre line in image pixels: from `start` to `end`, its digits `height` tall."""

    start: np.ndarray  # float [2]: x, y
    end: np.ndarray
    height: float
    score: float  # mean band probability of its cells

    @property
    def angle(self) -> float:
        d = self.end - self.start
        return float(np.degrees(np.arctan2(d[1], d[0])))


def working(shape: tuple[int, int]) -> Working:
    """The working scale and padding for an image of `shape` (height, width)."""
    h, w = shape[:2]
    scale = 1.0
    if max(h, w) > MAX_SIDE:
        scale = MAX_SIDE / max(h, w)
    elif min(h, w) < MIN_SIDE:
        scale = min(MIN_SIDE / min(h, w), MAX_SIDE / max(h, w))
    sh, sw = round(h * scale), round(w * scale)
    pad = int(min(MAX_PAD, round(PAD * min(sh, sw))))
    th = -(-(sh + 2 * pad) // MULTIPLE) * MULTIPLE
    tw = -(-(sw + 2 * pad) // MULTIPLE) * MULTIPLE
    return Working(scale, pad, (th, tw))


def working_image(gray: np.ndarray) -> tuple[np.ndarray, Working]:
    """The grey image scaled (INTER_AREA down, INTER_LINEAR up) and padded with its border's median grey on every
    side (the extra rows and columns that round the size up go right and bottom)."""
    geo = working(gray.shape)
    h, w = gray.shape
    sh, sw = round(h * geo.scale), round(w * geo.scale)
    if (sh, sw) != (h, w):
        gray = cv2.resize(gray, (sw, sh), interpolation=cv2.INTER_AREA if geo.scale < 1 else cv2.INTER_LINEAR)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    fill = int(np.median(border))
    th, tw = geo.shape
    out = np.full((th, tw), fill, np.uint8)
    out[geo.pad : geo.pad + sh, geo.pad : geo.pad + sw] = gray
    return out, geo


def lines_from_maps(band: np.ndarray, log_height: np.ndarray, geo: Working,
                    threshold: float = THRESHOLD) -> list[Line]:
    """Numbers from the network's maps ([H/4, W/4] each): connected components of band >= threshold, each with its
    centre line (least squares y = a x + b through its cells, weighted by probability; level when the component is
    no longer than its digits are tall) and digit height (median over its cells), in image pixels."""
    mask = (band >= threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    for k in range(1, count):
        if stats[k, cv2.CC_STAT_AREA] < MIN_CELLS:
            continue
        ys, xs = np.nonzero(labels == k)
        weight = band[ys, xs].astype(np.float64)
        px, py = CELL * (xs + 0.5), CELL * (ys + 0.5)  # cell centres in working pixels
        height = float(HEIGHT_UNIT * np.exp(np.median(log_height[ys, xs])))
        cx, cy = np.average(px, weights=weight), np.average(py, weights=weight)
        spread = np.average((px - cx) ** 2, weights=weight)
        slope = 0.0
        if px.max() - px.min() > height and spread > 0:
            slope = float(np.average((px - cx) * (py - cy), weights=weight) / spread)
            limit = np.tan(np.radians(MAX_TILT))
            slope = float(np.clip(slope, -limit, limit))
        direction = np.array([1.0, slope]) / np.hypot(1.0, slope)
        along = (px - cx) * direction[0] + (py - cy) * direction[1]
        reach = CELL / 2 + END_MARGIN * height
        start = np.array([cx, cy]) + (along.min() - reach) * direction
        end = np.array([cx, cy]) + (along.max() + reach) * direction
        points = geo.to_image(np.stack([start, end]))
        out.append(Line(points[0], points[1], height / geo.scale, float(weight.mean())))
    return out


class Finder:
    """The number finder's ONNX file run with onnxruntime: a grey image in, its numbers' centre lines out."""

    def __init__(self, path: str | Path, threads: int = 1):
        self.session = open_session(path, threads)
        self.input = self.session.get_inputs()[0].name
        self.maps(np.zeros((MULTIPLE * 4, MULTIPLE * 4), np.uint8))  # warm-up

    def maps(self, work: np.ndarray) -> np.ndarray:
        """[H, W] uint8 working image -> [H/4, W/4, 2] band probability and log height."""
        x = work[None, :, :, None].astype(np.float32) / np.float32(255.0)
        return self.session.run(None, {self.input: x})[0][0]

    def find(self, gray: np.ndarray) -> list[Line]:
        work, geo = working_image(gray)
        maps = self.maps(work)
        return lines_from_maps(maps[..., 0], maps[..., 1], geo)
