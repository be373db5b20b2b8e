"""Digit finding and MNIST-style normalization (edgedigits.runtime.reading.find) and the synthetic scenes (edgedigits.synth.scenes)."""

import subprocess
import sys

import cv2
import numpy as np
import pytest

from edgedigits.errors import InputError
from edgedigits.runtime.reading import find
from edgedigits.synth import scenes

pytestmark = pytest.mark.runtime  # runs on the core install too (no training extra)


def test_runtime_half_modules_never_import_tensorflow():
    code = ("import sys, edgedigits.runtime.reading.find, edgedigits.runtime.webcam, edgedigits.synth.scenes, edgedigits.cli; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def _paper(height=480, width=640, level=215):
    return np.full((height, width, 3), level, np.uint8)


def _put(frame, digit, x, y, height):
    """Draw an MNIST digit (white on black) as dark ink, `height` px tall, top-left at x, y."""
    side = int(28 * height / 20)
    alpha = cv2.resize(digit, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    region = frame[y : y + side, x : x + side].astype(np.float32)
    frame[y : y + side, x : x + side] = (region * (1 - np.clip(alpha, 0, 1)[..., None]) + 30 * alpha[..., None]).astype(np.uint8)


def _iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


def test_mnist_normalize_rebuilds_mnist_digits(mnist):
    """A digit scaled up and thresholded comes back as MNIST had it: 20 px box, centre of mass at 14, same shape."""
    correlations = []
    for digit in mnist.x_test[:200]:
        big = cv2.resize(digit, (112, 112), interpolation=cv2.INTER_CUBIC)
        out = find.mnist_normalize(np.where(big > 100, 255, 0).astype(np.uint8))
        m = cv2.moments(out)
        assert m["m10"] / m["m00"] == pytest.approx(14.0, abs=0.3) and m["m01"] / m["m00"] == pytest.approx(14.0, abs=0.3)
        _, _, w, h = cv2.boundingRect(out)
        assert max(w, h) in (20, 21, 22)  # 20 px plus at most the anti-aliased edge pixels
        correlations.append(np.corrcoef(out.ravel().astype(float), digit.ravel().astype(float))[0, 1])
    assert np.mean(correlations) > 0.85


def test_mnist_normalize_of_nothing_is_black():
    assert not find.mnist_normalize(np.zeros((30, 20), np.uint8)).any()


def test_finds_digits_left_to_right_in_lines(mnist):
    frame = _paper()
    placed = [(0, 60, 60), (1, 200, 80), (2, 330, 50), (3, 80, 300), (4, 260, 280)]  # 3 on the top line, 2 below
    for index, x, y in placed:
        _put(frame, mnist.x_test[index], x, y, 80)
    found = find.find_digits(frame)
    assert len(found) == 5 and found.images.shape == (5, 28, 28) and found.images.dtype == np.uint8
    assert list(found.lines) == [0, 0, 0, 1, 1]
    assert list(found.boxes[:, 0]) == sorted(found.boxes[:3, 0]) + sorted(found.boxes[3:, 0])
    assert found.boxes[0, 0] < 60 + 112 and found.boxes[3, 1] > 250


def test_found_boxes_match_scene_truth(mnist):
    rng = np.random.default_rng(3)
    for _ in range(5):
        scene = scenes.render(mnist.x_test, mnist.y_test, rng, digits=4)
        found = find.find_digits(scene.frame)
        assert len(found) == 4
        assert all(_iou(tuple(b), t) > 0.6 for b, t in zip(found.boxes, scene.boxes))


def test_broken_strokes_are_one_digit_and_neighbours_stay_apart():
    frame = _paper()
    # A "7" whose bar is detached from its stem by a small gap.
    cv2.line(frame, (100, 100), (160, 100), (20, 20, 20), 8)
    cv2.line(frame, (150, 112), (120, 190), (20, 20, 20), 8)
    # A "1" well to the right: its own digit.
    cv2.line(frame, (230, 100), (230, 190), (20, 20, 20), 8)
    # Two "1"s stacked in two lines: not merged into one tall digit.
    cv2.line(frame, (400, 60), (400, 150), (20, 20, 20), 8)
    cv2.line(frame, (400, 200), (400, 290), (20, 20, 20), 8)
    found = find.find_digits(frame)
    assert len(found) == 4
    x, y, w, h = found.boxes[0]
    assert x < 100 and x + w > 155 and y < 100 and y + h > 185  # bar and stem in one box


def test_dust_lines_and_blobs_are_not_digits():
    frame = _paper()
    for x, y in [(50, 50), (300, 400), (600, 30)]:
        cv2.circle(frame, (x, y), 2, (40, 40, 40), -1)  # dust
    cv2.line(frame, (20, 300), (620, 310), (30, 30, 30), 4)  # a long edge
    cv2.rectangle(frame, (400, 100), (480, 180), (20, 20, 20), -1)  # a solid blob
    assert len(find.find_digits(frame)) == 0
    empty = find.find_digits(_paper())
    assert len(empty) == 0 and empty.images.shape == (0, 28, 28)


def test_uneven_light_does_not_hide_digits(mnist):
    frame = _paper()
    _put(frame, mnist.x_test[0], 80, 150, 90)
    _put(frame, mnist.x_test[1], 480, 150, 90)
    ramp = np.linspace(0.45, 1.0, 640, dtype=np.float32)[None, :, None]  # left side at 45% light
    found = find.find_digits((frame * ramp).astype(np.uint8))
    assert len(found) == 2


def test_light_ink_on_dark_reads_the_same(mnist):
    rng = np.random.default_rng(5)
    scene = scenes.render(mnist.x_test, mnist.y_test, rng, digits=5)
    normal = find.find_digits(scene.frame)
    inverted = find.find_digits(255 - scene.frame)  # auto: dark background means light ink
    assert len(normal) == len(inverted) == 5
    assert np.abs(normal.boxes - inverted.boxes).max() <= 2
    assert len(find.find_digits(255 - scene.frame, find.Settings(ink="dark"))) != 5


def test_accepts_grey_and_bgra_frames(mnist):
    frame = _paper()
    _put(frame, mnist.x_test[0], 200, 150, 90)
    assert len(find.find_digits(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))) == 1
    assert len(find.find_digits(cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA))) == 1


@pytest.mark.parametrize("bad, message", [
    (np.zeros((480, 640, 3), np.float32), "uint8"),
    (np.zeros((480, 640, 2), np.uint8), "shape"),
    (np.zeros((4, 4), np.uint8), "too small"),
    (np.zeros((2, 480, 640, 3), np.uint8), "shape"),
])
def test_bad_frames_are_refused(bad, message):
    with pytest.raises(InputError, match=message):
        find.find_digits(bad)


def test_bad_ink_setting_is_refused():
    with pytest.raises(InputError, match="ink"):
        find.Settings(ink="blue")


# --- scenes ------------------------------------------------------------------------------------------------------------


def test_scenes_are_reproducible_and_inside_the_frame(mnist):
    a = scenes.render(mnist.x_test, mnist.y_test, np.random.default_rng(9))
    b = scenes.render(mnist.x_test, mnist.y_test, np.random.default_rng(9))
    assert np.array_equal(a.frame, b.frame) and a.labels == b.labels
    assert a.frame.shape == (480, 640, 3) and 1 <= len(a.labels) <= 6
    assert [int(mnist.y_test[i]) for i in a.sources] == a.labels
    for x, y, w, h in a.boxes:
        assert 0 <= x and x + w <= 640 and 0 <= y and y + h <= 480


def test_scene_video_opens_like_a_stream(mnist, tmp_path):
    truth = scenes.write_video(tmp_path / "v.avi", mnist.x_test, mnist.y_test, 12, seed=1)
    capture = cv2.VideoCapture(str(tmp_path / "v.avi"))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == len(truth) == 12 and all(1 <= len(s.labels) <= 6 for s in truth)


def test_score_counts_wrong_missed_and_extra_digits():
    truth = [scenes.Scene(np.empty(0), [1, 2, 3]), scenes.Scene(np.empty(0), [4, 5])]
    assert scenes.score(["123", "45"], truth) == {"frames": 2, "digits": 5, "errors": 0, "digit_accuracy": 100.0,
                                                   "frame_exact": 100.0}
    result = scenes.score(["13", "455"], truth)  # one missed, one extra
    assert result["errors"] == 2 and result["digit_accuracy"] == 60.0 and result["frame_exact"] == 0.0
    assert scenes.edit_distance("9112", "4") == 4
    with pytest.raises(ValueError):
        scenes.score(["1"], truth)
