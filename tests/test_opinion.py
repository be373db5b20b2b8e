"""The number reader's second opinion on the page reader's numbers (edgedigits.runtime.reading.opinion): when the
blob reader's digits are taken, and that the default reader (`--touching read`) reads composed numbers of touching
digits at least as well as the page reader alone (`--touching strips`). Nothing here is timed."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgedigits.errors import InputError
from edgedigits.runtime import webcam
from edgedigits.runtime.reading import opinion
from edgedigits.synth import numbers

pytestmark = pytest.mark.runtime


def test_subsequence_keeps_order():
    assert opinion.subsequence([7, 8], [7, 7, 8])
    assert not opinion.subsequence([8, 7], [7, 7, 8])
    assert opinion.subsequence([], [1])


def test_a_doubted_digit_is_replaced_only_by_a_sure_one():
    strip = [(4, 0.99), (1, 0.45), (3, 0.98)]
    assert opinion.choose(strip, [(4, 0.9), (7, 0.95), (3, 0.99)]) == [0, 1, 0]
    assert not any(opinion.choose(strip, [(4, 0.9), (7, 0.6), (3, 0.99)]))  # the blob reader is not sure either
    assert not any(opinion.choose([(4, 0.99), (1, 0.9)], [(4, 0.99), (7, 1.0)]))  # the strip reader is sure


def test_one_digit_added_or_dropped_within_the_same_digits():
    assert opinion.choose([(7, 0.99), (8, 0.97)], [(7, 0.9), (7, 0.85), (8, 0.99)]) == [1, 1, 1]
    assert opinion.choose([(7, 0.99), (8, 0.97)], [(7, 0.9), (7, 0.6), (8, 0.99)]) == []  # one digit in doubt
    assert opinion.choose([(7, 0.99), (8, 0.97)], [(1, 0.9), (7, 0.9), (7, 0.9), (8, 0.99)]) == []  # two added
    assert opinion.choose([(7, 0.99), (8, 0.97)], [(1, 0.9), (8, 0.99), (7, 0.9)]) == []  # other digits
    dropped = [(8, 0.99), (8, 0.5), (5, 0.98)]
    assert opinion.choose(dropped, [(8, 0.95), (5, 0.99)]) == [1, 1]
    assert opinion.choose([(8, 0.99), (8, 0.7), (5, 0.98)], [(8, 0.95), (5, 0.99)]) == []  # none in doubt
    assert opinion.choose([(2, 0.4), (2, 0.5), (6, 0.98)], [(6, 0.99)]) == []  # more than one dropped


def test_region_is_the_numbers_boxes_with_a_margin_inside_the_image():
    assert opinion.region([(10, 20, 10, 30), (25, 22, 10, 30)], (100, 200)) == (0, 9, 46, 63)
    assert opinion.region([(0, 0, 10, 30)], (20, 8)) == (0, 0, 8, 20)


@pytest.fixture(scope="module")
def readers():
    return webcam.load_reader(threads=1), webcam.load_reader(threads=1, touching="strips")


def test_the_default_reader_has_the_second_opinion_and_strips_has_not(readers):
    default, strips = readers
    assert default.pages is not None and default.sequence is not None
    assert strips.pages is not None and strips.sequence is None
    with pytest.raises(InputError, match="touching must be one of read, strips, cut, off"):
        webcam.load_reader(touching="second")


def test_a_number_finder_of_ones_own_is_the_one_read_and_anything_else_is_one_error(readers):
    from edgedigits.runtime.model import shipped

    own = webcam.load_reader(threads=1, finder=shipped.SHIPPED / "page-finder" / "page-finder.int8.onnx")
    gray = cv2.cvtColor(cv2.imread(str(Path(__file__).parents[1] / "examples" / "digits.jpg")), cv2.COLOR_BGR2GRAY)
    work = gray[: gray.shape[0] // 32 * 32, : gray.shape[1] // 32 * 32]
    assert not np.array_equal(own.pages.finder.maps(work), readers[0].pages.finder.maps(work))  # INT8, not fp32
    assert webcam.as_text(own.read(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))) == "156 288"
    with pytest.raises(InputError, match="not a number finder"):
        webcam.load_reader(threads=1, finder=shipped.SHIPPED / "page-strips" / "page-strips.onnx")


def test_touching_numbers_read_at_least_as_well_with_the_second_opinion(mnist, readers):
    default, strips = readers
    rng = np.random.default_rng(7)
    right = {"default": 0, "strips": 0}
    for _ in range(40):
        scene = numbers.render_number(mnist.x_test, mnist.y_test, rng, (0.5, 0.75), int(rng.integers(3, 6)))
        for name, reader in (("default", default), ("strips", strips)):
            right[name] += webcam.as_text(reader.read(scene.frame), mark_uncertain=False).replace(" ", "") == scene.text
    assert right["default"] >= right["strips"] and right["default"] >= 30, right


def test_a_doubted_lone_digit_beside_a_longer_or_a_sure_number_is_dropped():
    long, doubted, sure = [(4, 0.99), (1, 0.9)], [(1, 0.6)], [(7, 0.97)]
    assert opinion.drop_doubts([doubted, long, sure]) == [False, True, True]
    assert opinion.drop_doubts([doubted]) == [True]  # alone it is the number
    assert opinion.drop_doubts([doubted, [(3, 0.5)]]) == [True, True]  # no longer or sure number beside it
    assert opinion.drop_doubts([doubted, sure]) == [False, True]  # a letter read as a digit beside a sure one


def test_a_doubted_longer_number_is_dropped_only_beside_a_sure_one():
    letters, sure, fair = [(7, 0.5), (4, 0.88), (1, 0.6)], [(0, 0.99), (2, 0.97)], [(5, 0.95), (2, 0.85)]
    assert opinion.drop_doubts([letters, sure]) == [False, True]
    assert opinion.drop_doubts([letters]) == [True]  # alone it is the reading there is
    assert opinion.drop_doubts([letters, fair]) == [True, True]  # nothing beside it is read surely
    assert opinion.drop_doubts([fair, sure]) == [True, True]  # doubted in places, sure on average
