"""Training lines for the number reader: camera frames of numbers rendered from MNIST *training* digits, read back
through the same blob finder and grouping the reader uses, each group labelled with the digits drawn in it.

Frames are `numbers.render_number` frames (digits apart to overlapping: the advance from one digit to the next drawn
per number from 0.4 to 2.0 of the digit height) and `scenes.render` frames (digits apart on one or two lines), at two
frame sizes so the ink reaches the model at different resolutions. Images from the validation split make the
validation lines; the test digits are never used here. numpy and OpenCV only, so worker processes stay light.
"""

from __future__ import annotations

import multiprocessing
import os

import numpy as np

from edgedigits.runtime.reading import find, sequence
from edgedigits.synth import numbers, scenes

SIZES = ((640, 480), (320, 240))
MAX_WIDTH = 256  # training images wider than this (a long number written far apart) are left out


def advance(rng: np.random.Generator) -> tuple[float, float]:
    """The advance range of one number: mostly close to touching, some apart, a few far apart."""
    centre = rng.uniform(0.42, 1.4) if rng.random() < 0.9 else rng.uniform(1.4, 2.0)
    return centre - 0.08, centre + 0.08


def frame_groups(scene: scenes.Scene) -> list[tuple[np.ndarray, list[int]]]:
    """Each group the reader would read in the scene's frame, with the true digits whose box centre falls inside
    the group's box, left to right (an empty list for a speck read as ink)."""
    found = find.find_digits(scene.frame)
    if not len(found):
        return []
    truth = np.array([(x + w / 2, y + h / 2) for x, y, w, h in scene.boxes])
    out = []
    for members in sequence.groups(found.boxes, found.lines):
        group = sequence.group_image(found.boxes, found.ink, members)
        if group.image.shape[1] > MAX_WIDTH:
            continue
        x0, y0 = group.origin
        h, w = group.ink.shape
        inside = np.flatnonzero((truth[:, 0] >= x0) & (truth[:, 0] < x0 + w) & (truth[:, 1] >= y0)
                                & (truth[:, 1] < y0 + h))
        out.append((group.image, [scene.labels[i] for i in inside[np.argsort(truth[inside, 0])]]))
    return out


def _chunk(args) -> list[tuple[np.ndarray, list[int]]]:
    images, labels, count, seed = args
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        size = SIZES[int(rng.integers(len(SIZES)))]
        if rng.random() < 0.8:
            scene = numbers.render_number(images, labels, rng, advance(rng), (1, 6), size)
        else:
            scene = scenes.render(images, labels, rng, size=size)
        out += frame_groups(scene)
    return out


def make(images: np.ndarray, labels: np.ndarray, frames: int, seed: int, workers: int = 0):
    """Group images (list of uint8 [32, W]) and their digit labels from `frames` rendered frames, split over
    `workers` processes (default: every core), the same for the same seed."""
    workers = workers or os.cpu_count() or 1
    chunks = [(images, labels, frames // 40 + (k < frames % 40), seed * 1000 + k) for k in range(40)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_chunk, chunks)
    pairs = [p for part in parts for p in part]
    return [im for im, _ in pairs], [lab for _, lab in pairs]


def pack(images: list[np.ndarray], labels: list[list[int]]) -> dict[str, np.ndarray]:
    """Lists as arrays for one .npz: images padded to MAX_WIDTH with their widths, labels padded with -1."""
    x = np.zeros((len(images), sequence.HEIGHT, MAX_WIDTH), np.uint8)
    for i, im in enumerate(images):
        x[i, :, : im.shape[1]] = im
    longest = max(1, max(len(lab) for lab in labels))
    y = np.full((len(labels), longest), -1, np.int16)
    for i, lab in enumerate(labels):
        y[i, : len(lab)] = lab
    return {"images": x, "widths": np.array([im.shape[1] for im in images], np.int16), "labels": y}


def accuracy(predict, images: np.ndarray, widths: np.ndarray, labels: np.ndarray, batch_size: int = 256) -> float:
    """Digits read right (%, 1 - edit distance / digits) on packed lines by best-path decoding; `predict` maps a
    float32 [N, 32, W, 1] batch to its [N, W/4, 11] strip scores (a Keras model, an onnxruntime session). Images of
    similar width are batched together, so little of each batch is padding."""
    order = np.argsort(widths, kind="stable")
    errors = digits = 0
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        x, strips = sequence.batch([images[i, :, : widths[i]] for i in idx])
        scores = predict(x)
        for j, i in enumerate(idx):
            read = "".join(str(d) for d, _, _ in sequence.decode(scores[j, : strips[j]]))
            truth = "".join(str(int(v)) for v in labels[i] if v >= 0)
            errors, digits = errors + scenes.edit_distance(read, truth), digits + len(truth)
    return 100.0 * (1 - errors / max(1, digits))
