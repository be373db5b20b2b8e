"""Parameter counts of registry models without TensorFlow, so `edgedigits models` lists them in a blink.

A registry builder receives a `layers` namespace; here it gets a stand-in whose layers only propagate shapes and
add up weights with Keras' rules (count_params counts every weight, batch-norm statistics included). Keras is the
reference: a test builds every registered model with tf_keras and checks the counts agree.
"""

from __future__ import annotations

import math


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _spatial(size: int, kernel: int, stride: int, padding: str) -> int:
    return math.ceil(size / stride) if padding == "same" else (size - kernel) // stride + 1


class Tensor:
    """A symbolic tensor of the functional API: only its shape, as Keras reports it (batch first)."""

    def __init__(self, shape: tuple):
        self.shape = (None, *shape)


class _Layer:
    def __init__(self, counter: list, **config):
        self.counter, self.config = counter, config

    def __call__(self, x):
        shapes = [t.shape[1:] for t in x] if isinstance(x, (list, tuple)) else x.shape[1:]
        out, weights = self.build(shapes)
        self.counter[0] += weights
        return Tensor(out)

    def build(self, shape):  # -> (output shape without batch, weights)
        return shape, 0


class _Conv(_Layer):
    def build(self, shape):
        c = self.config
        (kh, kw), (sh, sw) = _pair(c["kernel_size"]), _pair(c.get("strides", 1))
        padding = c.get("padding", "valid")
        h, w, cin = shape
        out = (_spatial(h, kh, sh, padding), _spatial(w, kw, sw, padding))
        bias = c.get("use_bias", True)
        if c["kind"] == "depthwise":
            depth = cin * c.get("depth_multiplier", 1)
            return (*out, depth), kh * kw * depth + depth * bias
        if c["kind"] == "separable":
            depth = cin * c.get("depth_multiplier", 1)
            return (*out, c["filters"]), kh * kw * depth + depth * c["filters"] + c["filters"] * bias
        return (*out, c["filters"]), kh * kw * cin * c["filters"] + c["filters"] * bias


class _Dense(_Layer):
    def build(self, shape):
        units = self.config["units"]
        return (*shape[:-1], units), shape[-1] * units + units * self.config.get("use_bias", True)


class _BatchNorm(_Layer):
    def build(self, shape):
        per_channel = 2 + self.config.get("center", True) + self.config.get("scale", True)  # + moving mean, var
        return shape, per_channel * shape[-1]


class _Pool(_Layer):
    def build(self, shape):
        (ph, pw) = _pair(self.config.get("pool_size", 2))
        (sh, sw) = _pair(self.config.get("strides") or (ph, pw))
        padding = self.config.get("padding", "valid")
        return (_spatial(shape[0], ph, sh, padding), _spatial(shape[1], pw, sw, padding), shape[2]), 0


class Layers:
    """The subset of keras.layers the registry uses, as shape-only stand-ins (an unknown layer is an error)."""

    def __init__(self):
        self.counter = [0]
        self.made = []  # (Keras class name, layer name or None, filters/units or None) in the order they were made

    def _make(self, cls, **config):
        return cls(self.counter, **config)

    def __getattribute__(self, attr):
        value = object.__getattribute__(self, attr)
        if attr[:1].isupper() and callable(value):  # a layer constructor: remember what it makes and its name
            def made(*args, **kwargs):
                width = kwargs.get("filters", kwargs.get("units", args[0] if args else None))
                object.__getattribute__(self, "made").append((attr, kwargs.get("name"), width))
                return value(*args, **kwargs)
            return made
        return value

    def Conv2D(self, filters, kernel_size, strides=1, padding="valid", use_bias=True, **_):  # noqa: N802
        return self._make(_Conv, kind="conv", filters=filters, kernel_size=kernel_size, strides=strides,
                          padding=padding, use_bias=use_bias)

    def DepthwiseConv2D(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, use_bias=True, **_):  # noqa: N802
        return self._make(_Conv, kind="depthwise", kernel_size=kernel_size, strides=strides, padding=padding,
                          depth_multiplier=depth_multiplier, use_bias=use_bias)

    def SeparableConv2D(self, filters, kernel_size, strides=1, padding="valid", depth_multiplier=1, use_bias=True,  # noqa: N802
                        **_):
        return self._make(_Conv, kind="separable", filters=filters, kernel_size=kernel_size, strides=strides,
                          padding=padding, depth_multiplier=depth_multiplier, use_bias=use_bias)

    def Dense(self, units, use_bias=True, **_):  # noqa: N802
        return self._make(_Dense, units=units, use_bias=use_bias)

    def BatchNormalization(self, center=True, scale=True, **_):  # noqa: N802
        return self._make(_BatchNorm, center=center, scale=scale)

    def MaxPooling2D(self, pool_size=2, strides=None, padding="valid", **_):  # noqa: N802
        return self._make(_Pool, pool_size=pool_size, strides=strides, padding=padding)

    AveragePooling2D = MaxPooling2D

    def GlobalAveragePooling2D(self, **_):  # noqa: N802
        return _Shape(self.counter, fn=lambda s: (s[-1],))

    GlobalMaxPooling2D = GlobalAveragePooling2D

    def Flatten(self, **_):  # noqa: N802
        return _Shape(self.counter, fn=lambda s: (math.prod(s),))

    def Permute(self, dims, **_):  # noqa: N802
        return _Shape(self.counter, fn=lambda s: tuple(s[d - 1] for d in dims))

    def Add(self, **_):  # noqa: N802
        return _Shape(self.counter, fn=lambda shapes: shapes[0])

    def _same(self, *args, **_):
        return _Layer(self.counter)

    Dropout = ReLU = Activation = _same


class _Shape(_Layer):
    def build(self, shape):
        return self.config["fn"](shape), 0


def count(builder, input_shape: tuple, num_classes: int) -> int:
    """All weights of the model `builder(layers, num_classes)` builds on inputs of `input_shape` (no batch)."""
    return trace(builder, input_shape, num_classes).counter[0]


def trace(builder, input_shape: tuple, num_classes: int) -> Layers:
    """Run `builder` on the stand-in layers: their weight count (.counter) and what it made (.made)."""
    layers = Layers()
    built = builder(layers, num_classes)
    if callable(built) and not isinstance(built, list):
        built(Tensor(input_shape))
    else:
        x = Tensor(input_shape)
        for layer in built:
            x = layer(x)
    layers.sequential = isinstance(built, list)
    return layers
