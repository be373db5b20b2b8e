"""The shipped page reader (number finder + strip reader) behind `load_reader()`'s default: it reads numbers on
paper, cheque amounts, register rows, tight digit crops and 16x16 digits of either polarity, and reads clutter as
nothing. The images are held-out synthetic ones (MNIST test digits, validation fonts); floors sit well below what
benchmarks/real_handwriting.py measures, so they hold on any CPU. Nothing here is timed."""

import hashlib
import json

import cv2
import numpy as np
import pytest

from edgedigits.runtime import as_record, as_text, load_reader
from edgedigits.runtime.model import shipped
from edgedigits.runtime.reading import page
from edgedigits.synth import clutter, glyphs, sets

pytestmark = pytest.mark.runtime


@pytest.fixture(scope="module")
def reader():
    return load_reader()


@pytest.fixture(scope="module")
def source(mnist):
    return glyphs.Glyphs(mnist.x_test, mnist.y_test, glyphs.find_fonts(glyphs.VALIDATION_FONTS))


def _read(reader, image) -> str:
    return as_text(reader.read(image), mark_uncertain=False).replace(" ", "")


@pytest.mark.parametrize("name", [page.FINDER_SET, page.STRIPS_SET])
def test_each_shipped_set_names_its_default_file_and_its_files_hashes(name):
    folder = shipped.SHIPPED / name
    manifest = json.loads((folder / f"{name}.json").read_text())
    assert page.default_file(name) == folder / manifest["files"][manifest["default"]]
    for stage, file in manifest["files"].items():
        data = (folder / file).read_bytes()
        assert len(data) == manifest["stages"][stage]["bytes"]
        assert hashlib.sha256(data).hexdigest() == manifest["stages"][stage]["sha256"]
    assert page.is_strip_reader(page.default_file(page.STRIPS_SET))
    assert not page.is_strip_reader(shipped.default_number_reader())


@pytest.mark.parametrize("name, count, floor", [("photos", 6, 3), ("cheque", 20, 8), ("register", 20, 8),
                                                ("digits", 30, 24), ("usps", 30, 22)])
def test_reads_held_out_images_of_each_kind(reader, source, name, count, floor):
    items = sets.make_set(name, source, count, 4242)
    right = sum(_read(reader, image) == text for image, text in items)
    assert right >= floor, f"{name}: {right} of {count} read right"


def test_a_16x16_digit_reads_in_either_polarity(reader, mnist):
    picks = [i for i in range(200) if mnist.y_test[i] in (0, 3, 7)][:12]
    right = 0
    for i in picks:
        digit = cv2.resize(mnist.x_test[i][4:24, 4:24], (16, 16), interpolation=cv2.INTER_AREA)
        right += _read(reader, digit) == str(mnist.y_test[i])
        right += _read(reader, 255 - digit) == str(mnist.y_test[i])
    assert right >= 0.8 * 2 * len(picks)


def test_clutter_without_numbers_reads_as_nothing(reader):
    rng = np.random.default_rng(7)
    shape = (240, 320)
    blank = clutter.compose(clutter.paper(shape, rng, "white"), [
        (clutter.lines(shape, rng, 24.0), (200, 150, 100)), (clutter.guilloche(shape, rng), (160, 160, 200))])
    image = np.clip(blank, 0, 255).astype(np.uint8)
    assert _read(reader, image) == ""
    assert _read(reader, np.full((480, 640, 3), 128, np.uint8)) == ""


def test_the_output_keeps_its_fields(reader, source):
    image, text = sets.make_set("photos", source, 1, 11)[0]
    record = as_record(reader.read(image))
    assert set(record) == {"text", "digits", "confidences", "uncertain", "boxes", "lines"}
    n = len(record["digits"])
    assert n and all(len(record[k]) == n for k in ("confidences", "uncertain", "boxes", "lines"))
    assert all(len(b) == 4 for b in record["boxes"]) and record["lines"] == sorted(record["lines"])


def test_a_doubted_number_is_read_from_the_mean_of_three_strips(source):
    """Numbers read surely keep their first reading; a number with a digit under RECHECK is decoded from the
    weighted mean of the reader's outputs on its strip (1/2) and on strips moved SHIFT x its digit height up and
    down (1/4 each)."""
    from edgedigits.runtime.reading import strips

    pages = page.PageReader()
    doubted = sure = 0
    for image, _ in sets.make_set("register", source, 40, 5):
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        lines = pages.lines(gray)
        cut = [strips.strip(gray, line) for line in lines]
        first = pages.reader.read(cut)
        expected = []
        for line, s, reading in zip(lines, cut, first):
            if reading and min(c for _, c, _ in reading) < page.RECHECK:
                outputs = [pages.reader.probabilities([strips.strip(gray, strips.shifted(line, k * page.SHIFT))])[0][0]
                           for k in (0, -1, 1)]
                reading = pages.reader.digits(s, 0.5 * np.float64(outputs[0]) + 0.25 * outputs[1] + 0.25 * outputs[2])
                doubted += 1
            else:
                sure += bool(reading)
            expected += [(label, box) for label, _, box in reading]
        got = [(r.digit, r.box) for r in pages.read(gray)]
        assert got == expected
    assert doubted >= 3 and sure >= 10, (doubted, sure)
