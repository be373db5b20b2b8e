"""The number finder's post-processing and the strip cutter (edgedigits.runtime.reading): the deterministic steps
around the networks, on maps and images whose answer is known."""

import numpy as np
import pytest

from edgedigits.runtime.reading import finder, page, strips

pytestmark = pytest.mark.runtime


@pytest.mark.parametrize("shape", [(16, 16), (480, 640), (1536, 2048), (60, 300), (40, 30)])
def test_the_working_image_is_a_padded_multiple_of_the_network_stride(shape):
    gray = np.full(shape, 200, np.uint8)
    gray[shape[0] // 4 : shape[0] // 2, shape[1] // 4 : shape[1] // 2] = 20
    work, geo = finder.working_image(gray)
    assert work.shape == geo.shape and all(s % finder.MULTIPLE == 0 for s in work.shape)
    assert max(work.shape) <= finder.MAX_SIDE + 2 * finder.MAX_PAD + finder.MULTIPLE
    assert min(shape) * geo.scale >= min(finder.MIN_SIDE, finder.MAX_SIDE / max(shape) * min(shape)) - 1
    assert work[0, 0] == 200  # padded with the border's grey
    corner = geo.to_image(np.array([[geo.pad, geo.pad]]))[0]
    assert np.allclose(corner, 0, atol=1e-9)


def _maps(shape, cells, log_height):
    band = np.zeros(shape, np.float32)
    for y, x in cells:
        band[y, x] = 0.9
    return band, np.full(shape, log_height, np.float32)


def test_a_rising_band_gives_a_rising_centre_line_and_its_height():
    geo = finder.Working(1.0, 0, (128, 256))
    cells = [(20 - x // 4, x) for x in range(8, 40)]  # rises one cell every 4 cells to the right
    band, height = _maps((32, 64), cells, np.log(24 / finder.HEIGHT_UNIT))
    (line,) = finder.lines_from_maps(band, height, geo)
    assert abs(line.height - 24) < 1e-6
    assert abs(line.angle - np.degrees(np.arctan2(-1, 4))) < 2.0
    assert line.start[0] < 8 * finder.CELL and line.end[0] > 39 * finder.CELL


def test_specks_below_min_cells_are_not_numbers_and_a_short_band_lies_level():
    geo = finder.Working(2.0, 8, (128, 128))
    band, height = _maps((32, 32), [(5, 5), (20, 10), (20, 11), (21, 11)], 0.0)
    (line,) = finder.lines_from_maps(band, height, geo)
    assert line.angle == 0.0  # three cells, shorter than the digits are tall: no slope is trusted
    assert abs(line.height - finder.HEIGHT_UNIT / 2) < 1e-6  # working pixels back to image pixels


def test_reading_order_keeps_a_rising_number_on_its_row():
    def line(x0, y0, x1, y1, h=20.0):
        return finder.Line(np.array([x0, y0], float), np.array([x1, y1], float), h, 1.0)

    rising = line(10, 100, 200, 60)  # its right end is higher than the next row's top
    right = line(230, 58, 300, 50)  # on the rising line's extension
    below = line(20, 140, 120, 140)
    assert page.reading_order([below, right, rising]) == [2, 1, 0]


def test_a_strip_follows_its_line_and_turns_light_ink_round():
    gray = np.full((200, 400), 230, np.uint8)
    rows = (np.arange(400) * -0.2 + 150).astype(int)  # a dark stroke along a rising line
    for x in range(50, 350):
        gray[rows[x] - 2 : rows[x] + 3, x] = 30
    line = finder.Line(np.array([50.0, 140.0]), np.array([350.0, 80.0]), 40.0, 1.0)
    cut = strips.cut(gray, line)
    assert cut.shape[0] == strips.STRIP_ROWS and cut.shape[1] % strips.STRIDE == 0
    dark_rows = np.flatnonzero((cut[:, 10:-10] < 100).mean(1) > 0.5)
    assert len(dark_rows) and abs(dark_rows.mean() - strips.STRIP_ROWS / 2) <= 2  # level, in the middle
    ink = strips.normalize(cut)
    light = strips.normalize(255 - cut)
    assert np.allclose(ink, light, atol=1e-5)
    assert ink.max() >= 1.0 and abs(np.median(ink)) < 1e-6
