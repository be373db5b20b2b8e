"""Model registry: a decorator registers each builder (as in timm) in MODELS, so adding a model never touches a
dispatcher.

Every model takes float32 [N, 28, 28, 1] in [0, 1] (white ink on black; or the images of a dataset in files,
[N, H, W, C]) and returns [N, classes] probabilities.
Layers carry stable names (conv1, dense1, ...) so pipelines can give per-layer pruning targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from edgedigits.registry import Registry
from edgedigits.training import paramcount

INPUT_SHAPE = (28, 28, 1)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str
    description: str
    builder: Callable


MODELS = Registry("model", (__name__, "edgedigits.training.tinynets"))  # tinynets.py: the records' nets


def register(source: str, description: str):
    """Register `builder(layers, num_classes)` under the builder's name (underscores become dashes).

    A builder returns a list of layers (a Sequential model) or, for graphs with skip connections, a function
    from the input tensor to the output tensor (a functional model).
    """

    def wrap(builder):
        name = builder.__name__.rstrip("_").replace("_", "-")
        MODELS.register(name)(ModelSpec(name, source, description, builder))
        return builder

    return wrap


def list_models() -> list[ModelSpec]:
    return [MODELS.get(name) for name in sorted(MODELS.names())]


def get_spec(name: str) -> ModelSpec:
    return MODELS.get(name)


def create_model(name: str, num_classes: int = 10, input_shape: tuple = INPUT_SHAPE):
    """Build a fresh, uncompiled tf_keras model by registry name, for images of `input_shape` (height, width,
    channels)."""
    keras = _keras()
    spec = get_spec(name)
    built = spec.builder(keras.layers, num_classes)
    if callable(built):
        inputs = keras.Input(tuple(input_shape), name="input")
        return keras.Model(inputs, built(inputs), name=name)
    return keras.Sequential([keras.layers.InputLayer(input_shape=tuple(input_shape), name="input"), *built],
                            name=name)


def count_params(name: str, num_classes: int = 10, input_shape: tuple = INPUT_SHAPE) -> int:
    """All weights of the model, as Keras' count_params, computed without TensorFlow (paramcount)."""
    return paramcount.count(get_spec(name).builder, tuple(input_shape), num_classes)


def layer_names(name: str, num_classes: int = 10) -> dict:
    """Names of the layers magnitude pruning can target (Conv2D, Dense, SeparableConv2D's pointwise kernel) and of
    those structured pruning can shrink (Conv2D and Dense but the classifier, Sequential models of those only), read
    from the builder without TensorFlow; a test checks them against the built Keras model. Unnamed layers get Keras'
    automatic names, which only a build knows: they are left out, and the stage that builds the model checks those.
    "widths": filters or units per layer."""
    traced = paramcount.trace(get_spec(name).builder, INPUT_SHAPE, num_classes)
    made = [(layer, width) for kind, layer, width in traced.made if kind in ("Conv2D", "Dense", "SeparableConv2D")]
    wide = [layer for layer, _ in made]
    plain = traced.sequential and not any(kind in ("SeparableConv2D", "DepthwiseConv2D") for kind, _, _ in traced.made)
    return {"prunable": [n for n in wide if n], "shrinkable": [n for n in wide[:-1] if n] if plain else [],
            "widths": {layer: width for layer, width in made if layer}, "complete": all(wide)}


def _keras():
    from edgedigits.training.stack import keras

    return keras


def classifier(layers, num_classes):
    """The last layer of every registry model: dense softmax over the classes."""
    return layers.Dense(num_classes, activation="softmax", name="output")


@register("LeNet-5 (LeCun et al. 1998) with ReLU and max pooling, as in parameter-efficiency studies", "conv6 5x5, pool, conv16 5x5, pool, dense 120-84")
def lenet(layers, num_classes):
    return _lenet_layers(layers, num_classes, "relu", layers.MaxPooling2D)


@register("classic LeNet-5 (LeCun et al. 1998): tanh and average pooling", "conv6 5x5, avgpool, conv16 5x5, avgpool, dense 120-84")
def lenet5(layers, num_classes):
    return _lenet_layers(layers, num_classes, "tanh", layers.AveragePooling2D)


def _lenet_layers(layers, num_classes, activation: str, pool):
    """LeNet-5's shape: conv6 5x5, pool, conv16 5x5, pool, dense 120-84, with the given activation and pooling."""
    return [
        layers.Conv2D(6, 5, activation=activation, name="conv1"),
        pool(2, name="pool1"),
        layers.Conv2D(16, 5, activation=activation, name="conv2"),
        pool(2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(120, activation=activation, name="dense1"),
        layers.Dense(84, activation=activation, name="dense2"),
        classifier(layers, num_classes),
    ]


@register("'LeNet-5 v2' of a Keras MNIST course (99.50%): batch norm, dropout, augmentation", "2x conv32 5x5, BN, 2x conv64 3x3, BN, dense 256-128-84")
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
        layers.Dense(84, activation="relu", kernel_regularizer="l2", name="dense3"),  # "l2" is L2(0.01)
        layers.BatchNormalization(name="bn5"),
        layers.Dropout(0.25, name="drop3"),
        classifier(layers, num_classes),
    ]


@register("the Keras MNIST CNN notebook's 'model_2' (99.29%): 3 conv layers with dropout", "conv32, pool, conv64, pool, conv64 (3x3), dense 64")
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
        classifier(layers, num_classes),
    ]


@register("the Keras MNIST ANN notebook's 300-100 network", "flatten, dense 300-100")
def mlp(layers, num_classes):
    return [
        layers.Flatten(name="flatten"),
        layers.Dense(300, activation="relu", name="dense1"),
        layers.Dense(100, activation="relu", name="dense2"),
        classifier(layers, num_classes),
    ]


# Over-parameterized references for `edgedigits compare` (a 5-class 48x48 comparison of them found "bigger was not
# better"). All are sized for the native 28x28 input: no resize, so every model sees the same pixels
# and a 2-core machine can train them. Layouts follow the published designs; widths are scaled down and say so.


def _dropout_head(layers, widths, num_classes):
    """AlexNet's and VGG's classifier: flatten, then dense ReLU layers each followed by dropout 0.5."""
    head = [layers.Flatten(name="flatten")]
    for i, width in enumerate(widths, 1):
        head += [layers.Dense(width, activation="relu", name=f"dense{i}"), layers.Dropout(0.5, name=f"drop{i}")]
    return head + [classifier(layers, num_classes)]


@register("'Model 7' of a 5-class Fashion-like CNN comparison (91.12%): 4 conv with batch norm",
          "2x conv32 5x5 same + BN, pool, 2x conv64 3x3 same + BN, pool, dense 256, dropout")
def cnn7(layers, num_classes):
    return [
        layers.Conv2D(32, 5, padding="same", activation="relu", name="conv1"),
        layers.BatchNormalization(name="bn1"),
        layers.Conv2D(32, 5, padding="same", activation="relu", name="conv2"),
        layers.BatchNormalization(name="bn2"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Dropout(0.25, name="drop1"),
        layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3"),
        layers.BatchNormalization(name="bn3"),
        layers.Conv2D(64, 3, padding="same", activation="relu", name="conv4"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Dropout(0.25, name="drop2"),
        layers.BatchNormalization(name="bn4"),
        layers.Flatten(name="flatten"),
        layers.Dense(256, activation="relu", name="dense1"),
        layers.Dropout(0.25, name="drop3"),
        classifier(layers, num_classes),
    ]


@register("AlexNet (Krizhevsky et al. 2012; 30M params at 48x48); here 28x28, conv widths /4, dense 4096 -> 1024",
          "conv32 5x5, pool3/2, conv64, pool3/2, conv96, conv96, conv64 (3x3), pool3/2, dense 1024-1024, dropout 0.5")
def alexnet(layers, num_classes):
    return [
        layers.Conv2D(32, 5, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(3, strides=2, name="pool1"),
        layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2"),
        layers.MaxPooling2D(3, strides=2, name="pool2"),
        layers.Conv2D(96, 3, padding="same", activation="relu", name="conv3"),
        layers.Conv2D(96, 3, padding="same", activation="relu", name="conv4"),
        layers.Conv2D(64, 3, padding="same", activation="relu", name="conv5"),
        layers.MaxPooling2D(3, strides=2, name="pool3"),
        *_dropout_head(layers, (1024, 1024), num_classes),
    ]


@register("VGG-16 (Simonyan and Zisserman 2014; 33.6M params at 48x48); here 28x28, widths /4, dense 4096 -> 512",
          "13 conv 3x3 same in 5 blocks 16-32-64-128-128, 4 pools, dense 512-512, dropout 0.5")
def vgg16(layers, num_classes):
    stack = []
    blocks = ((16, 2), (32, 2), (64, 3), (128, 3), (128, 3))
    n = 0
    for b, (width, convs) in enumerate(blocks, 1):
        for _ in range(convs):
            n += 1
            stack.append(layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv{n}"))
        if b < len(blocks):  # 28 -> 14 -> 7 -> 3 -> 1: a fifth pool would leave nothing
            stack.append(layers.MaxPooling2D(2, name=f"pool{b}"))
    return stack + _dropout_head(layers, (512, 512), num_classes)


@register("ResNet (He et al. 2016; ResNet-18 has 11.2M params); here ResNet-20, its design for small images",
          "conv16, 3 stages x 3 basic blocks (16-32-64, BN, identity/1x1 shortcuts), global average pool")
def resnet(layers, num_classes):
    def block(x, width, stride, name):
        y = layers.Conv2D(width, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
        y = layers.BatchNormalization(name=f"{name}_bn1")(y)
        y = layers.ReLU(name=f"{name}_relu1")(y)
        y = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
        y = layers.BatchNormalization(name=f"{name}_bn2")(y)
        if stride != 1 or x.shape[-1] != width:
            x = layers.Conv2D(width, 1, strides=stride, use_bias=False, name=f"{name}_shortcut")(x)
            x = layers.BatchNormalization(name=f"{name}_bn_shortcut")(x)
        return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([x, y]))

    def graph(inputs):
        x = layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv1")(inputs)
        x = layers.ReLU(name="relu1")(layers.BatchNormalization(name="bn1")(x))
        for stage, width in enumerate((16, 32, 64), 1):
            for i in range(3):
                x = block(x, width, 2 if stage > 1 and i == 0 else 1, f"stage{stage}_block{i + 1}")
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        return classifier(layers, num_classes)(x)

    return graph


# Nets made for few weights: every 3x3 convolution is followed by batch norm (folded into the convolution's kernel
# and bias by the ONNX export, so it costs one bias per channel in the file) and ReLU; global average pooling
# replaces the big dense layer, so the classifier holds only width x classes weights.


def _gap_net(layers, num_classes, stages):
    """Stages of 3x3 valid conv + BN + ReLU blocks with 2x2 max pooling between them, then global average pooling
    and one dense softmax; `stages` lists each stage's widths."""
    stack, n = [], 0
    for s, widths in enumerate(stages):
        if s:
            stack.append(layers.MaxPooling2D(2, name=f"pool{s}"))
        for width in widths:
            n += 1
            stack += [layers.Conv2D(width, 3, use_bias=False, name=f"conv{n}"),
                      layers.BatchNormalization(name=f"bn{n}"), layers.ReLU(name=f"relu{n}")]
    return stack + [layers.GlobalAveragePooling2D(name="gap"), classifier(layers, num_classes)]


_GAP_SOURCE = "batch-norm CNN with global average pooling, as in MNIST parameter-efficiency studies (99.4% with ~8k weights)"


@register(_GAP_SOURCE, "3x3 conv 12-24, pool, 3x3 conv 24-24-24, BN each, global average pool, dense (18.5k weights)")
def gapnet_24(layers, num_classes):
    return _gap_net(layers, num_classes, [(12, 24), (24, 24, 24)])


@register(_GAP_SOURCE, "3x3 conv 16-32, pool, 3x3 conv 32-32-32, BN each, global average pool, dense (32.7k weights)")
def gapnet_32(layers, num_classes):
    return _gap_net(layers, num_classes, [(16, 32), (32, 32, 32)])


@register(_GAP_SOURCE, "3x3 conv 8-12, pool, 3x3 conv 12-12-12, BN each, global average pool, dense (4.9k weights)")
def gapnet_12(layers, num_classes):
    return _gap_net(layers, num_classes, [(8, 12), (12, 12, 12)])


@register(_GAP_SOURCE, "3x3 conv 4-8, pool, 3x3 conv 8-8-8, BN each, global average pool, dense (2.1k weights)")
def gapnet_8(layers, num_classes):
    return _gap_net(layers, num_classes, [(4, 8), (8, 8, 8)])


# Built for onnxruntime's batch-1 speed: its cost on nets this small is mostly per graph node and per call, not per
# multiply-add. Stride-2 convolutions replace pooling, batch norm folds into the convolution when the session loads,
# there is no hidden dense layer, and channels in multiples of 16 (the AVX-512 NCHWc block) keep both convolutions
# in one blocked layout, so onnxruntime runs 7 nodes: Reshape, Conv, Conv, ReorderOutput, Reshape, Gemm, Softmax (lenet: 12).
@register("LeNet-class network shaped for onnxruntime's optimized graph: stride-2 convolutions instead of pooling, "
          "batch norm folded, no hidden dense layer", "conv16 5x5/2 + BN, conv32 3x3/2 + BN, dense softmax")
def lenet_fast(layers, num_classes):
    return [*_fast_convs(layers, filters=32, kernel=3, stride=2), layers.Flatten(name="flatten"),
            classifier(layers, num_classes)]


def _fast_convs(layers, filters: int, kernel: int, stride: int) -> list:
    """conv16 5x5/2, then conv `filters` `kernel`x`kernel`/`stride`, each with batch norm (folded at export) and ReLU."""
    return [
        layers.Conv2D(16, 5, strides=2, use_bias=False, name="conv1"),
        layers.BatchNormalization(name="bn1"),
        layers.ReLU(name="relu1"),
        layers.Conv2D(filters, kernel, strides=stride, use_bias=False, name="conv2"),
        layers.BatchNormalization(name="bn2"),
        layers.ReLU(name="relu2"),
    ]


# lenet-fast's layout with a cheaper second convolution: 4x4 with stride 4 reads the 12x12 map in 9 non-overlapping
# windows (3x3 outputs, against 5x5 for 3x3 stride 2), which onnxruntime's blocked convolution runs in fewer
# output rows. Trained at 64 filters, then structured-pruned to fewer (pipelines/lenet-fast-slim.toml): random-weight
# probes of the narrow shape ran ~0.8x lenet-fast's time. The Permute puts channels first before the flatten, so the
# exported graph flattens the convolution's own NCHW layout: tf2onnx drops the Transpose that a channels-last
# flatten needs, and onnxruntime's ReorderOutput no longer transposes (~0.2 us per call measured on lenet-fast).
@register("LeNet-class network shaped for onnxruntime's optimized graph, wide for structured pruning: a stride-2 "
          "convolution, a non-overlapping stride-4 one, channels-first flatten, no hidden dense layer",
          "conv16 5x5/2 + BN, conv64 4x4/4 + BN, dense softmax")
def lenet_fast_wide(layers, num_classes):
    return [*_fast_convs(layers, filters=64, kernel=4, stride=4), layers.Permute((3, 1, 2), name="channels_first"),
            layers.Flatten(name="flatten"), classifier(layers, num_classes)]
