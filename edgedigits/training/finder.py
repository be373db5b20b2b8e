"""The number finder: a small fully convolutional network that marks, per 4x4 cell of a grey image, the centre band of
every handwritten number and its digit height (`edgedigits.runtime.reading.finder` reads its maps).

Shaped for one CPU core at video rate: a 4x4 stride-4 stem (strokes are a few pixels wide, so a 4x4 patch holds
them), depthwise-separable convolutions, and a small encoder-decoder (1/4 -> 1/16 -> 1/4) whose dilated 1/8 and 1/16
stages see across the gaps between a number's digits and tell a number from texture around it.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from edgedigits.training.stack import tf

keras = tf.keras
log = logging.getLogger(__name__)
POS_WEIGHT = 2.0  # band cells are few: each weighs this many background cells


def build(seed: int = 42, width: int = 16) -> keras.Model:
    """[N, H, W, 1] grey in [0, 1] (H, W multiples of 32) -> [N, H/4, W/4, 2]: band probability, log height.
    No dilated convolutions (TensorFlow runs them through SpaceToBatch, which exports as dozens of small ONNX ops):
    context comes from going down to 1/32 instead."""
    keras.utils.set_random_seed(seed)
    L = keras.layers
    inputs = keras.Input((None, None, 1), name="image")

    def bn_relu(x):
        return L.ReLU()(L.BatchNormalization()(x))

    def sep(x, filters, strides=1):
        x = bn_relu(L.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x))
        return bn_relu(L.Conv2D(filters, 1, use_bias=False)(x))

    def up(x, skip, filters):
        x = bn_relu(L.Conv2D(filters, 1, use_bias=False)(x))
        return L.Add()([L.UpSampling2D(2)(x), skip])

    quarter = sep(bn_relu(L.Conv2D(width, 4, strides=4, use_bias=False)(inputs)), width)  # 1/4
    eighth = sep(sep(quarter, 2 * width, strides=2), 2 * width)  # 1/8
    sixteenth = sep(sep(eighth, 3 * width, strides=2), 3 * width)  # 1/16
    x = sep(sep(sixteenth, 4 * width, strides=2), 4 * width)  # 1/32
    x = sep(up(x, sixteenth, 3 * width), 3 * width)
    x = sep(up(x, eighth, 2 * width), 2 * width)
    x = up(x, quarter, width)
    x = bn_relu(L.DepthwiseConv2D(3, padding="same", use_bias=False)(x))
    band = L.Conv2D(1, 1, activation="sigmoid", name="band")(x)
    height = L.Conv2D(1, 1, name="height")(x)
    outputs = L.Concatenate(name="maps")([band, height])
    return keras.Model(inputs, outputs, name="number-finder")


def losses(maps, target):
    """Weighted binary cross-entropy of the band (band cells weigh POS_WEIGHT, the ring around a band 0) and the
    mean absolute error of log height where a number is (over its band and ring)."""
    band, height = maps[..., 0], maps[..., 1]
    t_band, t_height, weight = target[..., 0], target[..., 1], target[..., 2]
    p = tf.clip_by_value(band, 1e-6, 1 - 1e-6)
    bce = -(POS_WEIGHT * t_band * tf.math.log(p) + (1 - t_band) * tf.math.log(1 - p))
    band_loss = tf.reduce_sum(weight * bce) / tf.maximum(tf.reduce_sum(weight), 1.0)
    where = tf.cast(tf.not_equal(t_height, 0.0), tf.float32)
    height_loss = tf.reduce_sum(where * tf.abs(height - t_height)) / tf.maximum(tf.reduce_sum(where), 1.0)
    return band_loss, height_loss


def flip_augment(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Brightness and contrast jitter per tile (the light, the camera's exposure)."""
    gain = rng.uniform(0.7, 1.2, (len(x), 1, 1, 1)).astype(np.float32)
    bias = rng.uniform(-0.15, 0.15, (len(x), 1, 1, 1)).astype(np.float32)
    return np.clip((x - 0.5) * gain + 0.5 + bias, 0, 1), y


def train(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, epochs: int = 10,
          batch_size: int = 16, learning_rate: float = 3e-3, seed: int = 42, width: int = 16):
    """Adam on a cosine schedule; keeps the weights of the epoch with the lowest validation band loss."""
    model = build(seed, width)
    steps = epochs * math.ceil(len(x) / batch_size)
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.02))

    @tf.function(reduce_retracing=True)
    def step(images, target):
        with tf.GradientTape() as tape:
            band_loss, height_loss = losses(model(images, training=True), target)
            loss = band_loss + 0.5 * height_loss
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return band_loss, height_loss

    @tf.function(reduce_retracing=True)
    def evaluate(images, target):
        return losses(model(images, training=False), target)

    rng = np.random.default_rng(seed)
    history, best, best_weights = [], np.inf, None
    for epoch in range(1, epochs + 1):
        start, totals = time.time(), []
        order = rng.permutation(len(x))
        for i in range(0, len(order), batch_size):
            idx = np.sort(order[i : i + batch_size])
            images = x[idx, ..., None].astype(np.float32) / 255.0
            images, target = flip_augment(images, y[idx].astype(np.float32), rng)
            totals.append([float(v) for v in step(tf.constant(images), tf.constant(target))])
        val = np.mean([[float(v) for v in evaluate(tf.constant(x_val[i : i + 64, ..., None].astype(np.float32) / 255),
                                                   tf.constant(y_val[i : i + 64].astype(np.float32)))]
                       for i in range(0, len(x_val), 64)], axis=0)
        train_loss = np.mean(totals, axis=0)
        history.append({"epoch": epoch, "band_loss": round(float(train_loss[0]), 4),
                        "height_loss": round(float(train_loss[1]), 4), "val_band_loss": round(float(val[0]), 4),
                        "val_height_loss": round(float(val[1]), 4), "seconds": round(time.time() - start, 1)})
        log.info(f"epoch {epoch}/{epochs}: band {train_loss[0]:.4f} height {train_loss[1]:.4f}; validation band "
                 f"{val[0]:.4f} height {val[1]:.4f} ({time.time() - start:.0f} s)")
        if val[0] < best:
            best, best_weights = val[0], model.get_weights()
    model.set_weights(best_weights)
    return model, history
