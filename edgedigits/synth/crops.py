"""Tight crops of one handwritten digit, MNIST-normalized the way the reader normalizes a crop it is handed
(`runtime.reading.crop.digit_image`): digits cut from scanned forms (CVL-like, `pages.digit`) and 16x16
size-normalized digits (USPS-like, `pages.usps`), from MNIST digits, handwriting fonts and pen strokes. Training
the crop classifier on them teaches it the shapes and the normalization MNIST alone lacks (the European 1, open 4,
font digits, crops cut tight)."""

from __future__ import annotations

import cv2
import numpy as np

from edgedigits.runtime.reading import crop
from edgedigits.synth import glyphs, pages

USPS_SHARE = 0.35  # of the crops: 16x16 size-normalized digits; the rest cut from forms


def make(source: glyphs.Glyphs, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` crops as MNIST-normalized uint8 [count, 28, 28] (white on black) and their labels."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    while len(images) < count:
        page = pages.make("usps" if rng.random() < USPS_SHARE else "digit", source, rng)
        found = crop.digit_image(cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY))
        if found is not None:  # a crop too faint to hold ink is not read as a digit either
            images.append(found[0])
            labels.append(int(page.text))
    return np.stack(images), np.array(labels, np.int64)
