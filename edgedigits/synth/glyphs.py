"""Where synthetic digits come from: MNIST digits, handwriting fonts from Debian's archive, and pen-stroke
skeletons (`strokes`); and the marks people write around numbers (separators, currency signs, letters).

Every source gives ink coverage (float32 in [0, 1], cropped to the ink). A digit is then reshaped the way another
writer's would be: slant, rotation, width, elastic wobble and stroke width. Training and validation draw from
disjoint sources: MNIST training digits and TRAIN_FONTS against MNIST test digits and VALIDATION_FONTS (writers and
typefaces never seen in training). Fonts are rendered with Pillow, which only training and benchmarks need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edgedigits.synth import strokes

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts/opentype"))
# File names of handwriting fonts from Debian's archive (the Makefile's FONT_PACKAGES, installed by `make system`):
# one list trains, the other validates.
TRAIN_FONTS = ("BecauseWeBuild-Regular.otf", "BecauseWeConnect-Regular.otf", "BecauseWeCreate-Regular.otf",
               "BecauseWeMentor-Regular.otf", "BecauseWeOrganize-Regular.otf", "ComicNeue-Regular.otf",
               "ComicNeue-Bold.otf", "ComicNeue-Italic.otf", "ComicNeue-Light.otf", "DancingScript-Regular.otf",
               "KaushanScript-Regular.otf", "Breip.ttf", "Humor-Sans.ttf", "KleeOne-Regular.ttf",
               "LeckerliOne-Regular.ttf", "Rufscript010.ttf", "Delphine.ttf", "TomsonTalks.ttf",
               "YuseiMagic-Regular.otf", "YuseiMagic-Regular.ttf", "setofont.ttf", "Navilu.ttf", "YOzBEF.ttf",
               "YOzREF.ttf", "YOzBEFi.ttf")
VALIDATION_FONTS = ("BecauseWeLearn-Regular.otf", "dkg.ttf", "dkgBd.ttf", "dkgIt.ttf", "SteveHand.ttf", "Kristi.ttf",
                    "DancingScript-Bold.otf", "KleeOne-SemiBold.ttf", "ComicNeue-BoldItalic.otf")
PRINT_FONTS = ("DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSans-Bold.ttf", "LiberationSans-Regular.ttf",
               "LiberationSerif-Regular.ttf", "LiberationMono-Regular.ttf")
SEPARATORS = ".,-='"
# Letters unlike any digit (no O, o, l, I, i, Z, z, S, s, b, G, B, g, q, T, J): text near numbers reads as nothing.
LETTERS = "acdefhkmnprtuvwxyACDEFHKMNPRUVWXY"
CURRENCY = ("$", "R$", "€", "£", "Fr", "EUR", "USD")
CANVAS = 64  # digits are reshaped at this height, then scaled to their size


def find_fonts(names) -> list[Path]:
    found = {p.name: p for d in FONT_DIRS if d.is_dir() for p in d.rglob("*") if p.suffix in (".ttf", ".otf")}
    return [found[n] for n in names if n in found]


def _crop(alpha: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(alpha > 0.02)
    if not len(ys):
        return np.zeros((1, 1), np.float32)
    return alpha[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def render_text(font_path: Path, text: str, size: int = 96) -> np.ndarray:
    """Text in one font as ink coverage cropped to its ink (Pillow)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(font_path), size)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(image).text((4 - left, 4 - top), text, font=font, fill=255)
    return _crop(np.asarray(image, np.float32) / 255.0)


def reshape(alpha: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Another writer's version of a glyph: scaled to CANVAS rows, slanted, rotated, narrower or wider, wobbled
    (elastic distortion, Simard et al. 2003) and with thinner or thicker strokes; cropped to its ink."""
    h, w = alpha.shape
    scale = CANVAS / max(h, 1)
    size = (max(1, round(w * scale)), CANVAS)
    alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    pad = CANVAS // 2
    alpha = cv2.copyMakeBorder(alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    hh, ww = alpha.shape
    shear = rng.uniform(-0.35, 0.25) * strength
    aspect = np.exp(rng.normal(0, 0.12 * strength))
    angle = np.radians(rng.normal(0, 5 * strength))
    c, s = np.cos(angle), np.sin(angle)
    m = np.array([[c, -s], [s, c]]) @ np.array([[aspect, shear], [0, 1.0]])
    centre = np.array([ww / 2, hh / 2])
    affine = np.hstack([m, (centre - m @ centre)[:, None]]).astype(np.float32)
    alpha = cv2.warpAffine(alpha, affine, (ww, hh), flags=cv2.INTER_LINEAR)
    if rng.random() < 0.7 * strength:
        grid = (hh // 8 + 1, ww // 8 + 1)
        amount = rng.uniform(1.0, 3.5) * strength
        dx = cv2.resize(rng.normal(0, amount, grid).astype(np.float32), (ww, hh), interpolation=cv2.INTER_CUBIC)
        dy = cv2.resize(rng.normal(0, amount, grid).astype(np.float32), (ww, hh), interpolation=cv2.INTER_CUBIC)
        xs, ys = np.meshgrid(np.arange(ww, dtype=np.float32), np.arange(hh, dtype=np.float32))
        alpha = cv2.remap(alpha, xs + dx, ys + dy, cv2.INTER_LINEAR)
    pen = rng.random()
    if pen < 0.25:
        alpha = cv2.dilate(alpha, np.ones((3, 3), np.uint8), iterations=int(rng.integers(1, 3)))
    elif pen < 0.45:
        thin = cv2.erode(alpha, np.ones((3, 3), np.uint8))
        if thin.max() > 0.5:
            alpha = thin
    return _crop(np.clip(alpha, 0, 1))


@dataclass
class Glyphs:
    """Digits and marks from one side of the split (training or validation)."""

    mnist: np.ndarray  # uint8 [N, 28, 28] white on black
    mnist_labels: np.ndarray
    fonts: list[Path] = field(default_factory=list)
    weights: tuple[float, float, float] = (0.45, 0.25, 0.3)  # MNIST, fonts, strokes
    _font_digits: list[list[np.ndarray]] = field(default_factory=list, repr=False)
    _by_label: list[np.ndarray] = field(default_factory=list, repr=False)

    def __post_init__(self):
        self._font_digits = [[render_text(f, str(d)) for d in range(10)] for f in self.fonts]
        self._by_label = [np.flatnonzero(self.mnist_labels == d) for d in range(10)]
        if not self._font_digits:
            self.weights = (self.weights[0] + self.weights[1], 0.0, self.weights[2])

    def digit(self, label: int, rng: np.random.Generator, source: int | None = None) -> np.ndarray:
        """One handwritten `label` as ink coverage, CANVAS-ish rows tall, cropped to its ink."""
        source = int(rng.choice(3, p=np.array(self.weights) / sum(self.weights))) if source is None else source
        if source == 0:
            image = self.mnist[int(rng.choice(self._by_label[label]))].astype(np.float32) / 255.0
            return reshape(_crop(image), rng, 0.6)
        if source == 1:
            return reshape(self._font_digits[int(rng.integers(len(self._font_digits)))][label], rng, 1.0)
        return reshape(strokes.draw(label, rng), rng, 0.5)

    def font(self, rng: np.random.Generator) -> Path | None:
        return self.fonts[int(rng.integers(len(self.fonts)))] if self.fonts else None


def mark(kind: str, height: float, pen: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """A handwritten separator ('.', ',', '-', '=', "'", '/') for digits `height` px tall at pen width `pen`, as
    coverage, and where its top sits below the digits' top (fraction of the height)."""
    h = int(round(height))
    pen = max(1, int(round(pen)))
    size = (max(4, int(0.5 * h)) + 2 * pen, h + 2 * pen)
    canvas = np.zeros(size[::-1], np.uint8)
    x = lambda f: int(pen + f * 0.5 * h)  # noqa: E731
    y = lambda f: int(pen + f * h)  # noqa: E731
    j = lambda: rng.uniform(-0.06, 0.06)  # noqa: E731
    if kind == ".":
        cv2.circle(canvas, (x(0.3), y(0.93)), max(1, int(pen * rng.uniform(0.7, 1.4))), 255, -1, cv2.LINE_AA)
    elif kind == ",":
        cv2.line(canvas, (x(0.45 + j()), y(0.86)), (x(0.15 + j()), y(1.12 + j())), 255, pen, cv2.LINE_AA)
    elif kind == "-":
        cv2.line(canvas, (x(0.05), y(0.5 + j())), (x(0.85), y(0.48 + j())), 255, pen, cv2.LINE_AA)
    elif kind == "=":
        cv2.line(canvas, (x(0.0), y(0.38 + j())), (x(0.9), y(0.36 + j())), 255, pen, cv2.LINE_AA)
        cv2.line(canvas, (x(0.0), y(0.62 + j())), (x(0.9), y(0.6 + j())), 255, pen, cv2.LINE_AA)
    elif kind == "'":
        cv2.line(canvas, (x(0.4 + j()), y(0.0)), (x(0.3 + j()), y(0.22)), 255, pen, cv2.LINE_AA)
    else:  # "/"
        cv2.line(canvas, (x(0.9 + j()), y(0.0)), (x(0.05 + j()), y(1.0)), 255, pen, cv2.LINE_AA)
    ys, xs = np.nonzero(canvas)
    if not len(ys):
        return np.ones((1, 1), np.float32), 0.9
    top = (ys.min() - pen) / float(h)
    return canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255.0, top
