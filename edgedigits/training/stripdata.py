"""Training strips for the strip reader: numbers cut out of synthetic pages the way the reader cuts them
(`strips.cut`), along centre lines a little off the true ones (as the finder's are), labelled with the digits whose
centres the strip shows (`labels_in`); parts of numbers; and strips of clutter with no digit at all (ruling,
guilloche, printed words, desk texture, specks), labelled empty, so the reader learns to read those as nothing.
numpy and OpenCV only.
"""

from __future__ import annotations

import multiprocessing
import os

import numpy as np

from edgedigits.runtime.reading import find as vision
from edgedigits.runtime.reading import finder, strips
from edgedigits.synth import glyphs, pages, write
from edgedigits.training import finderdata

MAX_WIDTH = 384  # strips wider than this are left out (a long number written far apart)
MAX_DIGITS = 24
SLACK = 0.5  # share of the strip's context beyond a line's end in which a digit's mid point still counts as shown
KIND_WEIGHTS = {"sheet": 0.3, "composed": 0.3, "cheque": 0.16, "register": 0.1, "digit": 0.07, "usps": 0.07}


def line_of(number: write.Number) -> finder.Line:
    return finder.Line(number.ends[0].astype(float), number.ends[1].astype(float), number.height, 1.0)


def jittered(line: finder.Line, rng: np.random.Generator) -> finder.Line:
    """The line as a finder might see it: height off by about 10%, ends a little along and across."""
    h = line.height
    d = line.end - line.start
    d = d / max(1e-9, float(np.hypot(*d)))
    n = np.array([-d[1], d[0]])
    start = line.start + rng.normal(0, 0.12 * h) * d + rng.normal(0, 0.08 * h) * n
    end = line.end + rng.normal(0, 0.12 * h) * d + rng.normal(0, 0.08 * h) * n
    return finder.Line(start, end, h * float(np.exp(rng.normal(0, 0.1))), 1.0)


def labels_in(line: finder.Line, numbers: list[write.Number]) -> list[int]:
    """The digits whose mid-height point lies on the line's strip (within half a digit height across it; along it,
    between its ends or in the nearer half of the context the strip keeps beyond them), in order along the line.

    The slack along matters for thin digits: a 1 at a number's end has its mid point a tenth of a height inside the
    ink's end, so a line that stops a little short (as found lines do) still shows all of it, and it must be read."""
    d = line.end - line.start
    length = max(1e-9, float(np.hypot(*d)))
    d = d / length
    n = np.array([-d[1], d[0]])
    slack = SLACK * strips.CONTEXT * line.height
    found = []
    for number in numbers:
        mids = (number.tops + number.bottoms) / 2
        rel = mids - line.start
        along, across = rel @ d, rel @ n
        inside = ((np.abs(across) < 0.5 * max(line.height, number.height))
                  & (along >= -slack) & (along <= length + slack))
        found += [(a, lab) for a, lab, k in zip(along, number.labels, inside) if k]
    return [lab for _, lab in sorted(found)]


def part(number: write.Number, rng: np.random.Generator) -> finder.Line | None:
    """A line over a run of the number's digits (cut between digits), as when the finder splits a number."""
    k = len(number.labels)
    if k < 3:
        return None
    a = int(rng.integers(0, k - 1))
    b = int(rng.integers(a + 1, k + 1))
    mids = (number.tops + number.bottoms) / 2
    order = np.argsort(mids @ (number.ends[1] - number.ends[0]))
    mids = mids[order]
    h = number.height
    start = number.ends[0] if a == 0 else (mids[a - 1] + mids[a]) / 2
    end = number.ends[1] if b == k else (mids[b - 1] + mids[b]) / 2
    return finder.Line(np.asarray(start, float), np.asarray(end, float), h, 1.0)


def clutter_line(page: pages.Page, shape: tuple[int, int], rng: np.random.Generator) -> finder.Line:
    """A random line somewhere on the page at the scale of its numbers (or any scale on a page with none)."""
    H, W = shape
    h = (np.median([n.height for n in page.numbers]) * np.exp(rng.normal(0, 0.3)) if page.numbers
         else rng.uniform(0.05, 0.6) * H)
    h = float(np.clip(h, 6, 0.9 * H))
    length = h * rng.uniform(0.5, 6)
    angle = np.radians(rng.normal(0, 6))
    start = rng.uniform([0, 0], [W, H])
    return finder.Line(start, start + length * np.array([np.cos(angle), np.sin(angle)]), h, 1.0)


def page_strips(page: pages.Page, rng: np.random.Generator, most: int = 5, found: finder.Finder | None = None):
    """(uint8 strip, labels) pairs from one page: its numbers (jittered lines), a part of one, clutter, and, with a
    `found` finder, what it finds (its misses of parts and its finds on clutter included)."""
    gray = vision.to_gray(page.image, 2)
    if rng.random() < 0.12:
        gray = 255 - gray
    lines = [jittered(line_of(n), rng) for n in page.numbers[:most]]
    if found is not None:
        lines += [ln for ln in found.find(gray)[:most] if not reaches_cut(ln, page)]
    if page.numbers and rng.random() < 0.3:
        piece = part(page.numbers[int(rng.integers(len(page.numbers)))], rng)
        if piece is not None:
            lines.append(jittered(piece, rng))
    for _ in range(int(rng.integers(0, 3)) if page.kind in ("sheet", "cheque", "register") else 0):
        lines.append(clutter_line(page, gray.shape, rng))
    out = []
    for line in lines:
        if np.hypot(*(line.end - line.start)) < 1:
            continue
        image = strips.cut(gray, line)
        if image.shape[1] <= MAX_WIDTH:
            out.append((image, labels_in(line, page.numbers)))
    return out


def reaches_cut(line: finder.Line, page: pages.Page) -> bool:
    """Whether the line reaches a number the image cuts off (neither read nor not: left out)."""
    return bool(labels_in(line, page.cut))


def _chunk(args):
    images, labels, fonts, count, seed, finder_path = args
    rng = np.random.default_rng(seed)
    source = glyphs.Glyphs(images, labels, glyphs.find_fonts(fonts))
    found = finder.Finder(finder_path) if finder_path else None
    kinds, weights = list(KIND_WEIGHTS), np.array(list(KIND_WEIGHTS.values()))
    out = []
    while len(out) < count:
        kind = str(rng.choice(kinds, p=weights / weights.sum()))
        page = finderdata.composed(images, labels, rng) if kind == "composed" else pages.make(kind, source, rng)
        out += page_strips(page, rng, found=found)
    return out[:count]


def make(images, labels, fonts, count: int, seed: int, workers: int = 0, finder_path=None) -> dict[str, np.ndarray]:
    """`count` strips (packed: images uint8 [N, 32, MAX_WIDTH], widths, labels padded with -1) from pages drawn
    with `images` (MNIST digits) and `fonts`, and found by the finder at `finder_path` as well as cut along the true
    lines, over `workers` processes; the same for the same seed."""
    workers = workers or os.cpu_count() or 1
    parts = 40
    chunks = [(images, labels, tuple(fonts), count // parts + (k < count % parts), seed * 1000 + k,
               str(finder_path) if finder_path else None) for k in range(parts)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pairs = [p for chunk in pool.map(_chunk, chunks) for p in chunk]
    x = np.zeros((len(pairs), strips.STRIP_ROWS, MAX_WIDTH), np.uint8)
    y = np.full((len(pairs), MAX_DIGITS), -1, np.int16)
    widths = np.zeros(len(pairs), np.int16)
    for i, (image, lab) in enumerate(pairs):
        x[i, :, : image.shape[1]] = image
        widths[i] = image.shape[1]
        y[i, : min(len(lab), MAX_DIGITS)] = lab[:MAX_DIGITS]
    return {"images": x, "widths": widths, "labels": y}
