"""Training tiles for the number finder: synthetic pages (`edgedigits.synth.pages`) and composed MNIST scenes, each
seen the way the finder sees an image (`finder.working_image`), with per-cell targets drawn from what was written.

Targets per 4x4 cell: the band (1 on a number's centre line, half a digit height thick, from its first ink to its
last), log(digit height / 16) near the band, and a weight: 0 in a ring around each band (where band and not-band
are equally right) and on numbers cut by the image's edge, 1 elsewhere. numpy and OpenCV only, so worker processes
stay light.
"""

from __future__ import annotations

import multiprocessing
import os

import cv2
import numpy as np

from edgedigits.runtime.reading import find as vision
from edgedigits.runtime.reading import finder
from edgedigits.synth import glyphs, pages, scenes, write
from edgedigits.synth import numbers as mnist_numbers

TILE = 256
KIND_WEIGHTS = {"sheet": 0.45, "composed": 0.15, "cheque": 0.14, "register": 0.1, "digit": 0.08, "usps": 0.08}
BAND = 0.5  # band thickness, in digit heights
RING = 0.5  # cells within this many digit heights of the centre line, not in the band, weigh 0


def composed(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> pages.Page:
    """A webcam frame of MNIST digits (`scenes.render`: 1-6 digits apart in one or two lines, or
    `numbers.render_number`: one number, apart to overlapping), each line as one number."""
    if rng.random() < 0.5:
        scene = scenes.render(images, labels, rng, size=(640, 480) if rng.random() < 0.7 else (320, 240))
    else:
        lo = rng.uniform(0.45, 1.2)
        scene = mnist_numbers.render_number(images, labels, rng, (lo, lo + 0.2), (1, 6))
    boxes = np.array(scene.boxes, float).reshape(-1, 4)
    order, line_of = vision.reading_order(boxes.astype(int))
    out = []
    for n in range(int(line_of.max()) + 1 if len(order) else 0):
        idx = order[line_of == n]
        b = boxes[idx]
        centres = b[:, :2] + b[:, 2:] / 2
        h = float(np.median(b[:, 3]))
        # centre line through the box centres (least squares), from the first box's left to the last's right
        slope = np.polyfit(centres[:, 0], centres[:, 1], 1)[0] if len(idx) > 1 else 0.0
        y_at = lambda x: centres[:, 1].mean() + slope * (x - centres[:, 0].mean())  # noqa: E731
        left, right = b[:, 0].min(), (b[:, 0] + b[:, 2]).max()
        mids = np.stack([centres[:, 0], y_at(centres[:, 0])], 1)
        out.append(write.Number([scene.labels[i] for i in idx], centres, mids - [0, h / 2], mids + [0, h / 2],
                                np.array([[left, y_at(left)], [right, y_at(right)]]),
                                [tuple(int(v) for v in boxes[i]) for i in idx]))
    return pages.Page(scene.frame, out, "composed")


def centre_line(number: write.Number) -> np.ndarray:
    """The number's centre line as a polyline: its ink's start, each digit's mid-height point, its ink's end."""
    mids = (number.tops + number.bottoms) / 2
    direction = number.ends[1] - number.ends[0]
    order = np.argsort(mids @ direction)
    return np.vstack([number.ends[:1], mids[order], number.ends[1:]])


def targets(page: pages.Page, geo: finder.Working) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Band, log height and weight maps ([H/4, W/4] float32) for a page's working image."""
    shape = (geo.shape[0] // finder.CELL, geo.shape[1] // finder.CELL)
    band = np.zeros(shape, np.float32)
    ring = np.zeros(shape, np.float32)
    height = np.zeros(shape, np.float32)
    cut = np.zeros(shape, np.float32)
    to_cells = lambda p: (np.asarray(p) * geo.scale + geo.pad) / finder.CELL - 0.5  # noqa: E731
    for numbers, is_cut in ((page.numbers, False), (page.cut, True)):
        for number in numbers:
            h = number.height * geo.scale
            if h <= 0:
                continue
            pts = np.round(to_cells(centre_line(number)) * 16).astype(np.int32)  # 4 bits of sub-cell precision
            thick = lambda f: max(1, int(round(f * h / finder.CELL)))  # noqa: E731
            if is_cut:
                cv2.polylines(cut, [pts], False, 1.0, thick(3.0), cv2.LINE_8, shift=4)
                continue
            cv2.polylines(ring, [pts], False, 1.0, thick(2 * RING), cv2.LINE_8, shift=4)
            cv2.polylines(band, [pts], False, 1.0, thick(BAND), cv2.LINE_8, shift=4)
            value = np.log(max(h, 1.0) / finder.HEIGHT_UNIT)
            cv2.polylines(height, [pts], False, float(value), thick(1.0), cv2.LINE_8, shift=4)
    weight = np.where((ring > 0) & (band == 0), 0.0, 1.0).astype(np.float32) * (cut == 0)
    return band, height, weight


def tiles(page: pages.Page, rng: np.random.Generator, size: int = TILE, most: int = 3):
    """size x size tiles of the page's working image (random windows of a large one, up to `most`; a small one
    placed at a random spot, the rest its padding grey), each with its targets [size/4, size/4, 3]: band, log
    height, weight."""
    work, geo = finder.working_image(vision.to_gray(page.image, 2))
    band, height, weight = targets(page, geo)
    maps = np.stack([band, height, weight], -1)
    c = finder.CELL
    h, w = work.shape
    count = int(np.clip(h * w // (2 * size * size), 1, most))
    for _ in range(count):
        out = np.full((size, size), work[0, 0], np.uint8)
        target = np.zeros((size // c, size // c, 3), np.float32)
        target[..., 2] = 1.0  # padding is not a number
        # a window of the working image (cell-aligned), placed at a cell-aligned spot of the tile
        wy = int(rng.integers(0, max(0, h - size) // c + 1)) * c
        wx = int(rng.integers(0, max(0, w - size) // c + 1)) * c
        ch, cw = min(size, h), min(size, w)
        ty = int(rng.integers(0, (size - ch) // c + 1)) * c
        tx = int(rng.integers(0, (size - cw) // c + 1)) * c
        out[ty : ty + ch, tx : tx + cw] = work[wy : wy + ch, wx : wx + cw]
        window = maps[wy // c : (wy + ch) // c, wx // c : (wx + cw) // c]
        target[ty // c : ty // c + window.shape[0], tx // c : tx // c + window.shape[1]] = window
        if rng.random() < 0.15:  # light ink on a dark ground (chalk, negatives, MNIST's own images)
            out = 255 - out
        yield out, target


def _chunk(args) -> tuple[np.ndarray, np.ndarray]:
    images, labels, fonts, count, seed = args
    rng = np.random.default_rng(seed)
    source = glyphs.Glyphs(images, labels, glyphs.find_fonts(fonts))
    kinds, weights = list(KIND_WEIGHTS), np.array(list(KIND_WEIGHTS.values()))
    x = np.zeros((count, TILE, TILE), np.uint8)
    y = np.zeros((count, TILE // finder.CELL, TILE // finder.CELL, 3), np.float16)
    i = 0
    while i < count:
        kind = str(rng.choice(kinds, p=weights / weights.sum()))
        page = composed(images, labels, rng) if kind == "composed" else pages.make(kind, source, rng)
        for image, target in tiles(page, rng):
            if i < count:
                x[i], y[i] = image, target
                i += 1
    return x, y


def make(images: np.ndarray, labels: np.ndarray, fonts, count: int, seed: int, workers: int = 0):
    """`count` tiles and their targets from pages drawn with `images` (MNIST digits) and `fonts`, over `workers`
    processes (default: every core); the same for the same seed."""
    workers = workers or os.cpu_count() or 1
    parts = 40
    chunks = [(images, labels, tuple(fonts), count // parts + (k < count % parts), seed * 1000 + k)
              for k in range(parts)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        done = pool.map(_chunk, chunks)
    return np.concatenate([d[0] for d in done]), np.concatenate([d[1] for d in done])
