"""Synthetic camera scenes with known ground truth, so the webcam reader can be tested on machines without a camera.

Each frame is paper-like (warm light background, lighting gradient and vignette, sensor noise, blur, a few dust
specks) with 1-6 MNIST digits written on it in dark ink, in one or two lines, each digit slightly rotated and
scaled. Digits come from whatever images the caller passes: tests and benchmarks pass MNIST *test* images only, so
the model never saw them. The frames go into a video file that the reader opens like a camera stream.
numpy and OpenCV only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import cv2
import numpy as np

SIZE = (640, 480)  # width, height: a common webcam mode
FOURCC = "MJPG"  # in every OpenCV build with FFmpeg; lossy like a real camera stream
MIN_HEIGHT, MAX_HEIGHT = 0.08, 0.45  # digit heights as fractions of the frame height (38-216 px at 480)


@dataclass
class Scene:
    frame: np.ndarray  # BGR uint8 [H,W,3]
    labels: list[int]  # in reading order: lines top to bottom, left to right in a line
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # x, y, w, h of each digit's ink
    sources: list[int] = field(default_factory=list)  # index of each digit in the images it was drawn from

    @property
    def text(self) -> str:
        return "".join(str(label) for label in self.labels)


def _digit_patch(image: np.ndarray, height: float, angle: float) -> np.ndarray:
    """MNIST digit (ink 0..255) scaled so its 20-px box becomes `height` px, rotated: alpha in [0,1], cropped to ink."""
    scale = height / 20.0
    side = int(round(28 * scale))
    big = cv2.resize(image, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    rotation = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
    big = cv2.warpAffine(np.clip(big, 0, 1), rotation, (side, side), flags=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(big > 0.05)
    return big[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _layout(patches: list[np.ndarray], lines: int, rng: np.random.Generator, size: tuple[int, int]):
    """Top-left corners for each patch: `lines` rows, spaced so neighbours never touch."""
    width, height = size
    per_line = np.array_split(np.arange(len(patches)), lines)
    row_height = height / lines
    corners = []
    for row, members in enumerate(per_line):
        gaps = [rng.uniform(0.25, 0.6) * patches[i].shape[0] for i in members[1:]]
        total = sum(patches[i].shape[1] for i in members) + sum(gaps)
        x = rng.uniform(0.03 * width, max(0.03 * width, width - total - 0.03 * width))
        line_y = row_height * (row + 0.5) + rng.uniform(-0.15, 0.15) * row_height / lines**2  # lines never touch
        for k, i in enumerate(members):
            h, w = patches[i].shape
            centre_y = line_y + rng.uniform(-0.1, 0.1) * h
            y = int(np.clip(centre_y - h / 2, 2, height - h - 2))
            corners.append((int(x), y))
            x += w + (gaps[k] if k < len(gaps) else 0)
    return corners


def render(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator, digits: int | None = None,
           size: tuple[int, int] = SIZE, invert: bool = False) -> Scene:
    """One frame: `digits` (default 1-6) random digits drawn from images/labels (uint8 [N,28,28], [N])."""
    width, height = size
    n = int(digits or rng.integers(1, 7))
    lines = 2 if n >= 3 and rng.random() < 0.35 else 1
    per_line = -(-n // lines)
    # Digit height: 8-45% of the frame, less when the line would not fit (plus 10% jitter per digit).
    top = min(MAX_HEIGHT * height, 0.6 * height / lines, 0.9 * width / (per_line * 1.45))
    base = rng.uniform(MIN_HEIGHT * height, top)
    picks = rng.integers(0, len(images), n)
    patches = [_digit_patch(images[i], base * rng.uniform(0.9, 1.1), rng.uniform(-10, 10)) for i in picks]
    while True:  # shrink every digit until the widest line, with its largest possible gaps, fits
        widest = max(sum(patches[i].shape[1] + 0.6 * patches[i].shape[0] for i in part)
                     for part in np.array_split(np.arange(n), lines))
        if widest <= 0.94 * width:
            break
        patches = [cv2.resize(p, None, fx=0.9, fy=0.9, interpolation=cv2.INTER_AREA) for p in patches]
    corners = _layout(patches, lines, rng, size)

    alpha = np.zeros((height, width), np.float32)
    boxes = []
    for patch, (x, y) in zip(patches, corners):
        h, w = patch.shape
        alpha[y : y + h, x : x + w] = np.maximum(alpha[y : y + h, x : x + w], patch)
        boxes.append((x, y, w, h))

    frame = ink_on_paper(alpha, rng, size, invert)
    return Scene(frame, [int(labels[i]) for i in picks], boxes, [int(i) for i in picks])


def ink_on_paper(alpha: np.ndarray, rng: np.random.Generator, size: tuple[int, int] = SIZE, invert: bool = False,
                 rules: np.ndarray | None = None) -> np.ndarray:
    """The camera's view of `alpha` (ink coverage in [0,1], [H,W]) written in dark ink on warm paper: uneven light,
    vignette, dust specks, blur, sensor noise. `rules`, if given, is a second coverage drawn as faint blue ruling."""
    width, height = size
    paper = rng.uniform([195, 205, 210], [235, 240, 248]).astype(np.float32)  # BGR, warm white
    ink = rng.uniform(15, 80) + rng.uniform(-10, 10, 3).astype(np.float32)
    # Lighting: a linear gradient in a random direction (one side down to 55-85%) and a soft vignette; smooth, so
    # computed on a coarse grid and resized.
    yy, xx = np.mgrid[0:1:61j, 0:1:81j].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (xx - 0.5) * np.cos(theta) + (yy - 0.5) * np.sin(theta)
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
    darkest = rng.uniform(0.55, 0.85)
    light = (darkest + (1.05 - darkest) * ramp) * (1.0 - 0.15 * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2))
    light = cv2.resize(light, size, interpolation=cv2.INTER_LINEAR)
    a = alpha * rng.uniform(0.85, 1.0)  # ink opacity
    sheet = list(paper)
    if rules is not None:  # printed ruling: light blue, under the ink
        sheet = [p_ + (b_ - p_) * rules for p_, b_ in zip(paper, paper * np.float32([1.0, 0.86, 0.78]))]
    frame = cv2.merge([(p_ + (i_ - p_) * a) * light for p_, i_ in zip(sheet, ink)])
    for _ in range(rng.integers(0, 6)):  # dust specks: too small to be digits
        cv2.circle(frame, (int(rng.uniform(0, width)), int(rng.uniform(0, height))), int(rng.integers(1, 3)),
                   tuple(float(v) for v in paper * 0.5), -1)
    frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(0.5, 1.4))
    frame += rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(rng.uniform(2, 6))  # sensor noise
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    return 255 - frame if invert else frame


def write_video(path: str | os.PathLike, images: np.ndarray, labels: np.ndarray, frames: int, seed: int = 0,
                fps: float = 30.0, size: tuple[int, int] = SIZE, invert: bool = False,
                digits: int | None = None) -> list[Scene]:
    """Render `frames` independent scenes (`digits` each, default 1-6) into a video file; returns them, frame
    pixels dropped, as ground truth."""
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*FOURCC), fps, size)
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {FOURCC} video to {path}")
    truth = []
    try:
        for _ in range(frames):
            scene = render(images, labels, rng, digits, size=size, invert=invert)
            writer.write(scene.frame)
            truth.append(Scene(np.empty(0, np.uint8), scene.labels, scene.boxes, scene.sources))
    finally:
        writer.release()
    return truth


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: each wrong, missed or extra digit costs one."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def score(read: list[str], truth: list[Scene]) -> dict:
    """Digit accuracy in % (OCR character accuracy: 1 - errors / digits, where a wrong, missed or extra digit is
    one error, in reading order) and the share of frames read exactly right (all digits, in order), in %."""
    if len(read) != len(truth):
        raise ValueError(f"{len(read)} frames read, {len(truth)} expected")
    errors = sum(edit_distance(text, scene.text) for text, scene in zip(read, truth))
    total = sum(len(scene.text) for scene in truth)
    exact = sum(text == scene.text for text, scene in zip(read, truth))
    return {"frames": len(truth), "digits": total, "errors": errors, "digit_accuracy": 100.0 * (total - errors) / total,
            "frame_exact": 100.0 * exact / len(truth)}

