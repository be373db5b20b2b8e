"""Split a blob of touching or overlapping digits into the digits it holds, by letting the classifier choose the cuts.

Digits written close together become one contour. A blob wider than one digit is over-segmented: candidate cuts are
seams (top-to-bottom paths, as in seam carving) that cross as little ink as possible, so they bend around a
neighbour's overhanging stroke; every run of pieces between two cuts is a candidate digit, MNIST-normalized like any
other. The classifier scores all candidates of a frame in one batch, and a small dynamic program picks the cut
sequence whose digits are most confidently read, with a cost per digit so that a clear "0" is not read as "(" + ")".
This is recognition-driven segmentation (Casey & Lecolinet, "A survey of methods and strategies in character
segmentation", 1996). numpy and OpenCV only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgedigits.runtime.vision import mnist_normalize

SPLIT_ASPECT = 0.8  # width / height above which a blob may hold more than one digit (a single MNIST digit: ~0.4-0.8)
WORK_HEIGHT = 32  # seams are found on the blob scaled to this height: cheap, and enough to follow a stroke
MIN_WIDTH, MAX_WIDTH = 0.12, 1.25  # a digit's width as a fraction of the blob's height ("1" narrow, slanted "0" wide)
MAX_SPAN = 4  # a digit spans at most this many pieces between consecutive cuts
SEAM_INK = 6.0  # cost of a seam crossing one ink pixel (per working row) against 1 for a clear one...
SEAM_STEP = 0.3  # ...and of each sideways step, so seams run straight where nothing is in the way
SEAM_STRIDE = 2  # a seam starts every this many working columns
BEND = 0.3  # a seam strays at most this x the height from where it starts
SEAM_APART = 0.08  # seams closer than this x the height, on average, are one
MAX_CROSSING = 0.8  # seams crossing ink on more than this share of their rows are not cuts
PIECE_COST = 1.0  # log-confidence a reading pays per digit: more digits must be clearly better read to win
ASPECT_WEIGHT = 0.5  # weight of the shape prior against the classifier's log-probability
# mean and standard deviation of log(width / height) of the ink box per class, over MNIST's 60,000 training digits
LOG_ASPECT_MEAN = np.array([-0.10, -0.92, -0.07, -0.23, -0.24, -0.07, -0.32, -0.26, -0.28, -0.39])
LOG_ASPECT_STD = np.array([0.19, 0.46, 0.22, 0.21, 0.21, 0.26, 0.22, 0.21, 0.22, 0.20])
SHORT_COST = 4.0  # per unit of height a digit lacks below 60% of the blob's: fragments are not digits
CRUMB = 0.2  # parts of a cut piece with less than this share of its largest part's ink are the neighbour's crumbs
SLIVER = 0.04  # pieces with less than this share of the blob's ink are specks left between cuts: no digit


@dataclass
class Candidates:
    """One blob's cuts and candidate digits. cuts: [K+2, h] x of each seam per row, from the left edge to the right
    edge; spans: (i, j) pairs, the digit between cut i and cut j; images / boxes per span (boxes in blob pixels);
    slivers: spans with almost no ink, which the reading may skip."""

    cuts: np.ndarray
    spans: list[tuple[int, int]]
    images: np.ndarray
    boxes: np.ndarray
    heights: np.ndarray
    slivers: list[tuple[int, int]]


def wide(box) -> bool:
    """Whether a blob is wide enough to hold more than one digit."""
    return box[2] > SPLIT_ASPECT * box[3]


def seams(ink: np.ndarray) -> np.ndarray:
    """x per row of every candidate cut through a blob's ink (uint8 [h, w], ink > 0), left to right, at full size,
    with the blob's left and right edges first and last. A seam starts every few columns and may bend up to
    BEND x the height either side of its start; of seams whose costs are a local minimum, near-duplicates merge."""
    h, w = ink.shape
    scale = WORK_HEIGHT / h
    small = cv2.resize(ink, (max(2, round(w * scale)), WORK_HEIGHT), interpolation=cv2.INTER_AREA)
    rows, cols = small.shape
    bend = max(1, int(BEND * rows))
    energy = np.full((rows, cols + 2 * bend), np.float32(1e4))  # outside the blob: never cut there
    energy[:, bend : bend + cols] = 1.0 + SEAM_INK * (small.astype(np.float32) / 255.0)
    starts = np.arange(max(1, int(MIN_WIDTH * rows / 2)), cols - max(1, int(MIN_WIDTH * rows / 2)), SEAM_STRIDE)
    if not len(starts):
        return np.stack([np.zeros(h), np.full(h, float(w))]).astype(np.int32)
    band = starts[:, None] + np.arange(2 * bend + 1)[None]  # [K, B] columns of the padded energy
    total = energy[0][band]
    came = np.zeros((rows, len(starts), band.shape[1]), np.int8)
    inf = np.full((len(starts), 1), np.float32(np.inf))
    for y in range(1, rows):
        options = np.stack([np.hstack([inf, total[:, :-1]]) + SEAM_STEP, total,
                            np.hstack([total[:, 1:], inf]) + SEAM_STEP])
        best = options.argmin(0)
        total = np.take_along_axis(options, best[None], 0)[0] + energy[y][band]
        came[y] = best - 1
    cost = total.min(1)
    x = total.argmin(1)
    paths = np.empty((len(starts), rows), np.int32)
    index = np.arange(len(starts))
    for y in range(rows - 1, -1, -1):
        paths[:, y] = x
        x = x + came[y, index, x]
    paths += starts[:, None] - bend  # band offsets -> columns of the small blob
    kept: list[np.ndarray] = []
    edge = MIN_WIDTH * rows
    for k in np.argsort(paths.mean(1), kind="stable"):
        if cost[k] > rows * (1 + SEAM_INK * MAX_CROSSING) or not edge <= paths[k].mean() <= cols - edge:
            continue
        if not kept or np.abs(paths[k] - kept[-1]).mean() > SEAM_APART * rows:
            kept.append(paths[k])
    grid = (np.arange(h) + 0.5) * scale - 0.5
    full = [np.interp(grid, np.arange(rows), (p + 0.5).astype(np.float32)) / scale for p in kept]
    return np.stack([np.zeros(h), *full, np.full(h, float(w))]).round().astype(np.int32)


def candidates(ink: np.ndarray) -> Candidates:
    """Every run of one to MAX_SPAN pieces between cuts, as a candidate digit, except the whole blob (the caller
    has that one already)."""
    h, w = ink.shape
    cuts = seams(ink)
    columns = np.arange(w)[None, :]
    total = max(1, cv2.countNonZero(ink))
    spans, images, boxes, heights, slivers = [], [], [], [], []
    last = len(cuts) - 1
    for i in range(last):
        for j in range(i + 1, min(last, i + MAX_SPAN) + 1):
            if (i, j) == (0, last):
                continue
            width = float(np.mean(cuts[j] - cuts[i]))
            if width > MAX_WIDTH * h:
                break
            mask = (columns >= cuts[i][:, None]) & (columns < cuts[j][:, None])
            piece = np.where(mask, ink, 0).astype(np.uint8)
            count = cv2.countNonZero(piece)
            if count < SLIVER * total:
                if j == i + 1:
                    slivers.append((i, j))
                continue
            if width < MIN_WIDTH * h:
                continue
            piece = _without_crumbs(piece)
            x, y, bw, bh = cv2.boundingRect(piece)
            spans.append((i, j))
            images.append(mnist_normalize(piece))
            boxes.append((x, y, bw, bh))
            heights.append(bh / h)
    stack = np.stack(images) if images else np.zeros((0, 28, 28), np.uint8)
    return Candidates(cuts, spans, stack, np.array(boxes, int).reshape(-1, 4), np.array(heights), slivers)


def score(probs: np.ndarray, aspect: np.ndarray, height: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's best class and its score: log-probability of the class, plus how well the candidate's
    width / height fits that class's shape (log-normal, fitted on MNIST's training digits: a blob twice as wide
    as tall is not one "2" however sure the classifier is), minus PIECE_COST, minus SHORT_COST for short pieces."""
    z = (np.log(np.maximum(aspect, 1e-3))[:, None] - LOG_ASPECT_MEAN) / LOG_ASPECT_STD
    fit = np.log(np.maximum(probs, 1e-6)) - ASPECT_WEIGHT * 0.5 * z**2
    best = fit.argmax(1)
    gain = fit[np.arange(len(best)), best] - PIECE_COST - SHORT_COST * np.maximum(0.0, 0.6 - height)
    return best, gain


def best_reading(found: Candidates, whole: np.ndarray, whole_aspect: float, probs: np.ndarray) -> list[tuple[int, int]]:
    """The digits along the cut sequence of best total score, as (candidate index, or -1 for the whole blob, class)."""
    last = len(found.cuts) - 1
    aspect = found.boxes[:, 2] / np.maximum(1, found.boxes[:, 3]) if len(found.boxes) else np.zeros(0)
    classes, gain = score(probs, aspect, found.heights)
    whole_class, whole_gain = score(whole[None], np.array([whole_aspect]), np.ones(1))
    edges: dict[int, list[tuple[float, int, int]]] = {}  # end cut -> (score, start cut, candidate)
    for k, (i, j) in enumerate(found.spans):
        edges.setdefault(j, []).append((float(gain[k]), i, k))
    for i, j in found.slivers:
        edges.setdefault(j, []).append((0.0, i, -2))
    best = np.full(last + 1, -np.inf)
    back: list[tuple[int, int]] = [(-1, -1)] * (last + 1)
    best[0] = 0.0
    for j in range(1, last + 1):
        for gain_k, i, k in edges.get(j, []):
            if best[i] + gain_k > best[j]:
                best[j], back[j] = best[i] + gain_k, (i, k)
    if not np.isfinite(best[last]) or whole_gain[0] >= best[last]:
        return [(-1, int(whole_class[0]))]
    picks, j = [], last
    while j > 0:
        i, k = back[j]
        if k >= 0:
            picks.append((k, int(classes[k])))
        j = i
    return picks[::-1]


def _without_crumbs(piece: np.ndarray) -> np.ndarray:
    """A cut piece without the crumbs a cut leaves of the neighbouring digit: connected parts under a fifth of the
    largest one's ink."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(piece, connectivity=8)
    if count <= 2:
        return piece
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.nonzero(areas >= CRUMB * areas.max())[0] + 1
    return np.where(np.isin(labels, keep), piece, 0).astype(np.uint8)
