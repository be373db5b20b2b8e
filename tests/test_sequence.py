"""Training the number reader (edgedigits.training.crnn, task `numbers`): the CRNN, its export with any width, the
CTC training loop, and `train-number-reader` end to end through the pipeline's own stages."""

import json

import numpy as np
import onnxruntime as ort
import pytest

from edgedigits.runtime.reading import sequence as lines

crnn = pytest.importorskip("edgedigits.training.crnn")
ctc = pytest.importorskip("edgedigits.training.ctc")


def test_the_network_runs_any_width_in_keras_and_onnx(tmp_path):
    from edgedigits.training import config, export
    from edgedigits.training.tasks import TASKS

    model = crnn.build()
    task = TASKS.get("numbers")
    proto = export.to_onnx(task.exportable(model), task.signature(config.load("number-reader")))
    path = tmp_path / "m.onnx"
    path.write_bytes(proto.SerializeToString())
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for width in (16, 40, 200):
        x = np.random.default_rng(width).random((2, lines.HEIGHT, width, 1), np.float32)
        got = session.run(None, {"image": x})[0]
        assert got.shape == (2, width // lines.STRIDE, ctc.CLASSES)
        assert np.abs(got - ctc.with_softmax(model)(x).numpy()).max() < 1e-4


def test_batches_keep_images_whole_and_labels_with_them():
    rng = np.random.default_rng(0)
    widths = np.array([40, 100, 64, 20, 88])
    images = np.zeros((5, lines.HEIGHT, 256), np.uint8)
    for i, w in enumerate(widths):
        images[i, :, :w] = 255
    labels = np.arange(5)[:, None].repeat(3, 1)
    seen = []
    for x, y, idx in crnn.batches(images, widths, labels, 2, rng):
        assert x.shape[0] == len(idx) and x.shape[2] % lines.STRIDE == 0 and (y[:, 0] == idx).all()
        seen += idx.tolist()
    assert sorted(seen) == list(range(5))
    x, _, idx = next(crnn.batches(images, widths, labels, 5, None))  # no rng: no augmentation, no shift
    assert [int((x[j, 5, :, 0] > 0).sum()) for j in range(5)] == widths[idx].tolist()


def test_a_few_ctc_steps_learn_something():
    """Forty lines of one digit each: after a few epochs the loss falls (nothing here depends on the CPU)."""
    images = np.zeros((40, lines.HEIGHT, 256), np.uint8)
    for i in range(40):
        images[i, 6:26, 10 + (i % 3) : 14 + (i % 3)] = 255  # a bar: "1"
    data = {"train_images": images, "train_widths": np.full(40, 32), "train_labels": np.ones((40, 1), np.int16),
            "val_images": images[:8], "val_widths": np.full(8, 32), "val_labels": np.ones((8, 1), np.int16)}
    _, history = crnn.train(data, epochs=4, batch_size=8, learning_rate=1e-2)
    assert history[-1]["loss"] < history[0]["loss"]


def test_a_model_that_reads_worse_than_nothing_still_keeps_an_epochs_weights(monkeypatch):
    """A tiny budget can score below zero on validation (more digits read than written): the weights of its best
    epoch are kept all the same, never none."""
    images = np.zeros((8, lines.HEIGHT, 64), np.uint8)
    data = {"train_images": images, "train_widths": np.full(8, 32), "train_labels": np.ones((8, 1), np.int16),
            "val_images": images, "val_widths": np.full(8, 32), "val_labels": np.ones((8, 1), np.int16)}
    scores = iter([-250.0, -400.0])
    monkeypatch.setattr(crnn.linedata, "accuracy", lambda *args: next(scores))
    model, history = crnn.train(data, epochs=2, batch_size=8)
    assert [h["val_digit_accuracy"] for h in history] == [-250.0, -400.0] and model.get_weights()


@pytest.mark.slow
def test_train_number_reader_end_to_end(tmp_path):
    """The number-reader recipe on a few thousand frames (two epochs): a model too small to read much (so the gate is
    off: measured, not refused), but the whole path runs through the same stages as every recipe (train, export with
    parity, INT8, the runtime reader scored on every MNIST test digit once, ship) and ships one checked set."""
    from edgedigits.training import config, pipeline

    out = tmp_path / "out"
    recipe = config.with_overrides(config.load("number-reader"), {"numbers.frames": 3000, "train.epochs": 2})
    pipeline.run(recipe, out, tmp_path / "runs", gate=False)
    files = sorted(p.name for p in out.iterdir())
    assert files == ["number-reader.int8.onnx", "number-reader.json", "number-reader.onnx"]
    manifest = json.loads((out / "number-reader.json").read_text())
    assert manifest["task"] == "numbers" and manifest["files"] == {"fp32": "number-reader.onnx",
                                                                    "int8": "number-reader.int8.onnx"}
    for stage in ("fp32", "int8"):
        assert sum(r["digits"] for r in manifest["stages"][stage]["test"]) == 10_000
        assert manifest["stages"][stage]["parity" if stage == "fp32" else "quantization"]
    assert manifest["stages"]["int8"]["gzip_bytes"] < manifest["stages"]["fp32"]["gzip_bytes"] / 2
    assert manifest["stages"]["fp32"]["parameters"] > 10_000 and manifest["training"]["frames"] == 3000
