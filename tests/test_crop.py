"""An image of one tight digit is read by the digit classifier too (`reading.crop`): a crop of a digit reads as that
digit in either polarity, a crop of two digits or a page is never taken for one digit, a blank crop reads as nothing,
and on held-out digit crops the reader reads more right than the page reader alone. MNIST test digits and the
validation fonts only; nothing is timed."""

import cv2
import numpy as np
import pytest

from edgedigits.runtime import as_text, load_reader
from edgedigits.runtime.reading import crop, page, strips
from edgedigits.synth import glyphs, sets

pytestmark = pytest.mark.runtime


@pytest.fixture(scope="module")
def reader():
    return load_reader()


def _read(reader, image) -> str:
    return as_text(reader.read(image), mark_uncertain=False).replace(" ", "")


def _on_paper(digit: np.ndarray, height: int, margin: int, dark: bool = True) -> np.ndarray:
    """An MNIST digit (white on black) cut to its ink, scaled to `height` rows, on grey paper with a margin."""
    x, y, w, h = cv2.boundingRect(digit)
    ink = cv2.resize(digit[y : y + h, x : x + w], (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)
    ink = cv2.copyMakeBorder(ink, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=0)
    return (225 - ink.astype(np.float32) * 0.7).astype(np.uint8) if dark else (30 + ink * 0.8).astype(np.uint8)


def test_a_tight_crop_of_a_digit_reads_as_that_digit_in_either_polarity(reader, mnist):
    right, count = 0, 0
    for i in range(40):
        for dark, height, margin in ((True, 60, 0), (False, 24, 3)):
            image = _on_paper(mnist.x_test[i], height, margin, dark)
            assert crop.is_crop(image)
            normalized, (x, y, w, h) = crop.digit_image(image)
            assert normalized.shape == (28, 28)
            assert margin - 1 <= y and y + h <= margin + height + 1 and h >= 0.9 * height  # the ink, not the margin
            right += _read(reader, image) == str(mnist.y_test[i])
            count += 1
    assert right >= 0.9 * count, f"{right} of {count}"  # the page reader alone: about 3 in 4


def test_two_digits_side_by_side_or_a_page_are_not_one_digit(reader, mnist):
    pairs = [(i, i + 1) for i in range(0, 20, 2)]
    for a, b in pairs:
        two = np.hstack([_on_paper(mnist.x_test[a], 40, 4), _on_paper(mnist.x_test[b], 40, 4)])
        assert not crop.is_crop(two), two.shape
    assert not crop.is_crop(np.full((480, 640), 200, np.uint8))
    assert not crop.is_crop(np.full((300, 240), 200, np.uint8))  # a tall image, but larger than any digit crop


def test_a_blank_or_noisy_crop_reads_as_nothing(reader):
    rng = np.random.default_rng(3)
    noise = np.clip(200 + rng.normal(0, 6, (40, 32)), 0, 255).astype(np.uint8)
    for image in (np.full((40, 32), 210, np.uint8), noise):
        assert crop.digit_image(image) is None
        assert _read(reader, image) == ""


def test_held_out_digit_crops_read_better_than_by_the_page_reader_alone(reader, mnist):
    source = glyphs.Glyphs(mnist.x_test, mnist.y_test, glyphs.find_fonts(glyphs.VALIDATION_FONTS))
    items = sets.make_set("digits", source, 60, 4243) + sets.make_set("usps", source, 60, 4244)
    both = sum(_read(reader, image) == text for image, text in items)
    alone = sum("".join(str(r.digit) for r in reader.pages.read(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))) == text
                for image, text in items)
    assert both > alone and both >= 0.88 * len(items), f"with crops {both}, page reader alone {alone} of {len(items)}"


def test_one_digit_read_on_two_overlapping_lines_is_read_once(reader, mnist, monkeypatch):
    assert page.same_ink([(1, 0, 9, 15), (1, 4, 10, 16)])  # one 16x16 digit under two found lines
    assert not page.same_ink([(1, 27, 13, 23), (24, 26, 13, 23), (40, 25, 13, 23)])  # three digits side by side
    assert not page.same_ink([(6, 0, 5, 9), (1, 27, 13, 23)])  # stacked lines
    source = glyphs.Glyphs(mnist.x_test, mnist.y_test, glyphs.find_fonts(glyphs.VALIDATION_FONTS))
    found = reader.pages.lines
    # the finder joins overlapping pieces of one number (finder.fragments); a line laid twice, a little apart, is
    # what an unjoined pair reads as
    monkeypatch.setattr(reader.pages, "lines", lambda gray: [moved for line in found(gray) for moved in
                                                             (line, strips.shifted(line, 0.15))])
    twice = 0
    for image, text in sets.make_set("usps", source, 40, 4245):
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if page.same_ink([r.box for r in reader.pages.reads(gray)]):
            twice += 1
            assert len(_read(reader, image)) == 1, text
    assert twice >= 20, f"{twice} of 40 16x16 digits read on two overlapping lines: the check above tested little"


def test_a_crop_is_read_as_written_and_turned_either_way(mnist):
    image = mnist.x_test[0]
    three = crop.turned(image)
    assert three.shape == (3, 28, 28) and three.dtype == np.uint8 and np.array_equal(three[0], image)
    ys, xs = np.mgrid[0:28, 0:28]
    for turned, sign in zip(three[1:], (-1, 1)):
        assert not np.array_equal(turned, image) and abs(int(turned.sum()) - int(image.sum())) < 0.05 * image.sum()
        # turned about the centre: the ink's angle about it moves by the turn (counter-clockwise for positive angles,
        # y pointing down)
        def angle(a):
            w = a.astype(float) / a.sum()
            cx, cy = (w * xs).sum(), (w * ys).sum()
            cov = np.cov(np.stack([xs.ravel() - cx, ys.ravel() - cy]), aweights=w.ravel() + 1e-12)
            return np.degrees(0.5 * np.arctan2(2 * cov[0, 1], cov[0, 0] - cov[1, 1]))
        assert abs((angle(image) - angle(turned) - sign * crop.TURN + 90) % 180 - 90) < 3  # axes: modulo 180 degrees
