"""The number finder's post-processing and the strip cutter (edgedigits.runtime.reading): the deterministic steps
around the networks, on maps and images whose answer is known."""

import numpy as np
import pytest

from edgedigits.runtime.reading import find, finder, page, resample, strips

pytestmark = pytest.mark.runtime


@pytest.mark.parametrize("shape", [(16, 16), (480, 640), (1536, 2048), (60, 300), (40, 30), (481, 641)])
def test_the_working_image_is_a_padded_multiple_of_the_network_stride(shape):
    gray = np.full(shape, 200, np.uint8)
    gray[shape[0] // 4 : shape[0] // 2, shape[1] // 4 : shape[1] // 2] = 20
    work, geo = finder.working_image(gray)
    assert work.shape == geo.shape and all(s % finder.MULTIPLE == 0 for s in work.shape)
    assert max(work.shape) <= finder.MAX_SIDE + 2 * finder.MAX_PAD + finder.MULTIPLE
    assert min(geo.down, geo.up) == 1 and max(shape) * geo.scale <= finder.MAX_SIDE
    assert min(shape) * geo.scale >= min(finder.MIN_SIDE, finder.MAX_SIDE // max(shape) * min(shape))
    assert work[0, 0] == 200  # padded with the border's grey
    corner = geo.to_image(np.array([[geo.pad, geo.pad]]))[0]
    assert np.allclose(corner, 0, atol=1e-9)


def test_the_working_geometry_is_the_one_written_down():
    """The numbers a port must reproduce (the finder's notes): whole factors, pad = shorter side // 5 up to 32."""
    assert finder.working((480, 640)) == finder.Working(1, 1, 32, (544, 704))
    assert finder.working((768, 1024)) == finder.Working(2, 1, 32, (448, 576))
    assert finder.working((3000, 4000)) == finder.Working(7, 1, 32, (512, 640))
    assert finder.working((16, 16)) == finder.Working(1, 6, 19, (160, 160))
    assert finder.working((40, 300)) == finder.Working(1, 2, 16, (128, 640))


def test_grey_conversion_is_opencvs_fixed_point_formula():
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    b, g, r = (bgr[..., i].astype(np.int64) for i in range(3))
    assert np.array_equal(find.to_gray(bgr), (b * 3735 + g * 19235 + r * 9798 + 16384) >> 15)


def test_shrinking_and_sampling_are_exact_integer_and_float64_steps():
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (37, 53), dtype=np.uint8)
    small = resample.shrink(gray, 3)
    assert small.shape == (12, 17)
    assert small[4, 5] == (int(gray[12:15, 15:18].astype(int).sum()) + 4) // 9
    assert np.array_equal(resample.enlarge(gray, 2)[::2, ::2], gray)
    xs, ys = np.array([[5.25, -0.5, 52.5]]), np.array([[7.75, 3.0, 10.0]])
    got = resample.bilinear(gray, xs, ys, 99.0)
    a, b, c, d = (float(gray[y, x]) for y, x in ((7, 5), (7, 6), (8, 5), (8, 6)))
    assert got[0, 0] == (a * 0.75 + b * 0.25) * 0.25 + (c * 0.75 + d * 0.25) * 0.75
    assert got[0, 1] == 99.0 * 0.5 + float(gray[3, 0]) * 0.5  # half outside: the fill
    assert got[0, 2] == 99.0 * 0.5 + float(gray[10, 52]) * 0.5
    assert resample.lower_median(np.array([4, 1, 3, 2])) == 2


def _maps(shape, cells, log_height):
    band = np.zeros(shape, np.float32)
    for y, x in cells:
        band[y, x] = 0.9
    return band, np.full(shape, log_height, np.float32)


def test_a_rising_band_gives_a_rising_centre_line_and_its_height():
    geo = finder.Working(1, 1, 0, (128, 256))
    cells = [(20 - x // 4, x) for x in range(8, 40)]  # rises one cell every 4 cells to the right
    band, height = _maps((32, 64), cells, np.log(24 / finder.HEIGHT_UNIT))
    (line,) = finder.lines_from_maps(band, height, geo)
    assert abs(line.height - 24) < 1e-6
    assert abs(line.angle - np.degrees(np.arctan2(-1, 4))) < 2.0
    assert line.start[0] < 8 * finder.CELL and line.end[0] > 39 * finder.CELL


def test_specks_below_min_cells_are_not_numbers_and_a_short_band_lies_level():
    geo = finder.Working(1, 2, 8, (128, 128))
    band, height = _maps((32, 32), [(5, 5), (20, 10), (20, 11), (21, 11)], 0.0)
    (line,) = finder.lines_from_maps(band, height, geo)
    assert line.angle == 0.0  # three cells, shorter than the digits are tall: no slope is trusted
    assert abs(line.height - finder.HEIGHT_UNIT / 2) < 1e-6  # working pixels back to image pixels


def test_overlapping_pieces_of_one_number_are_one_line_and_numbers_apart_stay_apart(monkeypatch):
    geo = finder.Working(1, 1, 0, (128, 256))
    h = np.log(24 / finder.HEIGHT_UNIT)  # digits 24 px (6 cells) tall: each line reaches 2 + 4.8 px past its cells
    pieces = [(10, x) for x in range(4, 14)] + [(11, x) for x in range(15, 30)]  # one band broken one cell apart
    apart = [(10, x) for x in range(40, 50)] + [(10, x) for x in range(54, 60)]  # four cells (16 px) between
    below = [(20, x) for x in range(4, 30)]  # the next row: 10 cells (40 px) below
    band, height = _maps((32, 64), pieces + apart + below, h)
    lines = finder.lines_from_maps(band, height, geo)
    assert len(lines) == 4
    spans = sorted((round(ln.start[0]), round(ln.end[0]), round((ln.start[1] + ln.end[1]) / 2)) for ln in lines)
    joined = [s for s in spans if s[0] < 4 * 4 and s[2] < 60]
    assert len(joined) == 1 and joined[0][1] > 29 * 4  # the broken band is one line from its first cell to its last
    assert finder.fragments([]) == []
    band, height = _maps((32, 64), pieces, h)
    monkeypatch.setattr(finder, "ROW_SHARE", 0.0)
    assert len(finder.lines_from_maps(band, height, geo)) == 2  # without the rule: two numbers


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
