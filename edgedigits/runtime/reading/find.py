"""Find handwritten digits in a camera frame or photo and normalize each one exactly the way MNIST was built.

A model trained on MNIST only reads digits that look like MNIST: white ink on black, the digit's box scaled to fit
20x20 keeping its aspect, anti-aliased, then placed in 28x28 so its centre of mass is at the centre. This module
turns a frame of ink on paper into that: adaptive threshold (copes with uneven light), external contours, size and
aspect filters, broken strokes merged into one digit, then the MNIST normalization per digit. numpy and OpenCV only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edgedigits.errors import InputError, shown
from edgedigits.limits import MAX_MARKS

MNIST_BOX = 20  # MNIST digits were scaled to fit this box...
MNIST_SIZE = 28  # ...then centred by centre of mass in this one
MNIST_CENTRE = 14.0  # mean centre of mass of the MNIST test digits, in pixel indices (measured: 14.01, 13.99)


@dataclass(frozen=True)
class Settings:
    """What counts as a digit. Sizes are fractions of the frame height, so they hold at any resolution."""

    ink: str = "auto"  # "dark" (ink on paper), "light" (chalk on a board, MNIST images), "auto": from the frame
    block: float = 0.2  # adaptive-threshold window (fraction of frame height); must exceed the widest stroke
    offset: float = 12.0  # ink is at least this much darker than the window's mean (grey levels): rejects noise
    min_height: float = 0.05  # smaller blobs are dust, texture, or too small to read
    max_height: float = 0.95
    max_aspect: float = 6.0  # width / height: wider things are lines, edges, words (a number written close: ~1-4)
    min_fill: float = 0.03  # ink area / box area: rejects thin frames and long edges
    max_fill: float = 0.85  # rejects solid blobs (shadows, fingers, dark objects), unless thin like a "1"
    merge_gap: float = 0.15  # pieces overlapping in x and closer than this x their height in y are one digit
    min_relative_height: float = 0.4  # in a line, blobs shorter than this x its tallest digit are stray marks

    def __post_init__(self):
        if not isinstance(self.ink, str) or self.ink not in ("auto", "dark", "light"):
            raise InputError(f"ink must be auto, dark or light, got {shown(self.ink)}")


DEFAULT = Settings()


@dataclass
class Found:
    boxes: np.ndarray  # int [N,4]: x, y, w, h in frame pixels, in reading order (lines top to bottom, then x)
    lines: np.ndarray  # int [N]: line number of each digit
    images: np.ndarray  # uint8 [N,28,28]: white on black, MNIST-normalized, ready for runtime.normalize
    ink: list[np.ndarray] = field(default_factory=list)  # uint8 [h,w] per box: the blob's own ink (255), unscaled
    small: int = 0  # marks left out for being shorter than Settings.min_height (too small to read at this size)

    def __len__(self) -> int:
        return len(self.boxes)


MIN_SIDE = 8  # pixels: a smaller image cannot hold a digit the blob finder can read


def to_gray(frame: np.ndarray, min_side: int = MIN_SIDE) -> np.ndarray:
    """A camera frame (BGR, BGRA or grey, uint8) as one grey channel; anything else is refused with its shape, and
    so is an image whose shorter side is under `min_side` pixels."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        raise InputError(f"expected a uint8 image, got dtype {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[..., 0]
    if frame.ndim == 2:
        gray = frame
    elif frame.ndim == 3 and frame.shape[2] in (3, 4):
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY if frame.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    else:
        raise InputError(f"expected an image of shape [H,W], [H,W,3] or [H,W,4], got {list(frame.shape)}")
    if min(gray.shape) < min_side:
        raise InputError(f"image too small to hold digits: {list(frame.shape)}")
    return gray


def dark_ink(gray: np.ndarray, ink: str = "auto") -> np.ndarray:
    """The frame with ink darker than paper. auto: a dark median means a dark background, so light ink."""
    if ink == "light" or (ink == "auto" and np.median(gray[::8, ::8]) < 110):
        return cv2.bitwise_not(gray)
    return gray


def mnist_normalize(digit: np.ndarray) -> np.ndarray:
    """A digit crop (ink > 0, any size, tight box) -> 28x28 uint8 the MNIST way: fit 20x20 keeping aspect,
    anti-aliased, centre of mass moved to the centre."""
    x, y, w, h = cv2.boundingRect(digit)  # of the non-zero pixels: the ink's tight box
    if w == 0 or h == 0:
        return np.zeros((MNIST_SIZE, MNIST_SIZE), np.uint8)
    digit = digit[y : y + h, x : x + w]
    scale = MNIST_BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(digit, size, interpolation=interpolation)
    m = cv2.moments(small)
    if m["m00"] <= 0:
        return np.zeros((MNIST_SIZE, MNIST_SIZE), np.uint8)
    shift = np.float32([[1, 0, MNIST_CENTRE - m["m10"] / m["m00"]], [0, 1, MNIST_CENTRE - m["m01"] / m["m00"]]])
    return cv2.warpAffine(small, shift, (MNIST_SIZE, MNIST_SIZE), flags=cv2.INTER_LINEAR, borderValue=0)


def _groups(rects: np.ndarray, gap: float) -> list[list[int]]:
    """Merge broken strokes (union-find): pieces that overlap in x, nearly touch in y and together are not much
    taller than the taller one (so digits of two lines stay apart); dust specks never join a digit."""
    x0, y0, w, h = rects.T
    x1, y1 = x0 + w, y0 + h
    overlap_x = np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None])
    gap_y = np.maximum(y0[:, None], y0[None]) - np.minimum(y1[:, None], y1[None])
    union_h = np.maximum(y1[:, None], y1[None]) - np.minimum(y0[:, None], y0[None])
    taller = np.maximum(h[:, None], h[None])
    smaller_size = np.minimum(np.maximum(w, h)[:, None], np.maximum(w, h)[None])
    join = ((overlap_x >= 0.5 * np.minimum(w[:, None], w[None])) & (gap_y <= gap * taller)
            & (union_h <= 1.5 * taller) & (smaller_size >= 0.15 * taller))
    parent = list(range(len(rects)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(join, 1))):
        parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(rects)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def reading_order(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices that sort boxes into lines (top to bottom) and left to right in a line, and each box's line."""
    if len(boxes) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    centre_y = boxes[:, 1] + boxes[:, 3] / 2
    tolerance = 0.6 * np.median(boxes[:, 3])
    by_y = np.argsort(centre_y, kind="stable")
    line_of = np.zeros(len(boxes), int)
    line, line_start = 0, centre_y[by_y[0]]
    for i in by_y:
        if centre_y[i] - line_start > tolerance:  # a new line starts well below the first digit of this one
            line, line_start = line + 1, centre_y[i]
        line_of[i] = line
    order = np.lexsort((boxes[:, 0], line_of))
    return order, line_of[order]


def find_digits(frame: np.ndarray, settings: Settings = DEFAULT) -> Found:
    """Every digit in the frame, in reading order, with its MNIST-normalized 28x28 image."""
    gray = dark_ink(to_gray(frame), settings.ink)
    height = gray.shape[0]
    block = max(3, int(settings.block * height) | 1)  # odd, as OpenCV requires
    mask = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, settings.offset)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    min_h = settings.min_height * height
    rects = np.array([cv2.boundingRect(c) for c in contours], int).reshape(-1, 4)
    keep = np.nonzero(np.maximum(rects[:, 2], rects[:, 3]) >= max(3.0, 0.1 * min_h))[0]  # pieces, not noise
    boxes, images, small = [], [], max(0, len(keep) - MAX_MARKS)
    if small:  # pieces are compared pairwise (_groups): only the tallest MAX_MARKS, the rest count as too small
        keep = np.sort(keep[np.argsort(-rects[keep, 3], kind="stable")[:MAX_MARKS]])
    for group in _groups(rects[keep], settings.merge_gap):
        members = keep[group]
        x0, y0 = rects[members, 0].min(), rects[members, 1].min()
        x1, y1 = (rects[members, 0] + rects[members, 2]).max(), (rects[members, 1] + rects[members, 3]).max()
        w, h = x1 - x0, y1 - y0
        small += bool(h < min_h)
        if not (min_h <= h <= settings.max_height * height) or w > settings.max_aspect * h:
            continue
        digit = _digit_ink(gray[y0:y1, x0:x1], [contours[i] for i in members], (x0, y0))
        fill = cv2.countNonZero(digit) / float(w * h)
        if fill < settings.min_fill or (fill > settings.max_fill and w > 0.35 * h):  # a solid thin bar is a "1"
            continue
        boxes.append((x0, y0, w, h))
        images.append(digit)
    boxes_arr = np.array(boxes, int).reshape(-1, 4)
    order, lines = reading_order(boxes_arr)
    keep = _drop_stray_marks(boxes_arr[order], lines, settings.min_relative_height)
    order, lines = order[keep], lines[keep]
    stack = (np.stack([mnist_normalize(images[i]) for i in order]) if len(order)
             else np.zeros((0, MNIST_SIZE, MNIST_SIZE), np.uint8))
    return Found(boxes_arr[order], lines, stack, [images[i] for i in order], small)


def _digit_ink(crop: np.ndarray, contours: list, origin: tuple[int, int]) -> np.ndarray:
    """The digit's own ink as a binary image of its box. Otsu inside the box splits ink from paper at the midpoint
    (the adaptive mask is deliberately generous, which would thicken strokes); the pieces' outlines, filled, keep
    the holes of 0, 6, 8, 9 and drop any neighbour's stroke reaching into the box."""
    region = np.zeros(crop.shape, np.uint8)
    cv2.drawContours(region, contours, -1, 255, cv2.FILLED, offset=(-origin[0], -origin[1]))
    _, ink = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return cv2.bitwise_and(region, ink)


def _drop_stray_marks(boxes: np.ndarray, lines: np.ndarray, relative: float) -> np.ndarray:
    """Indices of boxes at least `relative` x as tall as the tallest in their line (loose blobs are not digits)."""
    tallest = np.zeros(lines.max() + 1 if len(lines) else 0)
    np.maximum.at(tallest, lines, boxes[:, 3])
    return np.nonzero(boxes[:, 3] >= relative * tallest[lines])[0]
