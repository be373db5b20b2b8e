"""Held-out sets shaped like the real images people hand to the reader, one per kind, each a list of (BGR image,
digits written in reading order). The same for the same seed and digit source; benchmarks draw them from MNIST test
digits and the validation fonts, training's end-to-end check from the validation split of MNIST's training digits.
"""

from __future__ import annotations

import cv2
import numpy as np

from edgedigits.synth import glyphs, pages

SETS = {  # name: (images in the full set, what it is like)
    "photos": (100, "phone/webcam photos of numbers on paper"),
    "pages": (100, "sticky notes and sheets on a desk, notebook pages"),
    "cheque": (400, "bank-cheque courtesy amounts"),
    "register": (400, "register row numbers"),
    "digits": (1000, "single digits cropped from forms (CVL-like)"),
    "usps": (1000, "16x16 size-normalized digits (USPS-like)"),
    "sklearn-8x8": (1797, "scikit-learn load_digits: real handwriting, 43 writers, 8x8 (outside check)"),
}


def make_set(name: str, source: glyphs.Glyphs, count: int, seed: int) -> list[tuple[np.ndarray, str]]:
    """`count` (BGR image, digits written) pairs of set `name`."""
    if name == "sklearn-8x8":
        from sklearn.datasets import load_digits

        d = load_digits()
        images = np.clip(d.images * 16, 0, 255).astype(np.uint8)
        return [(cv2.cvtColor(im, cv2.COLOR_GRAY2BGR), str(int(t))) for im, t in zip(images[:count], d.target)]
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        if name == "photos":
            page = pages.sheet(source, rng, [(640, 480), (1024, 768), (480, 640)][int(rng.integers(3))],
                               count=(1, 2), digits=(4, 10), plain=True)
        elif name == "pages":
            page = pages.sheet(source, rng, [(640, 480), (1024, 768), (800, 600)][int(rng.integers(3))],
                               count=(1, 20))
        else:
            page = pages.make({"digits": "digit"}.get(name, name), source, rng)
        if page.numbers or name == "pages":  # a photo of a number has one
            out.append((page.image, page.text.replace(" ", "")))
    return out
