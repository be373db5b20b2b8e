"""Write a number the way a person does: digits of one hand along a baseline that may rise, fall or curve, close
together or apart, with the separators people put inside numbers (`1.265`, `280.000=`, `67,290`), and keep where
every digit went (its centre, top and bottom), so the finder and the reader can be trained on what was written.
numpy and OpenCV only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edgedigits.synth import glyphs as glyph_sources

SPACING = {"apart": (0.12, 0.5), "close": (0.0, 0.15), "touching": (-0.22, 0.02)}  # gap / digit height


@dataclass
class Layout:
    """A number's glyphs laid out on a straight, level baseline from x = 0 (y = 0 on the baseline, up is negative)."""

    text: str
    patches: list[np.ndarray]  # ink coverage per glyph
    left: list[float]  # x of each glyph's left edge
    top: list[float]  # y of each glyph's top (negative: above the baseline)
    is_digit: list[bool]
    height: float  # the digits' nominal height
    width: float


@dataclass
class Number:
    """One written number in page pixels: digits only (marks are not digits)."""

    labels: list[int]
    centres: np.ndarray  # float [n, 2]: each digit's ink box centre
    tops: np.ndarray  # float [n, 2]: the top and bottom of each digit's nominal height through its centre column
    bottoms: np.ndarray
    ends: np.ndarray  # float [2, 2]: where the number's ink starts and ends on its centre line (marks included)
    boxes: list[tuple[int, int, int, int]]

    @property
    def text(self) -> str:
        return "".join(str(d) for d in self.labels)

    @property
    def height(self) -> float:
        return float(np.median(np.linalg.norm(self.bottoms - self.tops, axis=1))) if len(self.labels) else 0.0

    def warped(self, matrix: np.ndarray) -> "Number":
        """The same number after a 3x3 perspective (or affine) transform of the page."""
        def move(points):
            points = np.asarray(points, np.float64).reshape(-1, 1, 2)
            return cv2.perspectiveTransform(points, matrix).reshape(-1, 2) if len(points) else points.reshape(0, 2)
        boxes = []
        for x, y, w, h in self.boxes:
            corners = move([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
            x0, y0 = corners.min(0)
            x1, y1 = corners.max(0)
            boxes.append((int(x0), int(y0), int(round(x1 - x0)), int(round(y1 - y0))))
        return Number(self.labels, move(self.centres), move(self.tops), move(self.bottoms), move(self.ends), boxes)


def number_text(rng: np.random.Generator, digits: tuple[int, int] = (1, 8), marks: float = 0.0) -> str:
    """Random digits, with probability `marks` separated the ways people separate them: thousands, decimals,
    a trailing '=' or '-', dashes or dots between groups (no slashes: a slash is drawn like a 1, and only the
    context of a date tells them apart)."""
    n = int(rng.integers(digits[0], digits[1] + 1))
    text = "".join(str(d) for d in rng.integers(0, 10, n))
    if rng.random() >= marks or n < 2:
        return text
    style = rng.random()
    if style < 0.4:  # thousands and decimals: 1.265 / 67,290 / 1.265,00
        sep = str(rng.choice(list(".,'")))
        head = n % 3 or 3
        parts = [text[:head]] + [text[i : i + 3] for i in range(head, n, 3)]
        text = sep.join(parts)
        if rng.random() < 0.3:
            text += str(rng.choice([",", "."])) + "".join(str(d) for d in rng.integers(0, 10, 2))
    elif style < 0.6:  # decimal point anywhere
        cut = int(rng.integers(1, n))
        text = text[:cut] + str(rng.choice([".", ","])) + text[cut:]
    elif style < 0.8:  # dashes or dots between groups
        sep = str(rng.choice(["-", "."]))
        cuts = sorted(set(rng.integers(1, n, int(rng.integers(1, 3))).tolist()))
        text = sep.join(text[a:b] for a, b in zip([0, *cuts], [*cuts, n]))
    if rng.random() < 0.3:
        text += str(rng.choice(["=", "-", ",-", ".-", "="]))
    return text


def layout(text: str, source: glyph_sources.Glyphs, rng: np.random.Generator, height: float,
           spacing: str | None = None) -> Layout:
    """The glyphs of `text` (digits and separator marks) at digit height `height`, spaced in one hand's way."""
    spacing = spacing or str(rng.choice(list(SPACING), p=[0.5, 0.3, 0.2]))
    lo, hi = SPACING[spacing]
    style = int(rng.choice(3, p=np.array(source.weights) / sum(source.weights)))  # one hand per number, mostly
    pen = rng.uniform(0.05, 0.11) * height
    patches, lefts, tops, digit = [], [], [], []
    x = 0.0
    for ch in text:
        if ch.isdigit():
            alpha = source.digit(int(ch), rng, style if rng.random() < 0.9 else None)
            h = height * rng.uniform(0.92, 1.08)
            if ch == "1" and rng.random() < 0.3:
                h *= rng.uniform(1.0, 1.12)
            scale = h / alpha.shape[0]
            w = max(1, round(alpha.shape[1] * scale))
            alpha = cv2.resize(alpha, (w, max(1, round(h))), interpolation=cv2.INTER_AREA)
            top = -h + rng.uniform(-0.05, 0.05) * height
            gap = rng.uniform(lo, hi) * height
        else:
            alpha, top_frac = glyph_sources.mark(ch, height, pen, rng)
            top = -height + top_frac * height
            gap = rng.uniform(0.02, 0.2) * height
        if patches:
            x += gap
        patches.append(alpha), lefts.append(x), tops.append(top), digit.append(ch.isdigit())
        x += alpha.shape[1]
    return Layout(text, patches, lefts, tops, digit, height, x)


def place(page: np.ndarray, lay: Layout, origin: tuple[float, float], angle: float = 0.0, curve: float = 0.0,
          rotate: bool = True) -> Number:
    """Paste the layout into `page` (ink coverage, float32 [H, W], in place) with its baseline starting at
    `origin`, rising by `angle` degrees (positive: up to the right) and bending by `curve` (baseline offset at the
    number's far end, as a fraction of the height). Glyphs outside the page are clipped; their digits still count."""
    H, W = page.shape
    theta = -np.radians(angle)
    direction = np.array([np.cos(theta), np.sin(theta)])
    normal = np.array([-direction[1], direction[0]])  # points down the page
    span = max(lay.width, 1.0)
    labels, centres, tops, bottoms, boxes, extent = [], [], [], [], [], []
    for patch, left, top, is_digit, ch in zip(lay.patches, lay.left, lay.top, lay.is_digit, lay.text):
        h, w = patch.shape
        u = left + w / 2
        bend = curve * lay.height * (2 * u / span - 1) ** 2
        base = np.array(origin) + u * direction + bend * normal
        centre = base + (top + h / 2) * normal
        mid = base - lay.height / 2 * normal  # on the number's centre line
        extent += [mid - w / 2 * direction, mid + w / 2 * direction]
        if rotate and abs(angle) > 1:
            m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            side = int(np.ceil(np.hypot(h, w)))
            m[:, 2] += [(side - w) / 2, (side - h) / 2]
            patch = cv2.warpAffine(patch, m, (side, side), flags=cv2.INTER_LINEAR)
            h, w = patch.shape
        x0, y0 = int(round(centre[0] - w / 2)), int(round(centre[1] - h / 2))
        a0, b0 = max(0, x0), max(0, y0)
        a1, b1 = min(W, x0 + w), min(H, y0 + h)
        if a1 > a0 and b1 > b0:
            region = page[b0:b1, a0:a1]
            np.maximum(region, patch[b0 - y0 : b1 - y0, a0 - x0 : a1 - x0], out=region)
        if is_digit:
            labels.append(int(ch)), centres.append(centre), boxes.append((x0, y0, w, h))
            tops.append(mid - lay.height / 2 * normal), bottoms.append(mid + lay.height / 2 * normal)
    along = np.array(extent) @ direction
    first, last = np.array(extent)[along.argmin()], np.array(extent)[along.argmax()]
    return Number(labels, np.array(centres).reshape(-1, 2), np.array(tops).reshape(-1, 2),
                  np.array(bottoms).reshape(-1, 2), np.array([first, last]), boxes)
