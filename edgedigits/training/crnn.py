"""The number reader's network and its training: a small fully convolutional CRNN with a CTC head that reads a
group of handwritten digits (touching, overlapping or apart) as one sequence, trained on lines rendered from MNIST
training digits. The pipeline's stages export, check, quantize and ship it (training/tasks/numbers.py).

Why CTC instead of cutting: a cut between two touching digits is a guess made before either digit is read; CTC
(Graves et al., "Connectionist Temporal Classification", ICML 2006) learns where digits are from the digit strings
alone, so no cut is ever chosen by hand. The network is convolutions only (no LSTM): any width runs, the graph stays
small for onnxruntime, and each output strip sees about two digits' width of context.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np

from edgedigits.runtime.reading import sequence
from edgedigits.synth import numbers, scenes
from edgedigits.training import ctc, linedata, pagedata
from edgedigits.training.stack import tf

keras = tf.keras
log = logging.getLogger(__name__)


def build(seed: int = 42) -> keras.Model:
    """[N, 32, W, 1] float ink in [0, 1] -> [N, W/4, 11] logits. Strides 2, 2 along the width give one strip per 4
    columns (a digit 26 rows tall is 10-20 columns wide: 3-5 strips, enough for CTC's blanks between repeats)."""
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((sequence.HEIGHT, None, 1), name="image")

    def conv(x, filters, kernel, strides=1, padding="same"):
        x = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False)(x)
        return keras.layers.ReLU()(keras.layers.BatchNormalization()(x))

    x = conv(x, 16, 5, strides=2)  # 16 x W/2
    x = conv(x, 32, 3, strides=2)  # 8 x W/4
    x = conv(x, 48, 3)
    x = conv(x, 48, 3, strides=(2, 1))  # 4 x W/4
    x = conv(x, 64, (4, 1), padding="valid")  # 1 x W/4: the column strip as one feature vector
    x = conv(x, 64, (1, 5))  # context along the line: neighbouring strips
    x = conv(x, 64, (1, 5))
    x = keras.layers.Conv2D(ctc.CLASSES, 1, name="strips")(x)
    outputs = keras.layers.Reshape((-1, ctc.CLASSES), name="logits")(x)
    return keras.Model(inputs, outputs, name="number-reader")


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One group image (uint8 [32, w]) as another writer might have made it: strokes thinner or thicker, the
    number a little narrower or wider, a pixel or two higher or lower."""
    if rng.random() < 0.4:
        kernel = np.ones((2, 2), np.uint8)
        image = cv2.dilate(image, kernel) if rng.random() < 0.5 else cv2.erode(image, kernel)
    width = max(sequence.STRIDE, int(round(image.shape[1] * rng.uniform(0.85, 1.15))))
    image = cv2.resize(image, (width, sequence.HEIGHT), interpolation=cv2.INTER_AREA)
    return np.roll(image, int(rng.integers(-2, 3)), axis=0)


def batches(images: np.ndarray, widths: np.ndarray, labels: np.ndarray, size: int, rng: np.random.Generator | None):
    """Batches of similar width (sorted by width, then shuffled batch order when rng is given), each as wide as its
    widest image; with rng, each image is augmented and shifted right by a random amount within that width."""
    for idx in ctc.width_chunks(widths, size, rng):
        crops = [images[i, :, : widths[i]] for i in idx]
        if rng is not None:
            crops = [augment(c, rng) for c in crops]
        width = -(-max(c.shape[1] for c in crops) // sequence.STRIDE) * sequence.STRIDE
        x = np.zeros((len(idx), sequence.HEIGHT, width), np.float32)
        for j, c in enumerate(crops):
            shift = int(rng.integers(0, width - c.shape[1] + 1)) if rng is not None else 0
            x[j, :, shift : shift + c.shape[1]] = c / np.float32(255.0)
        yield x[..., None], labels[idx], idx


def train(data: dict, epochs: int = 15, batch_size: int = 64, learning_rate: float = 2e-3, seed: int = 42,
          ) -> tuple[keras.Model, list[dict]]:
    """CTC training (training/ctc.py); keeps the weights of the epoch best on the validation lines."""
    val = (data["val_images"], data["val_widths"].astype(int), data["val_labels"])

    def evaluate(predict, loss):
        digits = linedata.accuracy(predict, *val)
        fields = {"loss": loss, "val_digit_accuracy": round(digits, 3)}
        return digits, fields, f"validation digits read right {digits:.2f}%"

    train = (data["train_images"], data["train_widths"].astype(int), data["train_labels"].astype(np.int32))
    return ctc.fit(build(seed), batches, train, epochs, batch_size, learning_rate, seed, evaluate)


def test_frames(x_test: np.ndarray, y_test: np.ndarray, seed: int = 0) -> dict[tuple, list[scenes.Scene]]:
    """Every test digit exactly once: shuffled, cut into numbers of 2-5 digits, the numbers dealt in turn to the
    advance ranges of `numbers.RANGES` (about 2,000 digits each)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x_test))
    frames: dict[tuple, list[scenes.Scene]] = {advance: [] for advance, _ in numbers.RANGES}
    start = k = 0
    while start < len(order):
        picks = order[start : start + int(rng.integers(2, 6))]
        advance = numbers.RANGES[k % len(numbers.RANGES)][0]
        frames[advance].append(numbers.render_number(x_test, y_test, rng, advance, picks=picks))
        start, k = start + len(picks), k + 1
    return frames


def score(reader, frames: dict[tuple, list[scenes.Scene]]) -> list[dict]:
    """Per advance range: digits, digits read right (%) and numbers read exactly right, by `reader` (a
    webcam.Reader) on the frames."""
    from edgedigits.runtime import webcam

    rows = []
    for (advance, looks) in numbers.RANGES:
        texts = [webcam.as_text(reader.read(s.frame), mark_uncertain=False).replace(" ", "") for s in frames[advance]]
        result = scenes.score(texts, frames[advance])
        rows.append({"advance": list(advance), "looks": looks, "numbers": result["frames"], "digits": result["digits"],
                     "digit_accuracy": round(result["digit_accuracy"], 2),
                     "exact": sum(t == s.text for t, s in zip(texts, frames[advance]))})
    return rows


def render(x_tr, y_tr, x_val, y_val, frames: int, val_frames: int, seed: int, workers: int, cache: Path) -> dict:
    """The training and validation lines, rendered once per (frames, val_frames, seed) and kept in `cache`."""

    def make() -> dict:
        began = time.time()
        log.info(f"rendering {frames:,} training frames from {len(x_tr):,} MNIST training digits and {val_frames:,} "
                 f"validation frames from the {len(x_val):,} held out")
        out, splits = {}, {"train": (x_tr, y_tr, frames), "val": (x_val, y_val, val_frames)}
        for split, (images, labels, count) in splits.items():
            group_images, group_labels = linedata.make(images, labels, count, seed + (split == "val"), workers)
            out.update({f"{split}_{k}": v for k, v in linedata.pack(group_images, group_labels).items()})
            log.info(f"{split}: {len(group_images):,} groups ({time.time() - began:.0f} s)")
        return out

    return pagedata.cached(cache, make, compressed=True)
