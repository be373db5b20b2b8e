"""An image that is one tight digit (a crop cut from a form, a 16x16 or 8x8 size-normalized digit) read by a digit
classifier, the way MNIST was made: such a crop holds no number for the number finder to find, and the classifier
reads a lone digit better than the strip reader does. Only a small image, no wider than about one digit, that the
page reader reads as two digits at most is a crop; the classifier's reading wins where it is surer of its digit
than the page reader is of its least sure one. numpy and OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np

from edgedigits.runtime.reading.find import mnist_normalize

MAX_SIDE = 200  # pixels: a longer image is a page, a photo or a row of digits, never one digit
MAX_ASPECT = 1.2  # width / height: a digit is about as tall as wide or taller; two digits side by side are wider
MIN_CONTRAST = 40  # grey levels between the paper and the ink: less is a blank, a shadow or sensor noise
SPECK = 0.1  # ink pieces smaller than this x the largest piece are dust, not part of the digit
FAINT = 40  # coverage (of 255) below which a pixel does not count towards the digit's box
TURN = 8.0  # degrees: the classifier reads the digit as written and turned this far either way (`turned`)


def is_crop(gray: np.ndarray) -> bool:
    """Whether an image is small and narrow enough to be a crop of one digit."""
    h, w = gray.shape[:2]
    return max(h, w) <= MAX_SIDE and w <= MAX_ASPECT * h


def ink_coverage(gray: np.ndarray) -> np.ndarray | None:
    """The digit's ink as coverage in [0, 1] (white on black, whichever the polarity of the image), or None when the
    image holds no ink. Otsu splits ink from paper; the paper is the class that holds most of the image's border (a
    bold digit may cover most of a tight crop, but it reaches the border only in places)."""
    threshold, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    light = gray > threshold
    border = np.concatenate([light[0], light[-1], light[1:-1, 0], light[1:-1, -1]]).mean()
    paper_light = border > 0.5 if border != 0.5 else light.mean() > 0.5
    ink = ~light if paper_light else light
    if not ink.any() or ink.all():
        return None
    g = gray.astype(np.float32)
    paper, dark = float(np.median(g[~ink])), float(np.median(g[ink]))
    if abs(paper - dark) < MIN_CONTRAST:
        return None
    coverage = np.clip((g - paper) / (dark - paper), 0.0, 1.0)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    if count > 2:  # drop specks, keeping the soft edge around the pieces that stay
        areas = stats[1:, cv2.CC_STAT_AREA]
        keep = np.concatenate([[False], areas >= SPECK * areas.max()])
        coverage *= cv2.dilate(keep[labels].astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return coverage


def digit_image(gray: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """A crop's digit MNIST-normalized (28x28 uint8, white on black) and its box in image pixels; None without ink."""
    coverage = ink_coverage(gray)
    if coverage is None:
        return None
    ink = (255 * coverage).astype(np.uint8)
    ink[ink < FAINT] = 0
    box = cv2.boundingRect(ink)
    if box[2] == 0 or box[3] == 0:
        return None
    return mnist_normalize(ink), tuple(int(v) for v in box)


def turned(image: np.ndarray) -> np.ndarray:
    """A 28x28 digit as written and turned TURN degrees either way about the image's centre, [3, 28, 28] uint8: the
    classifier's mean over the three reads more digits than one reading (writers slant their digits more than
    MNIST's do), the way test-time augmentation does."""
    size = image.shape[1], image.shape[0]
    centre = ((size[0] - 1) / 2, (size[1] - 1) / 2)
    return np.stack([image] + [cv2.warpAffine(image, cv2.getRotationMatrix2D(centre, angle, 1.0), size,
                                              flags=cv2.INTER_LINEAR, borderValue=0) for angle in (-TURN, TURN)])
