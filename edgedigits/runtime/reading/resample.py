"""The few pixel operations the page reader does between its networks, each defined exactly (whole-factor box
shrinking, pixel repetition, bilinear sampling with a constant border, order statistics by index), so another
implementation (a web page in JavaScript) computes the same numbers from the same grey image. numpy only:
OpenCV's resizers use fixed-point arithmetic of their own that another platform would have to copy bit by bit.
"""

from __future__ import annotations

import numpy as np


def shrink(gray: np.ndarray, k: int) -> np.ndarray:
    """uint8 [H, W] -> uint8 [H // k, W // k]: each pixel the mean of a k x k block (rows and columns past the last
    whole block dropped), rounded half up in integers: (sum + k*k // 2) // (k*k)."""
    if k <= 1:
        return gray
    h, w = gray.shape[0] // k, gray.shape[1] // k
    blocks = gray[: h * k, : w * k].reshape(h, k, w, k).sum(axis=(1, 3), dtype=np.int64)
    return ((blocks + (k * k) // 2) // (k * k)).astype(np.uint8)


def enlarge(gray: np.ndarray, k: int) -> np.ndarray:
    """uint8 [H, W] -> [H * k, W * k], each pixel repeated k x k times."""
    return gray if k <= 1 else np.repeat(np.repeat(gray, k, axis=0), k, axis=1)


def nth(values: np.ndarray, index: int):
    """The value at `index` of `values` sorted ascending (flattened)."""
    flat = np.ravel(values)
    return np.partition(flat, index)[index]


def lower_median(values: np.ndarray):
    """The lower median: the value at index (n - 1) // 2 of the n values sorted."""
    return nth(values, (np.size(values) - 1) // 2)


def bilinear(image: np.ndarray, xs: np.ndarray, ys: np.ndarray, fill: float) -> np.ndarray:
    """`image` sampled at points (xs, ys) (pixel (i, j) sits at x = j, y = i), in float64: with x0 = floor(x),
    fx = x - x0 (and y likewise), (a (1 - fx) + b fx) (1 - fy) + (c (1 - fx) + d fx) fy, where a, b, c, d are the
    pixels at (x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1), and `fill` where one lies outside the image."""
    h, w = image.shape
    x0, y0 = np.floor(xs), np.floor(ys)
    fx, fy = xs - x0, ys - y0
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)

    def at(x, y):
        inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
        return np.where(inside, image[np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)], fill).astype(np.float64)

    top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx
    bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx
    return top * (1.0 - fy) + bottom * fy
