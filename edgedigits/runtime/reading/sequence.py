"""Read a group of handwritten digits as a sequence: a small CNN with a CTC head (CRNN, Shi, Bai & Yao, "An
End-to-End Trainable Neural Network for Image-based Sequence Recognition", 2015), fully convolutional.

Digits written close together touch and overlap, so no cut between them is right for every pair. A sequence model
reads the whole group at once: the group's ink is scaled to a fixed height, the network gives per column strip of
the image the probability of each digit and of "no new digit" (the CTC blank), and the reading is the best path
through those strips. The image is built here, from the blobs `find.find_digits` returns, for training and
reading alike, so the model is trained on exactly what it reads. numpy and OpenCV only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgedigits.runtime.model import contract
from edgedigits.runtime.model.classifier import finite
from edgedigits.runtime.model.session import open_session

HEIGHT = 32  # rows of the image the sequence model reads
INK_ROWS = 26  # the group's ink is scaled to this many rows, centred in HEIGHT (room for slant and tilt)
MARGIN = 8  # blank columns either side of the ink
STRIDE = 4  # the model gives one strip of probabilities per this many columns
BLANK = 10  # class index of the CTC blank (digits are 0-9)
GROUP_GAP = 1.0  # blobs further apart than this x the line's tallest blob belong to different numbers


@dataclass
class Group:
    """One number's blobs as the model's input, and how its columns map back to the frame."""

    image: np.ndarray  # uint8 [HEIGHT, W], W a multiple of STRIDE: ink 255 on 0
    ink: np.ndarray  # uint8: the group's ink at frame scale, its box's top-left at `origin`
    origin: tuple[int, int]  # frame x, y of ink[0, 0]
    scale: float  # image columns per frame pixel


def groups(boxes: np.ndarray, lines: np.ndarray) -> list[list[int]]:
    """Blob indices per number: each line (blobs in reading order) cut where the gap between neighbours exceeds
    GROUP_GAP x the line's tallest blob, so a page of numbers is read one number at a time."""
    out = []
    for n in range(int(lines.max()) + 1 if len(lines) else 0):
        members = np.flatnonzero(lines == n).tolist()
        if not members:
            continue
        tallest = float(boxes[members, 3].max())
        run, right = [members[0]], boxes[members[0], 0] + boxes[members[0], 2]
        for k in members[1:]:
            if boxes[k, 0] - right > GROUP_GAP * tallest:
                out.append(run)
                run = []
            run.append(k)
            right = max(right, boxes[k, 0] + boxes[k, 2])
        out.append(run)
    return out


def group_image(boxes: np.ndarray, inks: list[np.ndarray], members: list[int]) -> Group:
    """The blobs `members` (frame boxes and their binary ink) pasted on one canvas and scaled for the model."""
    x0, y0 = int(boxes[members, 0].min()), int(boxes[members, 1].min())
    x1 = int((boxes[members, 0] + boxes[members, 2]).max())
    y1 = int((boxes[members, 1] + boxes[members, 3]).max())
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for k in members:
        x, y, w, h = (int(v) for v in boxes[k])
        region = canvas[y - y0 : y - y0 + h, x - x0 : x - x0 + w]
        np.maximum(region, inks[k], out=region)
    scale = INK_ROWS / float(y1 - y0)
    width = max(1, round((x1 - x0) * scale))
    small = cv2.resize(canvas, (width, INK_ROWS), interpolation=cv2.INTER_AREA)
    total = -(-(width + 2 * MARGIN) // STRIDE) * STRIDE
    image = np.zeros((HEIGHT, total), np.uint8)
    top = (HEIGHT - INK_ROWS) // 2
    image[top : top + INK_ROWS, MARGIN : MARGIN + width] = small
    return Group(image, canvas, (x0, y0), scale)


def batch(images: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """Group images as one float32 [N, HEIGHT, W, 1] batch, padded on the right with blank columns to the widest,
    and each one's number of output strips (padding reads as blank, so it never adds a digit)."""
    width = max(im.shape[1] for im in images)
    out = np.zeros((len(images), HEIGHT, width, 1), np.float32)
    for i, im in enumerate(images):
        out[i, :, : im.shape[1], 0] = im / np.float32(255.0)
    return out, [im.shape[1] // STRIDE for im in images]


def decode(probs: np.ndarray) -> list[tuple[int, float, float]]:
    """Best-path CTC decoding of one group's [T, 11] strip probabilities: (digit, confidence, centre column) per
    digit read, left to right. A digit is a run of strips whose most likely class is that digit (a blank between
    two runs of the same digit makes two digits); its confidence is that digit's highest probability in the run,
    its centre the mean column of the run, in image columns. Written out here because it is six lines of numpy and
    onnxruntime has no CTC decoder op."""
    best = probs.argmax(1)
    out, t = [], 0
    while t < len(best):
        end = t + 1
        while end < len(best) and best[end] == best[t]:
            end += 1
        if best[t] != BLANK:
            out.append((int(best[t]), float(probs[t:end, best[t]].max()), STRIDE * (t + end) / 2.0))
        t = end
    return out


def digit_boxes(group: Group, centres: list[float]) -> list[tuple[int, int, int, int]]:
    """Frame boxes of the digits read at `centres` (image columns): each digit owns the group's ink between the
    midpoints to its neighbours, and its box is that ink's bounding box (the strip's if no ink is there)."""
    ink, (ox, oy) = group.ink, group.origin
    xs = [(c - MARGIN) / group.scale for c in centres]  # frame columns from the group's left edge
    edges = [0.0] + [(a + b) / 2 for a, b in zip(xs, xs[1:])] + [float(ink.shape[1])]
    out = []
    for a, b in zip(edges, edges[1:]):
        a, b = int(np.clip(round(a), 0, ink.shape[1] - 1)), int(np.clip(round(b), 1, ink.shape[1]))
        bx, by, bw, bh = cv2.boundingRect(ink[:, a : max(b, a + 1)])
        if bw == 0:
            bx, by, bw, bh = 0, 0, max(1, b - a), ink.shape[0]
        out.append((ox + a + bx, oy + by, bw, bh))
    return out


class SequenceReader:
    """The number reader's ONNX file run with onnxruntime: groups in, per group the digits read with their
    confidence and frame box."""

    def __init__(self, path, threads: int = 1):
        self.path = path
        self.session = open_session(path, threads)
        self.input = contract.read_sequence(self.session, path, HEIGHT, BLANK + 1, STRIDE)
        self.run(np.zeros((1, HEIGHT, 4 * STRIDE, 1), np.float32))  # warm-up

    def run(self, x: np.ndarray) -> np.ndarray:
        """[N, HEIGHT, W, 1] float32 -> [N, W/STRIDE, 11] strip probabilities; not finite ones are an InputError."""
        return finite(self.session.run(None, {self.input: x})[0], self.path)

    def read(self, found_groups: list[Group]) -> list[list[tuple[int, float, tuple[int, int, int, int]]]]:
        if not found_groups:
            return []
        x, strips = batch([g.image for g in found_groups])
        probs = self.run(x)
        out = []
        for group, p, t in zip(found_groups, probs, strips):
            digits = decode(p[:t])
            boxes = digit_boxes(group, [c for _, _, c in digits])
            out.append([(d, conf, box) for (d, conf, _), box in zip(digits, boxes)])
        return out
