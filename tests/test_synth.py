"""Synthetic pages (edgedigits.synth): deterministic from a seed, and what they say was written is where it was
written; the finder's training targets and the strip reader's training strips follow from them."""

import numpy as np
import pytest

from edgedigits.runtime.reading import find as vision
from edgedigits.runtime.reading import finder, strips
from edgedigits.synth import glyphs, pages, strokes, write
from edgedigits.training import finderdata, stripdata


@pytest.fixture(scope="module")
def source(mnist):
    return glyphs.Glyphs(mnist.x_train[:2000], mnist.y_train[:2000], glyphs.find_fonts(glyphs.TRAIN_FONTS[:3]))


def test_every_stroke_skeleton_draws_ink():
    rng = np.random.default_rng(0)
    for label, variants in strokes.SKELETONS.items():
        for v in range(len(variants)):
            alpha = strokes.draw(label, rng, v)
            assert alpha.dtype == np.float32 and alpha.max() > 0.9 and min(alpha.shape) >= 3
            assert alpha.shape[0] > 0.8 * strokes.CANVAS  # a digit's full height


def test_training_and_validation_fonts_are_disjoint():
    assert not set(glyphs.TRAIN_FONTS) & set(glyphs.VALIDATION_FONTS)
    assert not set(glyphs.LETTERS) & set("OolIiZzSsbGBgqTJ")


def test_pages_refuse_to_train_without_their_handwriting_fonts(monkeypatch):
    from edgedigits.errors import InputError
    from edgedigits.training import config, pagedata

    monkeypatch.setattr(glyphs, "FONT_DIRS", ())  # a machine without Debian's font packages
    with pytest.raises(InputError, match="none of the training handwriting fonts is installed"):
        pagedata.Sources.of(config.load("page-finder"), None)  # before the dataset is touched


@pytest.mark.parametrize("kind", pages.KINDS)
def test_pages_are_the_same_for_the_same_seed(source, kind):
    a = pages.make(kind, source, np.random.default_rng(5))
    b = pages.make(kind, source, np.random.default_rng(5))
    assert np.array_equal(a.image, b.image) and a.text == b.text
    assert a.image.dtype == np.uint8 and a.image.ndim == 3


def test_a_number_text_has_its_digits_and_only_separator_marks():
    rng = np.random.default_rng(1)
    for _ in range(200):
        text = write.number_text(rng, (1, 9), marks=1.0)
        assert set(text) <= set("0123456789" + glyphs.SEPARATORS)
        assert 1 <= sum(c.isdigit() for c in text) <= 9 + 2  # two decimals may follow thousands


def test_placed_digits_are_on_the_page_where_the_number_says(source):
    rng = np.random.default_rng(2)
    page = np.zeros((200, 600), np.float32)
    lay = write.layout("12.345", source, rng, 40.0)
    number = write.place(page, lay, (30, 120), angle=6.0)
    assert number.labels == [1, 2, 3, 4, 5] and number.text == "12345"
    assert abs(number.height - 40.0) < 1e-6
    for top, bottom in zip(number.tops, number.bottoms):  # ink between each digit's top and bottom
        x = int(round((top[0] + bottom[0]) / 2))
        column = page[int(top[1]) - 4 : int(bottom[1]) + 4, max(0, x - 12) : x + 12]
        assert column.max() > 0.5
    assert number.ends[1][1] < number.ends[0][1]  # rising to the right: y shrinks


def test_finder_targets_mark_the_band_of_each_number(source):
    rng = np.random.default_rng(3)
    page = pages.cheque(source, rng)
    work, geo = finder.working_image(vision.to_gray(page.image))
    band, height, weight = finderdata.targets(page, geo)
    assert band.shape == (work.shape[0] // finder.CELL, work.shape[1] // finder.CELL)
    assert band.sum() > 0 and set(np.unique(weight)) <= {0.0, 1.0}
    h = page.numbers[0].height * geo.scale
    assert abs(np.exp(np.median(height[band > 0])) * finder.HEIGHT_UNIT - h) < 0.15 * h


def test_training_strips_are_labelled_with_the_digits_they_show(source):
    rng = np.random.default_rng(4)
    page = pages.cheque(source, rng)
    line = stripdata.line_of(page.numbers[0])
    assert stripdata.labels_in(line, page.numbers) == page.numbers[0].labels
    image = strips.cut(vision.to_gray(page.image), line)
    assert image.shape[0] == strips.STRIP_ROWS and image.shape[1] % strips.STRIDE == 0
    away = finder.Line(line.start + [0, 3 * line.height], line.end + [0, 3 * line.height], line.height, 1.0)
    assert stripdata.labels_in(away, page.numbers) == []
    d = (line.end - line.start) / np.hypot(*(line.end - line.start))
    short = finder.Line(line.start + 0.1 * line.height * d, line.end - 0.1 * line.height * d, line.height, 1.0)
    assert stripdata.labels_in(short, page.numbers) == page.numbers[0].labels  # a thin end digit still shows
    mids = (page.numbers[0].tops + page.numbers[0].bottoms) / 2
    first = finder.Line(line.start, mids[0] + 0.05 * line.height * d, line.height, 1.0)
    assert stripdata.labels_in(first, page.numbers) == page.numbers[0].labels[:1]


def test_crops_are_mnist_normalized_digits_of_their_labels(source):
    from edgedigits.synth import crops

    x, y = crops.make(source, 40, seed=3)
    again, _ = crops.make(source, 40, seed=3)
    assert x.shape == (40, 28, 28) and x.dtype == np.uint8 and np.array_equal(x, again)
    assert set(y.tolist()) <= set(range(10)) and len(set(y.tolist())) >= 6
    for image in x:  # ink centred as MNIST centres it: centre of mass near the middle
        ys, xs = np.nonzero(image)
        assert len(ys) > 10
        assert abs(np.average(xs, weights=image[ys, xs]) - 14) < 2 and abs(np.average(ys, weights=image[ys, xs]) - 14) < 2


def test_the_crops_task_adds_crops_to_training_and_validation_only(tmp_path):
    from edgedigits.training import config
    from edgedigits.training.tasks import TASKS

    recipe = config.with_overrides(config.load("crop-digits"), {"train_limit": 2000, "crops.train": 30,
                                                                 "crops.val": 20, "crops.test": 10})
    ds, data = TASKS.get("crops").load(recipe, None, tmp_path)
    assert len(data.x_train) == 2000 + 30 and len(data.x_val) == recipe.validation + 20
    assert len(data.x_test) == 10_000 and len(data.crops_test) == 10  # the test set untouched
    assert data.x_train.dtype == np.float32 and data.x_train.shape[1:] == (28, 28, 1)
    assert len(list(tmp_path.glob("crops-*.npz"))) == 3  # made once, kept in the run directory
