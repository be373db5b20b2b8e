"""Knowledge distillation (Hinton et al. 2015): a student learns from the labels and from a teacher's softened
predictions, whose "dark knowledge" (which wrong classes look alike) a small network learns faster from than from
hard labels alone.

The teacher is a Keras model (structured pruning: the full-width model teaches the narrow one) or exported ONNX
classifiers run by onnxruntime inside the training step (the train stage: `train.teachers`), so a recipe can learn
from any shipped model without retraining it. A teacher must not have been trained on the student's validation
images, or model selection would flatter the student: the shipped recipes all hold out the same split (seed 42,
5,000 images).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from edgedigits.errors import InputError
from edgedigits.training.stack import keras, tf


class Distiller(keras.Model):
    """Trains `student` on (1 - weight) * cross-entropy(labels) + weight * T^2 * KL(teacher_T || student_T).

    The registry models end in softmax, so logits are recovered as log-probabilities (equal up to a constant,
    which softmax ignores). Evaluation and prediction are the student's own; only the student's variables are
    updated. `teacher(x, training=False)` returns probabilities.
    """

    def __init__(self, student, teacher, weight: float, temperature: float):
        super().__init__()
        self.student, self.teacher, self.weight, self.temperature = student, teacher, weight, temperature

    # Plain TensorFlow ops, no Python control flow: autograph has nothing to convert, and converting `call` failed
    # once on full MNIST inside the pipeline ("tf____init__() got an unexpected keyword argument 'training'").
    @tf.autograph.experimental.do_not_convert
    def call(self, x, training=False):
        return self.student(x, training=training)

    @tf.autograph.experimental.do_not_convert
    def train_step(self, data):
        x, y = data
        t = self.temperature
        soft_teacher = tf.nn.softmax(tf.math.log(self.teacher(x, training=False) + 1e-12) / t)
        with tf.GradientTape() as tape:
            p = self.student(x, training=True)
            hard = self.compiled_loss(y, p, regularization_losses=self.student.losses)
            soft_student = tf.nn.log_softmax(tf.math.log(p + 1e-12) / t)
            soft = tf.reduce_mean(tf.reduce_sum(soft_teacher * (tf.math.log(soft_teacher + 1e-12) - soft_student), -1))
            loss = (1 - self.weight) * hard + self.weight * t * t * soft
        self.optimizer.minimize(loss, self.student.trainable_variables, tape=tape)
        self.compiled_metrics.update_state(y, p)
        return {"loss": loss, **{m.name: m.result() for m in self.metrics if m.name != "loss"}}


def teacher_path(name: str, base=None) -> Path:
    """A teacher file as a recipe names it, relative to `base` (the recipe's folder; recipes in pipelines/ say
    ../exported/NAME.onnx); a missing one is an InputError."""
    path = Path(name).expanduser()
    path = path if path.is_absolute() or base is None else Path(base) / path
    if not path.is_file():
        raise InputError(f"train.teachers: teacher model not found: {name}")
    return path


def facts(names: list[str], base=None) -> list[dict]:
    """What the manifest records of each teacher: its name as the recipe gives it, and its sha256."""
    return [{"file": n, "sha256": hashlib.sha256(teacher_path(n, base).read_bytes()).hexdigest()} for n in names]


class OnnxTeachers:
    """The mean of the predictions of exported classifiers, run by onnxruntime in the training step
    (tf.numpy_function): a callable like a Keras teacher. Each must take the dataset's images and give one
    probability per class."""

    def __init__(self, names: list[str], ds, base=None):
        from edgedigits.runtime import Classifier

        self.classifiers = [Classifier(teacher_path(n, base)) for n in names]
        for name, c in zip(names, self.classifiers):
            if c.num_outputs != ds.num_classes or tuple(c.input_shape) != tuple(ds.input_shape):
                raise InputError(f"train.teachers: {name} takes {'x'.join(map(str, c.input_shape))} images to "
                                 f"{c.num_outputs} outputs, the dataset {ds.name} has "
                                 f"{'x'.join(map(str, ds.input_shape))} images of {ds.num_classes} classes")
        self.num_classes = ds.num_classes

    def _predict(self, x: np.ndarray) -> np.ndarray:
        probs = [c.probabilities(x, batch_size=len(x) or 1) for c in self.classifiers]
        return np.mean(probs, axis=0).astype(np.float32)

    def __call__(self, x, training=False):
        probs = tf.numpy_function(self._predict, [x], tf.float32, stateful=False)
        probs.set_shape([None, self.num_classes])
        return probs
