"""Synthetic camera frames of numbers written the way people write them: digits close together, touching, or
overlapping, with known ground truth per digit.

One number per frame, on ruled paper, seen by a webcam: each digit slightly slanted and scaled, the line tilted, the
sheet in perspective, then the light, noise and blur of `scenes.ink_on_paper` and a JPEG round trip. How close the
digits are is the `advance`: the distance from one digit's centre to the next, as a fraction of the digit height
(about 1.0 and more: written apart; 0.5: touching; below: overlapping). Digits come from the images the caller passes:
benchmarks and tests pass MNIST *test* images only, so the model never saw them. numpy and OpenCV only.
"""

from __future__ import annotations

import cv2
import numpy as np

from edgedigits.synth.scenes import SIZE, Scene, _digit_patch, ink_on_paper

APART = (0.85, 1.3)  # advance range of digits written apart
CRAMPED = (0.45, 0.6)  # advance range of cramped, overlapping digits
RANGES = ((APART, "digits apart"), ((0.75, 0.95), "close"), ((0.6, 0.8), "some touch"),
          ((0.5, 0.75), "as many people write"), (CRAMPED, "cramped, overlapping"))  # how readers are scored


def render_number(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, advance=(0.5, 0.75),
                  digits: int | tuple[int, int] = (2, 5), size: tuple[int, int] = SIZE,
                  picks: np.ndarray | None = None) -> Scene:
    """One frame holding one number of `digits` digits (a count, or an inclusive range to draw from), drawn from
    images/labels (uint8 [N,28,28], [N]), or exactly the images `picks` (indices) in that order; each digit's advance
    is drawn from the `advance` range."""
    width, height = size
    if picks is None:
        n = int(digits) if np.isscalar(digits) else int(rng.integers(digits[0], digits[1] + 1))
        picks = rng.integers(0, len(images), n)
    n = len(picks)
    lo, hi = advance
    steps = rng.uniform(lo, hi, n - 1)
    # Digit height 12-30% of the frame, less when the number would not fit in 80% of its width.
    tallest = min(0.3 * height, 0.8 * width / (float(steps.sum()) + 1.0))
    base = rng.uniform(min(0.12 * height, tallest), tallest)
    patches = [_digit_patch(images[i], base * rng.uniform(0.92, 1.08), rng.uniform(-8, 8)) for i in picks]

    centres = np.concatenate([[0.0], np.cumsum(steps)]) * base
    room = width - 0.1 * width - centres[-1] - patches[-1].shape[1] / 2 - patches[0].shape[1] / 2
    start = rng.uniform(0.1 * width, max(0.1 * width, room)) + patches[0].shape[1] / 2
    baseline = rng.uniform(0.35, 0.65) * height + base / 2  # digits stand on a common baseline, +-4% jitter
    alpha = np.zeros((height, width), np.float32)
    boxes = []
    for patch, centre in zip(patches, centres + start):
        h, w = patch.shape
        x = int(np.clip(round(centre - w / 2), 0, width - w))
        y = int(np.clip(round(baseline - h + rng.uniform(-0.04, 0.04) * base), 0, height - h))
        alpha[y : y + h, x : x + w] = np.maximum(alpha[y : y + h, x : x + w], patch)
        boxes.append((x, y, w, h))

    rules = np.zeros_like(alpha)  # ruling: the number sits between two lines, clear of both
    spacing = 1.6 * base
    for k in range(-4, 5):
        y = int(round(baseline + 0.25 * base + k * spacing))
        if 0 <= y < height:
            cv2.line(rules, (0, y), (width - 1, y), 0.5, max(1, int(round(base / 60))))

    # The camera: line tilted a few degrees, sheet seen in perspective (each corner moved up to 5% of the frame).
    tilt = cv2.getRotationMatrix2D((width / 2, height / 2), rng.uniform(-4, 4), 1.0)
    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    moved = corners + rng.uniform(-0.05, 0.05, (4, 2)).astype(np.float32) * np.float32([width, height])
    warp = cv2.getPerspectiveTransform(corners, moved) @ np.vstack([tilt, [0, 0, 1]])
    alpha = cv2.warpPerspective(alpha, warp, size, flags=cv2.INTER_LINEAR)
    rules = cv2.warpPerspective(rules, warp, size, flags=cv2.INTER_LINEAR)
    boxes = [_warped_box(box, warp, size) for box in boxes]

    frame = ink_on_paper(alpha, rng, size, rules=rules)
    quality = int(rng.integers(55, 91))  # webcam streams are JPEG (MJPG) at middling quality
    frame = cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)
    return Scene(frame, [int(labels[i]) for i in picks], boxes, [int(i) for i in picks])


def _warped_box(box, warp: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The axis-aligned box around a box's corners after the perspective warp, clipped to the frame."""
    x, y, w, h = box
    points = cv2.perspectiveTransform(np.float32([[[x, y], [x + w, y], [x + w, y + h], [x, y + h]]]), warp)[0]
    x0, y0 = np.clip(points.min(0), 0, None)
    x1, y1 = np.minimum(points.max(0), size)
    return int(x0), int(y0), int(round(x1 - x0)), int(round(y1 - y0))


def numbers(images: np.ndarray, labels: np.ndarray, count: int, seed: int = 0, advance=(0.5, 0.75),
            digits: int | tuple[int, int] = (2, 5), size: tuple[int, int] = SIZE) -> list[Scene]:
    """`count` independent frames of numbers, the same ones for the same seed."""
    rng = np.random.default_rng(seed)
    return [render_number(images, labels, rng, advance, digits, size) for _ in range(count)]
