"""The model registry itself: a decorator registers each builder (as in timm), so adding a model never touches a
dispatcher. Builder modules (models.py, tinynets.py) import only this, so they never import each other."""

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
    """Register `builder(layers, num_classes)` under the builder's name (underscores become dashes).

    A builder returns a list of layers (a Sequential model) or, for graphs with skip connections, a function
    from the input tensor to the output tensor (a functional model).
    """

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


def classifier(layers, num_classes):
    """The last layer of every registry model: dense softmax over the classes."""
    return layers.Dense(num_classes, activation="softmax", name="output")
