"""What surrounds handwritten numbers on real paper, drawn procedurally: paper grain and colour, ruled and squared
lines, printed boxes and baselines, cheque guilloche, book edges, desk surfaces, shadows, specks, printed words and
stray pen strokes. Each is ink coverage (float32 [H, W] in [0, 1]) or a colour image (float32 BGR 0-255), so a
page is paper x (1 - coverage x (1 - colour / 255)) for each layer. numpy and OpenCV only.
"""

from __future__ import annotations

import cv2
import numpy as np

PAPERS = {  # BGR of plain, cream, recycled, and sticky-note paper
    "white": ((225, 228, 230), (250, 252, 255)), "cream": ((190, 215, 228), (215, 235, 248)),
    "grey": ((170, 175, 178), (205, 208, 210)), "yellow": ((110, 225, 235), (160, 245, 255)),
    "pink": ((200, 180, 245), (230, 205, 255)), "blue": ((235, 210, 170), (255, 230, 200)),
    "green": ((170, 235, 185), (200, 255, 215)), "old": ((140, 180, 200), (185, 215, 230)),
}
INKS = {"black": ((10, 10, 10), (60, 60, 60)), "blue": ((90, 20, 0), (170, 70, 40)),
        "pencil": ((70, 70, 70), (130, 130, 130)), "brown": ((20, 50, 80), (60, 90, 120)),
        "red": ((20, 20, 140), (60, 60, 200)), "felt": ((0, 0, 0), (40, 40, 40))}


def colour(table: dict, name: str, rng: np.random.Generator) -> np.ndarray:
    lo, hi = table[name]
    return rng.uniform(lo, hi).astype(np.float32)


def noise(shape: tuple[int, int], rng: np.random.Generator, cell: float, octaves: int = 3) -> np.ndarray:
    """Smooth random field in about [-1, 1]: octaves of noise on coarse grids, resized up."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    for k in range(octaves):
        size = max(2.0, cell / 2**k)
        grid = rng.standard_normal((int(h / size) + 2, int(w / size) + 2)).astype(np.float32)
        out += cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC) / 2**k
    return out / 1.75


def paper(shape: tuple[int, int], rng: np.random.Generator, kind: str | None = None) -> np.ndarray:
    """A sheet's colour with grain and, sometimes, stains (BGR float)."""
    kind = kind or str(rng.choice(list(PAPERS), p=[0.45, 0.15, 0.08, 0.1, 0.05, 0.04, 0.04, 0.09]))
    base = colour(PAPERS, kind, rng)
    grain = noise(shape, rng, rng.uniform(2, 6), 2) * rng.uniform(1, 6)
    blotch = noise(shape, rng, max(shape) / rng.uniform(3, 8), 2) * rng.uniform(0, 10)
    return base[None, None, :] + (grain + blotch)[..., None]


def lines(shape: tuple[int, int], rng: np.random.Generator, spacing: float, angle: float = 0.0,
          vertical: bool = False, width: float = 1.0, phase: float | None = None, dashed: bool = False) -> np.ndarray:
    """Parallel straight lines `spacing` px apart, tilted `angle` degrees (ruled paper, tables, form rules)."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    phase = rng.uniform(0, spacing) if phase is None else phase
    t = np.tan(np.radians(angle))
    extent = w if vertical else h
    pos = phase - abs(t) * max(h, w)
    thick = max(1, int(round(width)))
    while pos < extent + abs(t) * max(h, w):
        if vertical:
            p0, p1 = (pos, 0), (pos + t * h, h)
        else:
            p0, p1 = (0, pos), (w, pos + t * w)
        if dashed:
            n = int(np.hypot(p1[0] - p0[0], p1[1] - p0[1]) / 6)
            for k in range(0, n, 2):
                a = np.array(p0) + (np.array(p1) - np.array(p0)) * k / n
                b = np.array(p0) + (np.array(p1) - np.array(p0)) * (k + 1) / n
                cv2.line(out, tuple(map(int, a)), tuple(map(int, b)), 1.0, thick, cv2.LINE_AA)
        else:
            cv2.line(out, tuple(map(int, p0)), tuple(map(int, p1)), 1.0, thick, cv2.LINE_AA)
        pos += spacing
    return out * (min(1.0, width) if width < 1 else 1.0)


def guilloche(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """The fine interlaced wave pattern printed on cheques: families of thin sine curves."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    xs = np.arange(0, w + 4, 2, dtype=np.float32)
    for _ in range(int(rng.integers(1, 4))):
        period = rng.uniform(0.05, 0.5) * w
        amp = rng.uniform(0.05, 0.4) * h
        step = rng.uniform(2.5, 8)
        phase_step = rng.uniform(-0.4, 0.4)
        thick = 1 if rng.random() < 0.8 else 2
        for k, y0 in enumerate(np.arange(-amp, h + amp, step)):
            ys = y0 + amp * np.sin(2 * np.pi * xs / period + k * phase_step)
            pts = np.round(np.stack([xs, ys], 1) * 4).astype(np.int32)
            cv2.polylines(out, [pts], False, 1.0, thick, cv2.LINE_AA, shift=2)
    return np.clip(out, 0, 1) * rng.uniform(0.3, 1.0)


def specks(shape: tuple[int, int], rng: np.random.Generator, count: int, size: float, edges: bool = False
           ) -> np.ndarray:
    """Dark dots and crumbs `size` px across at most; with `edges`, crowded near the frame's edges."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    for _ in range(count):
        if edges and rng.random() < 0.6:
            side = rng.integers(4)
            d = rng.uniform(0, 0.06)
            x = rng.uniform(0, 1) if side < 2 else (d if side == 2 else 1 - d)
            y = (d if side == 0 else 1 - d) if side < 2 else rng.uniform(0, 1)
        else:
            x, y = rng.uniform(0, 1, 2)
        r = max(0.6, rng.uniform(0.3, 1.0) * size / 2)
        axes = (max(1, int(round(r * 64))), max(1, int(round(r * rng.uniform(0.4, 1.0) * 64))))
        cv2.ellipse(out, (int(x * w * 64), int(y * h * 64)), axes, rng.uniform(0, 180), 0, 360, 1.0, -1,
                    cv2.LINE_AA, shift=6)
    return np.clip(out, 0, 1)


def scribble(shape: tuple[int, int], rng: np.random.Generator, size: float, pen: float) -> np.ndarray:
    """One stray pen stroke: an underline, a tick, a loop or a wavy line, about `size` px long."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    start = rng.uniform([0, 0], [w, h])
    n = int(rng.integers(3, 8))
    heading = rng.uniform(0, 2 * np.pi)
    pts = [start]
    for _ in range(n):
        heading += rng.normal(0, 0.9)
        pts.append(pts[-1] + size / n * np.array([np.cos(heading), np.sin(heading)]))
    pts = np.round(np.array(pts) * 4).astype(np.int32)
    cv2.polylines(out, [pts], False, 1.0, max(1, int(round(pen))), cv2.LINE_AA, shift=2)
    return out


def paste(layer: np.ndarray, patch: np.ndarray, x: float, y: float) -> None:
    """Max-paste coverage `patch` with its top-left at (x, y), clipped to the layer."""
    H, W = layer.shape
    h, w = patch.shape
    x0, y0 = int(round(x)), int(round(y))
    a0, b0, a1, b1 = max(0, x0), max(0, y0), min(W, x0 + w), min(H, y0 + h)
    if a1 > a0 and b1 > b0:
        region = layer[b0:b1, a0:a1]
        np.maximum(region, patch[b0 - y0 : b1 - y0, a0 - x0 : a1 - x0], out=region)


def desk(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """What a sheet lies on, seen by a phone or webcam (BGR float): wood, dark cloth, a plain table, a keyboard."""
    h, w = shape
    kind = rng.choice(["wood", "cloth", "plain", "keys"], p=[0.4, 0.25, 0.25, 0.1])
    if kind == "wood":
        base = rng.uniform([20, 50, 80], [90, 130, 180]).astype(np.float32)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        warp = noise(shape, rng, max(h, w) / 4, 2) * rng.uniform(5, 25)
        angle = rng.uniform(0, np.pi)
        u = xs * np.cos(angle) + ys * np.sin(angle) + warp
        rings = np.sin(u / rng.uniform(2, 8)) * rng.uniform(0.1, 0.3) + noise(shape, rng, 3, 1) * 0.05
        return base[None, None] * (1 + rings[..., None])
    if kind == "cloth":
        base = rng.uniform([10, 10, 10], [80, 80, 90]).astype(np.float32)
        weave = noise(shape, rng, rng.uniform(1.5, 3), 1) * rng.uniform(6, 20)
        return base[None, None] + weave[..., None]
    if kind == "keys":
        base = np.full((h, w, 3), rng.uniform(15, 50), np.float32)
        pitch = rng.uniform(25, 60)
        for y in np.arange(rng.uniform(0, pitch), h, pitch):
            for x in np.arange(rng.uniform(0, pitch), w, pitch):
                cv2.rectangle(base, (int(x), int(y)), (int(x + 0.8 * pitch), int(y + 0.8 * pitch)),
                              (70, 70, 70), -1)
        return base + noise(shape, rng, 4, 1)[..., None] * 5
    base = rng.uniform([30, 30, 30], [200, 200, 200]).astype(np.float32)
    return base[None, None] + noise(shape, rng, max(h, w) / 3, 2)[..., None] * 15


def light(shape: tuple[int, int], rng: np.random.Generator, darkest: float = 0.55) -> np.ndarray:
    """Uneven light: a ramp in a random direction, a vignette, and sometimes a soft shadow (a hand, a phone)."""
    h, w = shape
    yy, xx = np.mgrid[0:1:61j, 0:1:81j].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (xx - 0.5) * np.cos(theta) + (yy - 0.5) * np.sin(theta)
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min() + 1e-6)
    low = rng.uniform(darkest, 0.95)
    out = (low + (1.05 - low) * ramp) * (1.0 - rng.uniform(0, 0.3) * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2))
    if rng.random() < 0.3:
        c = rng.uniform(-0.2, 1.2, 2)
        r = rng.uniform(0.2, 0.6)
        shade = np.clip(1 - np.hypot(xx - c[0], yy - c[1]) / r, 0, 1)
        out *= 1 - rng.uniform(0.2, 0.5) * cv2.GaussianBlur(shade, (0, 0), 3)
    return cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)


def book_edge(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Light falling off towards a bound book's gutter or a page edge, on one side (multiplies the page)."""
    h, w = shape
    vertical = rng.random() < 0.7
    n = w if vertical else h
    t = np.arange(n, dtype=np.float32) / n
    if rng.random() < 0.5:
        t = t[::-1]
    width = rng.uniform(0.05, 0.3)
    fall = 1 - rng.uniform(0.4, 0.9) * np.clip(1 - t / width, 0, 1) ** 2
    return np.tile(fall[None, :], (h, 1)) if vertical else np.tile(fall[:, None], (1, w))


def compose(base: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Paper (BGR float) under layers of (coverage [H, W], BGR colour): each darkens towards its colour."""
    out = base.copy()
    for coverage, ink in layers:
        out *= 1.0 - coverage[..., None] * (1.0 - np.asarray(ink, np.float32)[None, None] / 255.0)
    return out


def camera(frame: np.ndarray, rng: np.random.Generator, blur: tuple[float, float] = (0.4, 1.4),
           noise_sigma: tuple[float, float] = (1.5, 6.0), jpeg: tuple[int, int] | None = (50, 92)) -> np.ndarray:
    """A sensor's view: blur, noise, uint8, and a JPEG round trip (BGR uint8 out)."""
    frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(*blur))
    frame = frame + rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(rng.uniform(*noise_sigma))
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    if jpeg is not None:
        quality = int(rng.integers(*jpeg))
        frame = cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)
    return frame
