"""Model registry: a decorator registers each builder (as in timm), so adding a model never touches a dispatcher.

Every model takes float32 [N, 28, 28, 1] in [0, 1] (white ink on black) and returns [N, classes] probabilities.
Layers carry stable names (conv1, dense1, ...) so pipelines can give per-layer pruning targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from edgedigits.errors import InputError


INPUT_SHAPE = (28, 28, 1)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str
    description: str
    builder: Callable


_REGISTRY: dict[str, ModelSpec] = {}


def register(source: str, description: str):
    """Register `builder(num_classes) -> list of layers` under the builder's name (underscores become dashes)."""

    def wrap(builder):
        name = builder.__name__.rstrip("_").replace("_", "-")
        _REGISTRY[name] = ModelSpec(name, source, description, builder)
        return builder

    return wrap


def list_models() -> list[ModelSpec]:
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def get_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown model '{name}' (known: {', '.join(sorted(_REGISTRY))})") from None


def create_model(name: str, num_classes: int = 10):
    """Build a fresh, uncompiled tf_keras model by registry name."""
    keras = _keras()
    spec = get_spec(name)
    layers = [keras.layers.InputLayer(input_shape=INPUT_SHAPE, name="input")]
    layers += spec.builder(keras.layers, num_classes)
    return keras.Sequential(layers, name=name)


def count_params(name: str, num_classes: int = 10) -> int:
    return int(create_model(name, num_classes).count_params())


def _keras():
    from edgedigits.training_stack import keras

    return keras


def _classifier(layers, num_classes):
    return layers.Dense(num_classes, activation="softmax", name="output")


@register("seed 000 (thesis): LeNet-5 with ReLU and max pooling", "conv6 5x5, pool, conv16 5x5, pool, dense 120-84")
def lenet(layers, num_classes):
    return [
        layers.Conv2D(6, 5, activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(16, 5, activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(120, activation="relu", name="dense1"),
        layers.Dense(84, activation="relu", name="dense2"),
        _classifier(layers, num_classes),
    ]


@register("seed 004: classic LeNet-5, tanh and average pooling", "conv6 5x5, avgpool, conv16 5x5, avgpool, dense 120-84")
def lenet5(layers, num_classes):
    return [
        layers.Conv2D(6, 5, activation="tanh", name="conv1"),
        layers.AveragePooling2D(2, name="pool1"),
        layers.Conv2D(16, 5, activation="tanh", name="conv2"),
        layers.AveragePooling2D(2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(120, activation="tanh", name="dense1"),
        layers.Dense(84, activation="tanh", name="dense2"),
        _classifier(layers, num_classes),
    ]


@register("seed 001: 'LeNet-5 v2' (99.50%), batch norm and dropout", "2x conv32 5x5, BN, 2x conv64 3x3, BN, dense 256-128-84")
def lenet5_v2(layers, num_classes):
    return [
        layers.Conv2D(32, 5, activation="relu", name="conv1"),
        layers.Conv2D(32, 5, activation="relu", name="conv2"),
        layers.BatchNormalization(name="bn1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(64, 3, activation="relu", name="conv3"),
        layers.Conv2D(64, 3, activation="relu", name="conv4"),
        layers.BatchNormalization(name="bn2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(256, activation="relu", name="dense1"),
        layers.BatchNormalization(name="bn3"),
        layers.Dropout(0.25, name="drop1"),
        layers.Dense(128, activation="relu", name="dense2"),
        layers.BatchNormalization(name="bn4"),
        layers.Dropout(0.25, name="drop2"),
        layers.Dense(84, activation="relu", kernel_regularizer=_keras().regularizers.L2(0.01), name="dense3"),
        layers.BatchNormalization(name="bn5"),
        layers.Dropout(0.25, name="drop3"),
        _classifier(layers, num_classes),
    ]


@register("seed 000 (thesis): 'model_2', 3 conv layers with dropout", "conv32, pool, conv64, pool, conv64 (3x3), dense 64")
def cnn(layers, num_classes):
    return [
        layers.Conv2D(32, 3, activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Dropout(0.25, name="drop1"),
        layers.Conv2D(64, 3, activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Dropout(0.25, name="drop2"),
        layers.Conv2D(64, 3, activation="relu", name="conv3"),
        layers.Flatten(name="flatten"),
        layers.Dropout(0.5, name="drop3"),
        layers.Dense(64, activation="relu", name="dense1"),
        _classifier(layers, num_classes),
    ]


@register("seed 004: ANN 300-100", "flatten, dense 300-100")
def mlp(layers, num_classes):
    return [
        layers.Flatten(name="flatten"),
        layers.Dense(300, activation="relu", name="dense1"),
        layers.Dense(100, activation="relu", name="dense2"),
        _classifier(layers, num_classes),
    ]
