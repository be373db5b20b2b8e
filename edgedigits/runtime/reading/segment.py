"""Read a line of handwritten digits as the digits it holds, letting the classifier choose where one digit ends.

Digits written close together become one blob; a thin stroke can break one digit into two. So a line is
over-segmented into pieces: each blob wider than one digit is cut by seams (top-to-bottom paths, as in seam carving)
that cross as little ink as possible and bend around a neighbour's overhanging stroke, and every other blob is one
piece. Every run of up to MAX_SPAN neighbouring pieces that is not too wide is a candidate digit, MNIST-normalized like
any other. The classifier scores all candidates of a frame in one batch, and a small dynamic program picks the
split of each line whose digits are most confidently read and best shaped, with a cost per digit so that a clear "0"
is not read as "(" + ")". This is recognition-driven segmentation (Casey & Lecolinet, "A survey of methods and
strategies in character segmentation", IEEE PAMI 1996). The costs below were chosen on frames of the MNIST training
images the shipped models hold out for validation, never on test digits. numpy and OpenCV only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgedigits.runtime.reading.find import mnist_normalize

SPLIT_ASPECT = 1.0  # width / height above which a blob may hold more than one digit (most MNIST digits: 0.5-1.0)
PIECE_HEIGHT = 40  # candidate digits are cut from the line scaled to this height (MNIST digits are 20 px)
WORK_HEIGHT = 24  # seams are found on the blob scaled to this height: cheap, and enough to follow a stroke
MIN_WIDTH, MAX_WIDTH = 0.12, 1.25  # a digit's width as a fraction of the blob's height ("1" narrow, slanted "0" wide)
MAX_SPAN = 3  # a digit spans at most this many pieces between consecutive cuts
SEAM_INK = 6.0  # cost of a seam crossing one ink pixel (per working row) against 1 for a clear one...
SEAM_STEP = 0.3  # ...and of each sideways step, so seams run straight where nothing is in the way
SEAM_STRIDE = 2  # a seam starts every this many working columns
BEND = 0.3  # a seam strays at most this x the height from where it starts
SEAM_APART = 0.12  # seams closer than this x the height, on average, are one
MAX_CROSSING = 0.8  # seams crossing ink on more than this share of their rows are not cuts
PIECE_COST = 0.5  # log-confidence a reading pays per digit: more digits must be clearly better read to win
ASPECT_WEIGHT = 0.5  # weight of the shape prior against the classifier's log-probability
# mean and standard deviation of log(width / height) of the ink box per class, over MNIST's 60,000 training digits
LOG_ASPECT_MEAN = np.array([-0.10, -0.92, -0.07, -0.23, -0.24, -0.07, -0.32, -0.26, -0.28, -0.39])
LOG_ASPECT_STD = np.array([0.19, 0.46, 0.22, 0.21, 0.21, 0.26, 0.22, 0.21, 0.22, 0.20])
CUT_COST = 2.0  # per share of its rows a chosen cut crosses ink: digits touch at a point, one digit is cut through
JOIN_GAP = 0.1  # blobs further apart than this x the line's height never join into one digit
JOIN_COST = 2.0  # per blob boundary a digit spans: separate blobs are separate digits unless clearly better read
SHORT_COST = 4.0  # per unit of height a digit lacks below 60% of the blob's: fragments are not digits
CRUMB = 0.2  # parts of a cut piece with less than this share of its largest part's ink are the neighbour's crumbs
SLIVER = 0.04  # pieces with less than this share of the blob's ink are specks left between cuts: no digit


@dataclass
class Line:
    """The candidate digits of one line. A candidate is a run of pieces [start, end) in left-to-right order; a run
    that is exactly one blob is that blob's own image (`whole` of the frame's images) and needs no new one."""

    pieces: int
    runs: list[tuple[int, int]]
    whole: list[int]  # per run: index of the blob in the frame's images, or -1 for a new image in `images`
    images: list[np.ndarray]  # the new images, in run order
    boxes: list[tuple[int, int, int, int]]  # per run, of its ink, in frame pixels
    heights: np.ndarray  # per run: ink height / the line's tallest blob
    joins: list[int]  # per run: how many blob boundaries it spans (0: inside one blob)
    crossing: np.ndarray  # per boundary between pieces: share of its rows where the cut crosses ink (0 between blobs)
    slivers: list[tuple[int, int]]  # runs of one piece with almost no ink: the reading may skip them


def line_candidates(boxes: np.ndarray, inks: list[np.ndarray], members: list[int], cut: set[int] = frozenset()) -> Line:
    """Candidates for the blobs `members` of one line (indices into boxes / inks, left to right), the blobs in `cut`
    cut into pieces, the others kept whole. Cuts and new candidates are made on the line scaled to PIECE_HEIGHT
    (MNIST digits are 20 px: more is wasted work)."""
    scale = min(1.0, PIECE_HEIGHT / float(max(boxes[k][3] for k in members)))
    places = {k: (round(x * scale), round(y * scale), max(1, round(w * scale)), max(1, round(h * scale)))
              for k, (x, y, w, h) in ((k, boxes[k].tolist()) for k in members)}
    scaled: dict[int, np.ndarray] = {}

    def small(k: int) -> np.ndarray:
        """Blob k's ink at the line's scale, made when first needed."""
        if k not in scaled:
            ink = inks[k]
            if scale < 1.0:
                ink = cv2.resize(ink, places[k][2:], interpolation=cv2.INTER_AREA)
                ink = np.where(ink > 127, 255, 0).astype(np.uint8)
            scaled[k] = ink
        return scaled[k]

    tallest = float(max(places[k][3] for k in members))
    pieces = []  # (blob, cut index), with each blob's cuts
    crossing = [0.0]
    cuts = {}
    for k in members:
        w, h = places[k][2:]
        if k in cut:
            ink = small(k)
            cuts[k] = seams(ink)
            rows = np.arange(h)
            crossing += [float(np.mean(ink[rows, np.clip(c, 0, w - 1)] > 0)) for c in cuts[k][1:-1]]
        else:
            cuts[k] = np.array([[0], [w]], np.int32)  # edges only: .min() / .max() are all the loop below reads
        crossing.append(0.0)
        pieces += [(k, i) for i in range(len(cuts[k]) - 1)]
    parts: dict[tuple[int, int, int], np.ndarray] = {}

    def part(k: int, i: int, j: int) -> np.ndarray:
        """Blob k's ink between its cuts i and j, crumbs of cut-through neighbours removed."""
        if (k, i, j) not in parts:
            ink, c = small(k), cuts[k]
            if i == 0 and j == len(c) - 1:
                parts[k, i, j] = ink
            else:
                columns = np.arange(ink.shape[1])[None]
                mask = (columns >= c[i][:, None]) & (columns < c[j][:, None])
                parts[k, i, j] = _without_crumbs(np.where(mask, ink, 0).astype(np.uint8))
        return parts[k, i, j]

    line = Line(len(pieces), [], [], [], [], np.zeros(0), joins=[], crossing=np.array(crossing), slivers=[])
    heights, a = [], 0
    for k in members:  # each blob whole, with its own image
        b = a + len(cuts[k]) - 1
        line.runs.append((a, b)), line.whole.append(k), line.boxes.append(tuple(int(v) for v in boxes[k]))
        line.joins.append(0), heights.append(places[k][3] / tallest)
        a = b
    for a in range(len(pieces)):
        for b in range(a + 1, min(len(pieces), a + MAX_SPAN) + 1):
            run = pieces[a:b]
            first, last = run[0][0], run[-1][0]
            if first == last and b - a == len(cuts[first]) - 1:  # one whole blob: already there
                continue
            x0 = places[first][0] + cuts[first][run[0][1]].min()
            x1 = places[last][0] + cuts[last][run[-1][1] + 1].max()
            if x1 - x0 > MAX_WIDTH * tallest:
                break
            blobs = list(dict.fromkeys(k for k, _ in run))
            if any(places[k][0] - (places[j][0] + places[j][2]) > JOIN_GAP * tallest for j, k in zip(blobs, blobs[1:])):
                break  # blobs this far apart are written apart, not one digit's broken strokes
            spans = [(k, min(i for kk, i in run if kk == k), max(i for kk, i in run if kk == k) + 1) for k in blobs]
            canvas, box = _paste([(places[k], part(k, i, j)) for k, i, j in spans])
            if cv2.countNonZero(canvas) < SLIVER * sum(cv2.countNonZero(small(k)) for k in blobs):
                if b == a + 1:
                    line.slivers.append((a, b))
                continue
            if not MIN_WIDTH * tallest <= box[2] <= MAX_WIDTH * tallest:
                continue
            line.runs.append((a, b)), line.whole.append(-1), line.joins.append(len(blobs) - 1)
            line.boxes.append(tuple(int(round(v / scale)) for v in box))
            line.images.append(mnist_normalize(canvas))
            heights.append(box[3] / tallest)
    line.heights = np.array(heights)
    return line


def _paste(parts: list[tuple[tuple[int, int, int, int], np.ndarray]]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Blob inks (each with its frame box) on one canvas cropped to their ink, and that ink's box in the frame."""
    x0, y0 = min(b[0] for b, _ in parts), min(b[1] for b, _ in parts)
    x1, y1 = max(b[0] + b[2] for b, _ in parts), max(b[1] + b[3] for b, _ in parts)
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for (x, y, w, h), ink in parts:
        region = canvas[y - y0 : y - y0 + h, x - x0 : x - x0 + w]
        np.maximum(region, ink, out=region)
    bx, by, bw, bh = cv2.boundingRect(canvas)
    return canvas[by : by + bh, bx : bx + bw], (x0 + bx, y0 + by, bw, bh)


def score(probs: np.ndarray, aspect: np.ndarray, height: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's best class and its score: log-probability of the class, plus how well the candidate's
    width / height fits that class's shape (log-normal, fitted on MNIST's training digits: a blob twice as wide
    as tall is not one "2" however sure the classifier is), minus PIECE_COST, minus SHORT_COST for short pieces."""
    z = np.maximum(0.0, (np.log(np.maximum(aspect, 1e-3))[:, None] - LOG_ASPECT_MEAN) / LOG_ASPECT_STD)
    fit = np.log(np.maximum(probs, 1e-6)) - ASPECT_WEIGHT * 0.5 * z**2
    best = fit.argmax(1)
    gain = fit[np.arange(len(best)), best] - PIECE_COST - SHORT_COST * np.maximum(0.0, 0.6 - height)
    return best, gain


def best_reading(line: Line, probs: np.ndarray) -> list[tuple[int, int]]:
    """The digits along the split of best total score, as (run index, class), left to right. probs: [runs, C]."""
    aspect = np.array([w / max(1, h) for _, _, w, h in line.boxes])
    classes, gain = score(probs, aspect, line.heights)
    gain = gain - JOIN_COST * np.array(line.joins)
    edges: dict[int, list[tuple[float, int, int]]] = {}  # end piece -> (score, start piece, run)
    for r, (a, b) in enumerate(line.runs):
        edges.setdefault(b, []).append((float(gain[r]), a, r))
    for a, b in line.slivers:
        edges.setdefault(b, []).append((0.0, a, -1))
    best = np.full(line.pieces + 1, -np.inf)
    back = [(-1, -1)] * (line.pieces + 1)
    best[0] = 0.0
    for b in range(1, line.pieces + 1):
        for g, a, r in edges.get(b, []):
            g -= CUT_COST * line.crossing[b]
            if best[a] + g > best[b]:
                best[b], back[b] = best[a] + g, (a, r)
    picks, b = [], line.pieces
    while b > 0:
        a, r = back[b]
        if r >= 0:
            picks.append((r, int(classes[r])))
        b = a
    return picks[::-1]


def worth_cutting(boxes: np.ndarray, lines: np.ndarray, probs: np.ndarray) -> set[int]:
    """The blobs that may hold more than one digit: wide enough, and not read so well whole that no split could
    beat it (every digit costs at least PIECE_COST, so a blob whose whole reading scores above -2 x PIECE_COST
    stays whole whatever its pieces read: cutting it is wasted work)."""
    tallest = np.zeros(int(lines.max()) + 1 if len(lines) else 0)
    np.maximum.at(tallest, lines, boxes[:, 3])
    _, gain = score(probs, boxes[:, 2] / np.maximum(1, boxes[:, 3]), boxes[:, 3] / tallest[lines])
    return set(np.flatnonzero((boxes[:, 2] > SPLIT_ASPECT * boxes[:, 3]) & (gain <= -2 * PIECE_COST)).tolist())


def seams(ink: np.ndarray) -> np.ndarray:
    """x per row of every candidate cut through a blob's ink (uint8 [h, w], ink > 0), left to right, at the ink's
    size, with the blob's left and right edges first and last. A seam starts every few columns and may bend up to
    BEND x the height either side of its start; seams crossing too much ink are dropped, near-duplicates merged."""
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
    total = np.full((len(starts), band.shape[1] + 2), np.float32(np.inf))  # one inf column either side
    total[:, 1:-1] = energy[0][band]
    came = np.zeros((rows, len(starts), band.shape[1]), np.int8)
    step = np.float32(SEAM_STEP)
    for y in range(1, rows):
        left, mid, right = total[:, :-2] + step, total[:, 1:-1], total[:, 2:] + step
        low = np.minimum(np.minimum(left, mid), right)
        came[y] = np.where(low == mid, 0, np.where(low == left, -1, 1))
        total[:, 1:-1] = low + energy[y][band]
    total = total[:, 1:-1]
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


def _without_crumbs(piece: np.ndarray) -> np.ndarray:
    """A cut piece without the crumbs a cut leaves of the neighbouring digit: connected parts under a fifth of the
    largest one's ink."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(piece, connectivity=8)
    if count <= 2:
        return piece
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(count, bool)
    keep[1:] = areas >= CRUMB * areas.max()
    return np.where(keep[labels], piece, 0).astype(np.uint8)
