"""The strip reader: a fully convolutional CRNN with a CTC head (Shi, Bai & Yao 2015; Graves et al. 2006) that
reads the digits of a grey strip cut along a number's centre line (`edgedigits.runtime.reading.strips`), and reads
separators, ruled lines, printed text, guilloche and specks as the CTC blank: nothing.

Wider than the binary-ink number reader: it sees grey levels, so it has to learn what ink is as well as which digit.
"""

from __future__ import annotations

import cv2
import numpy as np

from edgedigits.runtime.reading import strips
from edgedigits.synth import scenes
from edgedigits.training import ctc
from edgedigits.training.stack import tf

keras = tf.keras


def build(seed: int = 42, width: int = 24) -> keras.Model:
    """[N, 32, W, 1] normalized strip (paper 0, ink 1) -> [N, W/4, 11] logits."""
    keras.utils.set_random_seed(seed)
    L = keras.layers
    x = inputs = keras.Input((strips.STRIP_ROWS, None, 1), name="image")

    def conv(x, filters, kernel, strides=1, padding="same"):
        x = L.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False)(x)
        return L.ReLU()(L.BatchNormalization()(x))

    x = conv(x, width, 3)  # 32 x W
    x = conv(x, width, 3, strides=2)  # 16 x W/2
    x = conv(x, 2 * width, 3)
    x = conv(x, 2 * width, 3, strides=2)  # 8 x W/4
    x = conv(x, 3 * width, 3)
    x = conv(x, 3 * width, 3, strides=(2, 1))  # 4 x W/4
    x = conv(x, 4 * width, (4, 1), padding="valid")  # 1 x W/4
    x = conv(x, 4 * width, (1, 5))  # context along the line
    x = conv(x, 4 * width, (1, 5))
    x = L.Conv2D(ctc.CLASSES, 1, name="strips")(x)
    return keras.Model(inputs, L.Reshape((-1, ctc.CLASSES), name="logits")(x), name="strip-reader")


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A raw uint8 strip as another camera or pen might give it: contrast and gamma, blur, strokes thinner or
    thicker, a little narrower or wider, a pixel or two up or down."""
    s = image.astype(np.float32)
    if rng.random() < 0.5:
        s = 255.0 * (s / 255.0) ** rng.uniform(0.6, 1.6)
    if rng.random() < 0.3:
        s = cv2.GaussianBlur(s, (0, 0), rng.uniform(0.4, 1.0))
    if rng.random() < 0.3:
        k = np.ones((2, 2), np.uint8)
        s = cv2.erode(s, k) if rng.random() < 0.5 else cv2.dilate(s, k)  # dark ink: erode thickens it
    width = max(4 * strips.STRIDE, int(round(s.shape[1] * rng.uniform(0.85, 1.15) / strips.STRIDE)) * strips.STRIDE)
    s = cv2.resize(s, (width, strips.STRIP_ROWS), interpolation=cv2.INTER_AREA)
    s = np.roll(s, int(rng.integers(-2, 3)), axis=0)
    if rng.random() < 0.5:
        s = s + rng.normal(0, rng.uniform(1, 8), s.shape).astype(np.float32)
    return np.clip(s, 0, 255).astype(np.uint8)


def batches(images, widths, labels, size: int, rng: np.random.Generator | None):
    """Batches of similar width, normalized (`strips.normalize`) and padded with paper; with rng, augmented and
    shuffled."""
    for idx in ctc.width_chunks(widths, size, rng):
        crops = [images[i, :, : widths[i]] for i in idx]
        if rng is not None:
            crops = [augment(c, rng) for c in crops]
        x, _ = strips.batch([strips.normalize(c) for c in crops])
        yield x, labels[idx], idx


def accuracy(predict, images, widths, labels, batch_size: int = 256) -> tuple[float, float]:
    """Digits read right (%, 1 - edit distance / digits) and strips read exactly right (%), by best-path decoding;
    `predict` maps a float32 batch to its [N, W/4, 11] scores."""
    errors = digits = exact = 0
    for x, y, idx in batches(images, widths, labels, batch_size, None):
        scores = predict(x)
        for j, i in enumerate(idx):
            read = "".join(str(d) for d, _, _ in strips.decode(scores[j, : widths[i] // strips.STRIDE]))
            truth = "".join(str(int(v)) for v in labels[i] if v >= 0)
            e = scenes.edit_distance(read, truth)
            errors, digits, exact = errors + e, digits + len(truth), exact + (e == 0)
    return 100.0 * (1 - errors / max(1, digits)), 100.0 * exact / max(1, len(widths))


def train(d: dict, epochs: int = 12, batch_size: int = 64, learning_rate: float = 2e-3, seed: int = 42,
          width: int = 24, model: keras.Model | None = None):
    """CTC training (training/ctc.py), from `model`'s weights when given, else from scratch; keeps the weights of the
    epoch with the most validation strips read exactly right."""
    model = model or build(seed, width)
    val = (d["val_images"], d["val_widths"].astype(int), d["val_labels"])

    def evaluate(predict, loss):
        digits, exact = accuracy(predict, *val)
        fields = {"loss": round(loss, 4), "val_digits": round(digits, 3), "val_exact": round(exact, 3)}
        return exact, fields, f"validation digits read right {digits:.2f}%, strips exactly right {exact:.2f}%"

    data = (d["images"], d["widths"].astype(int), d["labels"].astype(np.int32))
    return ctc.fit(model, batches, data, epochs, batch_size, learning_rate, seed, evaluate)
