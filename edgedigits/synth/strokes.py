"""Digits drawn as pen strokes from a few skeletons per digit, each point jittered, so shapes MNIST rarely shows are
in the training data: the European 1 with a long up-stroke, the crossed 7, the open-topped 4, the hooked 9, the
flat-topped 3, the looped 2.

A skeleton is a list of strokes in a unit box (x 0..0.7 right, y 0..1 down); a stroke is a polyline or a smooth
curve through control points. Every control point moves by up to JITTER of the height, the whole digit is slanted,
and the strokes are drawn anti-aliased at a pen width drawn per digit. numpy and OpenCV only.
"""

from __future__ import annotations

import cv2
import numpy as np

CANVAS = 64  # the digit is drawn this many pixels tall (plus margins) before it is scaled to its size
JITTER = 0.018  # per control point, as a fraction of the height
STROKE_JITTER = 0.035  # per stroke: the strokes of a 4 or a 7 move against each other


def _arc(cx, cy, rx, ry, a0, a1, n=10):
    """Points on an ellipse from angle a0 to a1 (degrees, 0 = right, 90 = down as y grows downwards)."""
    t = np.radians(np.linspace(a0, a1, n))
    return [(cx + rx * np.cos(u), cy + ry * np.sin(u)) for u in t]


# Per digit, its variants; each variant is a list of strokes (point lists). Drawn through smooth interpolation.
SKELETONS: dict[int, list[list[list[tuple[float, float]]]]] = {
    0: [[_arc(0.32, 0.5, 0.28, 0.48, -100, 262, 16)],
        [_arc(0.3, 0.5, 0.24, 0.47, -80, 280, 16)],
        [_arc(0.32, 0.5, 0.3, 0.48, -90, 270, 16), [(0.55, 0.08), (0.1, 0.92)]]],  # slashed zero
    1: [[[(0.3, 0.0), (0.3, 1.0)]],
        [[(0.05, 0.3), (0.35, 0.0), (0.35, 1.0)]],  # European 1: long up-stroke
        [[(0.0, 0.38), (0.32, 0.0), (0.3, 1.0)]],
        [[(0.08, 0.2), (0.3, 0.0), (0.3, 1.0)], [(0.08, 1.0), (0.52, 1.0)]],  # with a foot
        [[(0.12, 0.12), (0.3, 0.0), (0.28, 1.0)]]],
    2: [[_arc(0.32, 0.3, 0.27, 0.28, 200, 360, 8) + [(0.52, 0.55), (0.05, 1.0), (0.62, 0.98)]],
        [_arc(0.3, 0.28, 0.25, 0.26, 190, 370, 8) + [(0.12, 0.9), (0.05, 1.0), (0.2, 0.88), (0.35, 0.95),
                                                       (0.62, 0.95)]],  # looped foot
        [_arc(0.3, 0.3, 0.27, 0.28, 210, 380, 8) + [(0.04, 0.98), (0.6, 1.0)]]],
    3: [[_arc(0.3, 0.26, 0.25, 0.25, 200, 450, 10) + _arc(0.3, 0.74, 0.29, 0.26, 270, 510, 10)[1:]],
        [[(0.05, 0.02), (0.58, 0.02), (0.22, 0.42)] + _arc(0.3, 0.7, 0.29, 0.29, 260, 500, 10)],  # flat top
        [_arc(0.32, 0.25, 0.22, 0.24, 180, 440, 10) + _arc(0.32, 0.75, 0.3, 0.25, 260, 520, 10)[1:]]],
    4: [[[(0.45, 0.0), (0.0, 0.68), (0.68, 0.68)], [(0.5, 0.25), (0.5, 1.0)]],
        [[(0.1, 0.0), (0.05, 0.62), (0.64, 0.62)], [(0.5, 0.1), (0.5, 1.0)]],  # open top
        [[(0.14, 0.0), (0.02, 0.58), (0.6, 0.56)], [(0.48, 0.0), (0.52, 1.0)]],  # open top, tall stem
        [[(0.5, 1.0), (0.5, 0.0), (0.0, 0.68), (0.66, 0.66)]]],  # one stroke, closed
    5: [[[(0.6, 0.02), (0.12, 0.02), (0.08, 0.45)] + _arc(0.3, 0.7, 0.3, 0.29, 235, 500, 12)[1:]],
        [[(0.12, 0.02), (0.06, 0.46)] + _arc(0.3, 0.7, 0.3, 0.29, 230, 500, 12)[1:], [(0.12, 0.02), (0.6, 0.0)]],
        [[(0.62, 0.0), (0.15, 0.05), (0.1, 0.42)] + _arc(0.32, 0.68, 0.29, 0.3, 230, 480, 12)[1:]]],
    6: [[[(0.55, 0.02), (0.25, 0.25), (0.05, 0.62)] + _arc(0.32, 0.72, 0.27, 0.27, 180, 520, 14)],
        [[(0.5, 0.0), (0.15, 0.4)] + _arc(0.32, 0.73, 0.26, 0.26, 200, 560, 14)]],
    7: [[[(0.0, 0.02), (0.65, 0.02), (0.22, 1.0)]],
        [[(0.0, 0.02), (0.65, 0.02), (0.25, 1.0)], [(0.15, 0.5), (0.6, 0.5)]],  # crossed
        [[(0.02, 0.15), (0.05, 0.0), (0.65, 0.02), (0.3, 1.0)]],  # with a hook
        [[(0.0, 0.02), (0.62, 0.04), (0.48, 0.4), (0.35, 1.0)]]],
    8: [[_arc(0.32, 0.26, 0.22, 0.24, 0, 360, 14)[2:] + _arc(0.32, 0.74, 0.28, 0.26, -90, 270, 14)[:-1]],
        [_arc(0.32, 0.25, 0.24, 0.24, 30, 330, 12) + _arc(0.32, 0.73, 0.28, 0.27, -120, 240, 14)],
        [_arc(0.32, 0.25, 0.24, 0.24, 180, 540, 14), _arc(0.32, 0.74, 0.28, 0.25, 0, 360, 14)]],
    9: [[_arc(0.32, 0.3, 0.28, 0.28, 10, 370, 14) + [(0.58, 0.6), (0.55, 1.0)]],
        [_arc(0.32, 0.3, 0.28, 0.28, 10, 370, 14) + [(0.58, 0.55), (0.5, 0.9), (0.3, 1.0), (0.12, 0.9)]],  # hooked
        [_arc(0.3, 0.28, 0.26, 0.26, 0, 360, 14) + [(0.5, 0.7), (0.3, 1.0)]]],  # curved tail
}
VARIANT_WEIGHTS = {0: [0.45, 0.45, 0.1], 1: [0.3, 0.3, 0.15, 0.1, 0.15], 4: [0.35, 0.3, 0.2, 0.15],
                   7: [0.4, 0.25, 0.15, 0.2]}


def _smooth(points: np.ndarray, n: int = 48) -> np.ndarray:
    """A Catmull-Rom curve through the points (straight segments stay nearly straight)."""
    if len(points) < 3:
        return points
    p = np.vstack([points[:1], points, points[-1:]])
    out = []
    for i in range(1, len(p) - 2):
        t = np.linspace(0, 1, max(2, n // (len(p) - 3)), endpoint=False)[:, None]
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))
    out.append(points[-1:])
    return np.vstack(out)


def draw(label: int, rng: np.random.Generator, variant: int | None = None) -> np.ndarray:
    """One digit as ink coverage (float32 in [0, 1], cropped to its ink), about CANVAS pixels tall."""
    variants = SKELETONS[label]
    if variant is None:
        weights = VARIANT_WEIGHTS.get(label)
        variant = int(rng.choice(len(variants), p=weights))
    strokes = variants[variant]
    width = rng.uniform(0.75, 1.25)  # narrow or wide hands
    slant = rng.uniform(-0.3, 0.15)  # x moves by slant x (1 - y): forward slant is negative here
    pen = rng.uniform(0.045, 0.13) * CANVAS
    bend, phase = rng.normal(0, 0.03, 2), rng.uniform(0, np.pi)  # a smooth wobble shared by the strokes
    margin = int(pen) + 8
    size = (int(CANVAS * 1.4) + 2 * margin, CANVAS + 2 * margin)
    canvas = np.zeros(size[::-1], np.uint8)
    shift = 0.4 * CANVAS + margin
    for stroke in strokes:
        pts = np.array(stroke, np.float64) + rng.normal(0, JITTER, (len(stroke), 2))
        pts += rng.normal(0, STROKE_JITTER, 2) + bend * np.sin(np.pi * pts[:, 1:2] + phase)
        pts = _smooth(pts)
        x = (pts[:, 0] * width + slant * (0.5 - pts[:, 1])) * CANVAS + shift * 0.5
        y = pts[:, 1] * CANVAS + margin
        poly = np.round(np.stack([x, y], 1) * 4).astype(np.int32)  # 2 bits of sub-pixel precision
        cv2.polylines(canvas, [poly], False, 255, max(1, int(round(pen))), cv2.LINE_AA, shift=2)
    ys, xs = np.nonzero(canvas)
    return canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255.0
