"""The number reader (edgedigits.runtime.reading.sequence): groups, the model's input image, CTC decoding, per-digit boxes, and
the shipped sequence model inside the webcam reader. Accuracy floors sit well below the figures benchmarks/touching.py
measures, so they hold on any CPU; nothing here is timed."""

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from edgedigits import runtime
from edgedigits.runtime import Classifier, webcam
from edgedigits.runtime.reading import find, sequence
from edgedigits.synth import numbers, scenes
from edgedigits.training import linedata  # numpy and OpenCV only: no TensorFlow

pytestmark = pytest.mark.runtime

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "exported/lenet.int8.onnx"
NUMBER_READER = ROOT / "exported/number-reader/number-reader.int8.onnx"  # the default, shipped in the package


@pytest.fixture(scope="module")
def reader():
    return webcam.Reader(Classifier(MODEL, threads=1), sequence=sequence.SequenceReader(NUMBER_READER))


def _text(reader, frame):
    return webcam.as_text(reader.read(frame), mark_uncertain=False).replace(" ", "")


def test_groups_cut_a_line_at_wide_gaps_only():
    boxes = np.array([[0, 0, 40, 100], [45, 0, 40, 100], [300, 0, 40, 100], [0, 300, 40, 50]])
    assert sequence.groups(boxes, np.array([0, 0, 0, 1])) == [[0, 1], [2], [3]]
    assert sequence.groups(np.zeros((0, 4), int), np.zeros(0, int)) == []


def test_group_image_scales_the_ink_to_the_models_rows():
    boxes = np.array([[10, 20, 30, 60], [45, 30, 20, 50]])
    inks = [np.full((60, 30), 255, np.uint8), np.full((50, 20), 255, np.uint8)]
    group = sequence.group_image(boxes, inks, [0, 1])
    assert group.image.shape[0] == sequence.HEIGHT and group.image.shape[1] % sequence.STRIDE == 0
    rows = np.flatnonzero(group.image.max(1))
    assert rows[0] == (sequence.HEIGHT - sequence.INK_ROWS) // 2 and len(rows) == sequence.INK_ROWS
    assert group.origin == (10, 20) and group.ink.shape == (60, 55)
    assert not group.image[:, : sequence.MARGIN].any() and not group.image[:, -sequence.MARGIN + 1 :].any()


def _strips(*classes):
    probs = np.full((len(classes), 11), 0.01, np.float32)
    probs[np.arange(len(classes)), classes] = 0.9
    return probs


def test_decode_collapses_runs_and_needs_a_blank_between_repeats():
    b = sequence.BLANK
    read = sequence.decode(_strips(b, 3, 3, b, 1, b, 1, 1, b))
    assert [d for d, _, _ in read] == [3, 1, 1]
    assert [c for _, _, c in read] == [sequence.STRIDE * 2.0, sequence.STRIDE * 4.5, sequence.STRIDE * 7.0]
    assert all(abs(conf - 0.9) < 1e-6 for _, conf, _ in read)
    assert sequence.decode(_strips(b, b)) == []


def test_digit_boxes_split_the_ink_between_digits():
    ink = np.zeros((40, 100), np.uint8)
    ink[5:35, 10:30] = 255
    ink[10:40, 60:90] = 255
    group = sequence.Group(np.zeros((32, 8), np.uint8), ink, (100, 200), 1.0)
    centres = [sequence.MARGIN + 20, sequence.MARGIN + 75]
    assert sequence.digit_boxes(group, centres) == [(110, 205, 20, 30), (160, 210, 30, 30)]


def test_the_shipped_number_reader_says_what_it_is():
    manifest = json.loads((NUMBER_READER.parent / "number-reader.json").read_text())
    assert manifest["files"][manifest["default"]] == NUMBER_READER.name
    for stage, file in manifest["files"].items():
        path = NUMBER_READER.parent / file
        assert manifest["stages"][stage]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert sum(r["digits"] for r in manifest["stages"][stage]["test"]) == 10_000  # every MNIST test digit, once
        proto = onnx.load(str(path))
        meta = {p.key: p.value for p in proto.metadata_props}
        assert json.loads(meta["labels"]) == [str(d) for d in range(10)] and json.loads(meta["blank"]) == sequence.BLANK
        assert json.loads(meta["stride"]) == sequence.STRIDE and meta["stage"] == stage
        dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
        assert dims == ["N", sequence.HEIGHT, "W", 1]
    assert runtime.default_number_reader().name == NUMBER_READER.name and runtime.default_number_reader().is_file()


def test_any_width_and_batch_run(reader):
    x = np.zeros((3, sequence.HEIGHT, 40, 1), np.float32)
    probs = reader.sequence.session.run(None, {reader.sequence.input: x})[0]
    assert probs.shape == (3, 40 // sequence.STRIDE, 11)
    # INT8 probabilities come in steps of 1/255 (the softmax output is quantized too); no ink reads as no digit
    assert np.allclose(probs.sum(-1), 1, atol=2 / 255) and (probs.argmax(-1) == sequence.BLANK).all()


@pytest.mark.parametrize("advance, floor", [(numbers.APART, 95.0), ((0.5, 0.75), 90.0), (numbers.CRAMPED, 80.0)])
def test_numbers_are_read_however_close_the_digits(mnist, reader, advance, floor):
    """30 numbers of MNIST test digits per range; measured with the shipped files: see the figures in the ids."""
    frames = numbers.numbers(mnist.x_test, mnist.y_test, 30, seed=31, advance=advance)
    assert scenes.score([_text(reader, s.frame) for s in frames], frames)["digit_accuracy"] >= floor


def test_each_digit_read_gets_its_own_box(mnist, reader):
    frames = numbers.numbers(mnist.x_test, mnist.y_test, 30, seed=32, advance=(0.5, 0.75))
    overlaps = []
    for scene in frames:
        digits = reader.read(scene.frame)
        if "".join(d.label for d in digits) == scene.text:
            overlaps += [_iou(d.box, t) for d, t in zip(digits, scene.boxes)]
    assert len(overlaps) >= 40
    assert np.mean(overlaps) > 0.5


def test_the_record_of_a_frame_keeps_its_fields(mnist, reader):
    scene = numbers.numbers(mnist.x_test, mnist.y_test, 1, seed=33, advance=(0.5, 0.75))[0]
    record = webcam.as_record(reader.read(scene.frame))
    assert set(record) == {"text", "digits", "confidences", "uncertain", "boxes", "lines"}
    assert len({len(v) for k, v in record.items() if k != "text"}) == 1
    h, w = scene.frame.shape[:2]
    assert all(0 <= x and 0 <= y and x + bw <= w and y + bh <= h for x, y, bw, bh in record["boxes"])
    assert all(0.0 <= c <= 1.0 for c in record["confidences"])


def test_digits_written_apart_stay_read(mnist, reader):
    rng = np.random.default_rng(34)
    frames = [scenes.render(mnist.x_test, mnist.y_test, rng) for _ in range(30)]
    assert scenes.score([_text(reader, s.frame) for s in frames], frames)["digit_accuracy"] >= 95.0
    assert find.find_digits(np.full((100, 100, 3), 255, np.uint8)).boxes.shape == (0, 4)
    assert reader.read(np.full((100, 100, 3), 255, np.uint8)) == []


def _iou(a, b):
    w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


def test_predict_reads_touching_digits_by_default_and_each_mode_on_request(run_cli, mnist, tmp_path):
    """The same frame through `predict` three ways: the default reads with the number reader; --touching off reads
    each blob as one digit (here one blob holds touching digits, so it reads fewer)."""
    rng = np.random.default_rng(35)
    reader = webcam.load_reader(MODEL, number_model=NUMBER_READER)
    for _ in range(200):  # a number the number reader reads right whose blobs are fewer than its digits
        scene = numbers.render_number(mnist.x_test, mnist.y_test, rng, (0.5, 0.65), 4)
        if len(find.find_digits(scene.frame)) < 4 and _text(reader, scene.frame) == scene.text:
            break
    path = tmp_path / "number.png"
    __import__("cv2").imwrite(str(path), scene.frame)
    texts = {}
    for mode in ("read", "cut", "off"):
        code, out, err = run_cli("predict", str(path), "--model", str(MODEL), "--threshold", "0",
                              "--touching", mode, "--number-model", str(NUMBER_READER))
        assert code == 0, err
        texts[mode] = out.strip().split(": ")[1].replace(" ", "")
    assert texts["read"] == scene.text
    assert len(texts["off"]) < len(scene.text)
    code, out, err = run_cli("predict", str(path), "--number-model", str(tmp_path / "missing.onnx"))
    assert code == 2 and out == "" and err == f"edgedigits: model not found: {tmp_path / 'missing.onnx'}\n"


def test_training_groups_carry_the_digits_drawn_in_them(mnist):
    """The labels of the training lines: on numbers written apart, the groups of a frame hold its digits in order."""
    rng = np.random.default_rng(36)
    agree = 0
    for _ in range(20):
        scene = numbers.render_number(mnist.x_train, mnist.y_train, rng, numbers.APART)
        groups = linedata.frame_groups(scene)
        assert all(image.shape[0] == sequence.HEIGHT and image.shape[1] % sequence.STRIDE == 0 for image, _ in groups)
        agree += [d for _, labels in groups for d in labels] == scene.labels
    assert agree >= 18
