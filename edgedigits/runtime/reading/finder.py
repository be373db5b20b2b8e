"""Find the handwritten numbers in an image with a small fully convolutional network, and each number's centre line.

The network (the number finder, trained on synthetic pages) sees the image in grey at a working scale and marks,
per 4x4 cell, whether the cell lies on a number's centre band and how tall that number's digits are. Everything
after the network is a few deterministic steps, small enough to write again in JavaScript: threshold the band map,
take its connected components (overlapping pieces of one number joined), fit each one's centre line by least
squares (numbers may rise, fall or sit on a tilted sheet), and read the digit height off the network's height map.
numpy and OpenCV only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from edgedigits.errors import InputError, shown
from edgedigits.runtime.model.session import open_session
from edgedigits.runtime.reading import resample

CELL = 4  # the network's output stride: one cell per 4x4 working pixels
MULTIPLE = 32  # working images are padded to a multiple of this (the network's total stride)
MAX_SIDE = 640  # a longer side past this is shrunk by the smallest whole factor that brings it to at most this
MIN_SIDE = 96  # a shorter side under this is enlarged by a whole factor (tight crops, 16x16 digits)...
PAD_DIVISOR = 5  # blank border around the image: its shorter side // this (at most MAX_PAD px)...
MAX_PAD = 32  # ...so digits touching the image's edge lie inside the network's view
HEIGHT_UNIT = 16.0  # the height channel is log(digit height / HEIGHT_UNIT), heights in working pixels
THRESHOLD = 0.5  # cells whose band probability is at least this are on a number
MIN_CELLS = 2  # components smaller than this are noise
END_MARGIN = 0.2  # a number's strip reaches this x its digit height past the band's first and last cell
MAX_TILT = 35.0  # degrees: steeper fits are clamped (a short number's band says little about its slope)
ROW_SHARE = 0.5  # two overlapping pieces whose lines pass this x the digit height apart or closer are one number
KIND = "number-finder"  # the metadata kind of a finder's ONNX file


@dataclass(frozen=True)
class Working:
    """How an image maps to the network's working image: working = image x up / down + pad (whole factors, one of
    them 1)."""

    down: int
    up: int
    pad: int
    shape: tuple[int, int]  # working image height, width (multiples of MULTIPLE)

    @property
    def scale(self) -> float:
        return self.up / self.down

    def to_image(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, np.float64) - self.pad) * self.down / self.up


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
    """The working geometry of an image of `shape` (height, width): shrunk by the whole factor down = ceil(longer /
    MAX_SIDE) when that is over 1, else enlarged by up = min(ceil(MIN_SIDE / shorter), MAX_SIDE // longer) (at
    least 1); padded by min(MAX_PAD, shorter working side // PAD_DIVISOR) on the left and top and at least that on
    the right and bottom, up to the next multiples of MULTIPLE."""
    h, w = int(shape[0]), int(shape[1])
    down = -(-max(h, w) // MAX_SIDE)
    up = 1 if down > 1 else max(1, min(-(-MIN_SIDE // min(h, w)), MAX_SIDE // max(h, w)))
    sh, sw = (h // down, w // down) if down > 1 else (h * up, w * up)
    pad = min(MAX_PAD, min(sh, sw) // PAD_DIVISOR)
    th = -(-(sh + 2 * pad) // MULTIPLE) * MULTIPLE
    tw = -(-(sw + 2 * pad) // MULTIPLE) * MULTIPLE
    return Working(down, up, pad, (th, tw))


def working_image(gray: np.ndarray) -> tuple[np.ndarray, Working]:
    """The grey image at working scale (`resample.shrink` or `resample.enlarge`), placed at (pad, pad) on a canvas of
    the working shape filled with the lower median of the scaled image's border pixels."""
    geo = working(gray.shape)
    scaled = resample.shrink(gray, geo.down) if geo.down > 1 else resample.enlarge(gray, geo.up)
    sh, sw = scaled.shape
    border = np.concatenate([scaled[0], scaled[-1], scaled[:, 0], scaled[:, -1]])
    out = np.full(geo.shape, resample.lower_median(border), np.uint8)
    out[geo.pad : geo.pad + sh, geo.pad : geo.pad + sw] = scaled
    return out, geo


class Fit(NamedTuple):
    """A centre line fitted through a band's cells, in working pixels."""

    centre: np.ndarray  # float [2]: the band probability weighted centre of the cells
    direction: np.ndarray  # float [2]: unit vector along the line
    first: float  # the cells' extent along the line from the centre
    last: float
    height: float  # digit height
    score: float  # mean band probability

    def ends(self) -> tuple[np.ndarray, np.ndarray]:
        """Where the number's strip starts and ends: END_MARGIN digit heights (and half a cell) past its cells."""
        reach = CELL / 2 + END_MARGIN * self.height
        return self.centre + (self.first - reach) * self.direction, self.centre + (self.last + reach) * self.direction


def _fit(band: np.ndarray, log_height: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> Fit:
    """The centre line through these cells (raster order): least squares weighted by band probability, level when the
    cells span no more than the digit height, at most MAX_TILT steep."""
    weight = band[ys, xs].astype(np.float64)
    px, py = CELL * (xs + 0.5), CELL * (ys + 0.5)  # cell centres in working pixels
    height = HEIGHT_UNIT * float(np.exp(np.median(log_height[ys, xs].astype(np.float64))))
    total = weight.sum()
    cx, cy = (weight * px).sum() / total, (weight * py).sum() / total
    spread = (weight * (px - cx) ** 2).sum() / total
    slope = 0.0
    if px.max() - px.min() > height and spread > 0:
        slope = float((weight * (px - cx) * (py - cy)).sum() / total / spread)
        limit = float(np.tan(np.radians(MAX_TILT)))
        slope = min(max(slope, -limit), limit)
    norm = float(np.sqrt(1.0 + slope * slope))
    direction = np.array([1.0 / norm, slope / norm])
    along = (px - cx) * direction[0] + (py - cy) * direction[1]
    return Fit(np.array([cx, cy]), direction, float(along.min()), float(along.max()), height, float(weight.mean()))


def fragments(fits: list[Fit]) -> list[int]:
    """For each fitted component, the index of the first component of its group: two components are one number
    when their lines (with END_MARGIN) overlap across the page and pass within ROW_SHARE x the taller one's digit
    height of each other there (a big number's band can break into pieces whose strips would read the same ink)."""
    group = list(range(len(fits)))
    root = lambda i: i if group[i] == i else root(group[i])  # noqa: E731
    ends = [f.ends() for f in fits]
    for i in range(len(fits)):
        for j in range(i + 1, len(fits)):
            (si, ei), (sj, ej) = ends[i], ends[j]
            x0, x1 = max(si[0], sj[0]), min(ei[0], ej[0])
            if x1 <= x0:
                continue
            x = (x0 + x1) / 2
            yi = si[1] + (ei[1] - si[1]) * ((x - si[0]) / (ei[0] - si[0]) if ei[0] > si[0] else 0.0)
            yj = sj[1] + (ej[1] - sj[1]) * ((x - sj[0]) / (ej[0] - sj[0]) if ej[0] > sj[0] else 0.0)
            if abs(yi - yj) < ROW_SHARE * max(fits[i].height, fits[j].height):
                ri, rj = root(i), root(j)
                group[max(ri, rj)] = min(ri, rj)
    return [root(i) for i in range(len(fits))]


def lines_from_maps(band: np.ndarray, log_height: np.ndarray, geo: Working,
                    threshold: float = THRESHOLD) -> list[Line]:
    """Numbers from the network's maps ([H/4, W/4] each): 8-connected components of band >= threshold of at least
    MIN_CELLS cells in the raster order of their first cells, overlapping pieces of one number joined (`fragments`),
    each with its centre line (`_fit`) and digit height (HEIGHT_UNIT x exp of the median log height over its cells),
    in image pixels. All in float64."""
    mask = (band >= threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    kept = [k for k in range(1, count) if stats[k, cv2.CC_STAT_AREA] >= MIN_CELLS]
    cells = sorted((np.nonzero(labels == k) for k in kept), key=lambda c: (c[0][0], c[1][0]))  # by first cell
    fits = [_fit(band, log_height, ys, xs) for ys, xs in cells]
    groups = fragments(fits)
    out = []
    for g in sorted(set(groups)):
        members = [i for i in range(len(cells)) if groups[i] == g]
        fit = fits[g]  # a piece on its own keeps its fit; joined pieces are fitted again on all their cells
        if len(members) > 1:
            ys, xs = (np.concatenate(a) for a in zip(*(cells[i] for i in members)))
            order = np.lexsort((xs, ys))  # raster order, as one component's cells
            fit = _fit(band, log_height, ys[order], xs[order])
        points = geo.to_image(np.stack(fit.ends()))
        out.append(Line(points[0], points[1], fit.height * geo.down / geo.up, fit.score))
    return out


class Finder:
    """The number finder's ONNX file run with onnxruntime: a grey image in, its numbers' centre lines out. A file
    that is not a number finder (one float32 input [N,H,W,1], one output [N,H/4,W/4,2], metadata kind
    "number-finder" when it says a kind) is one InputError."""

    def __init__(self, path: str | Path, threads: int = 1):
        self.session = open_session(path, threads)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        kind = self.session.get_modelmeta().custom_metadata_map.get("kind", KIND)
        if (len(inputs) != 1 or len(outputs) != 1 or inputs[0].type != "tensor(float)" or len(inputs[0].shape) != 4
                or inputs[0].shape[3] != 1 or len(outputs[0].shape) != 4 or outputs[0].shape[3] != 2 or kind != KIND):
            raise InputError(f"{path}: not a number finder (one float32 input [N,H,W,1] and one output [N,H/4,W/4,2], "
                             f"kind {KIND!r}; got kind {shown(kind)})")
        self.input = inputs[0].name
        self.maps(np.zeros((MULTIPLE * 4, MULTIPLE * 4), np.uint8))  # warm-up

    def run(self, x: np.ndarray) -> np.ndarray:
        """float32 [N, H, W, 1] -> [N, H/4, W/4, 2]."""
        return self.session.run(None, {self.input: x})[0]

    def maps(self, work: np.ndarray) -> np.ndarray:
        """[H, W] uint8 working image -> [H/4, W/4, 2] band probability and log height; the input is the grey
        levels / 255 in float32."""
        return self.run(work[None, :, :, None].astype(np.float32) / np.float32(255.0))[0]

    def find(self, gray: np.ndarray) -> list[Line]:
        work, geo = working_image(gray)
        maps = self.maps(work)
        return lines_from_maps(maps[..., 0], maps[..., 1], geo)
