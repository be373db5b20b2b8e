"""What the two CTC readers (the number reader, training/crnn.py; the strip reader, training/stripreader.py) train
and export alike: the softmax head of the exported file, and the training loop (CTC loss, Adam on a cosine schedule,
the weights of the epoch best on validation kept). Each reader brings its own network, batches and score."""

from __future__ import annotations

import logging
import math
import time
from typing import Callable

import numpy as np

from edgedigits.runtime.reading.sequence import BLANK
from edgedigits.training.stack import tf

keras = tf.keras
log = logging.getLogger(__name__)
CLASSES = BLANK + 1  # digits 0-9 and the CTC blank


def with_softmax(model: keras.Model) -> keras.Model:
    """The exported model: strip probabilities, so confidences come straight out of onnxruntime."""
    return keras.Model(model.input, keras.layers.Softmax(name="probabilities")(model.output), name=model.name)


def width_chunks(widths: np.ndarray, size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Indices in batches of `size` images of similar width (padding stays small); with rng, the batches shuffled."""
    order = np.argsort(widths, kind="stable")
    chunks = [order[i : i + size] for i in range(0, len(order), size)]
    if rng is not None:
        rng.shuffle(chunks)
    return chunks


def fit(model: keras.Model, batches: Callable, data: tuple, epochs: int, batch_size: int, learning_rate: float,
        seed: int, evaluate: Callable) -> tuple[keras.Model, list[dict]]:
    """Trains `model` on `data` (images, widths, labels) for `epochs`, batched by `batches(images, widths, labels,
    size, rng)`. After each epoch `evaluate(predict, loss)` gives (score, history fields, log text); the weights of
    the epoch with the highest score are kept (a score may be below zero or NaN: the first epoch always counts)."""
    x, w, y = data
    steps = epochs * math.ceil(len(x) / batch_size)
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.02))

    @tf.function(reduce_retracing=True)
    def step(images, labels):
        label_length = tf.reduce_sum(tf.cast(labels >= 0, tf.int32), axis=1)
        with tf.GradientTape() as tape:
            logits = model(images, training=True)
            logit_length = tf.fill([tf.shape(logits)[0]], tf.shape(logits)[1])
            loss = tf.reduce_mean(tf.nn.ctc_loss(tf.maximum(labels, 0), logits, label_length, logit_length,
                                                 logits_time_major=False, blank_index=BLANK))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    rng = np.random.default_rng(seed)
    history, best, best_weights = [], -math.inf, None
    for epoch in range(1, epochs + 1):
        start, losses = time.time(), []
        for images, labels, _ in batches(x, w, y, batch_size, rng):
            losses.append(float(step(tf.constant(images), tf.constant(labels))))
        score, fields, text = evaluate(lambda b: model(b, training=False).numpy(), float(np.mean(losses)))
        history.append({"epoch": epoch, **fields, "seconds": round(time.time() - start, 1)})
        log.info(f"epoch {epoch}/{epochs}: CTC loss {np.mean(losses):.4f}, {text} ({time.time() - start:.0f} s)")
        if best_weights is None or score > best:
            best, best_weights = score, model.get_weights()
    model.set_weights(best_weights)
    return model, history
