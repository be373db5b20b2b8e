"""A small CNN of your own, as a notebook would write it with tf_keras (Keras 2, which pruning needs). edgedigits
calls build(input_shape, num_classes) and trains, prunes, exports and quantizes what it returns. Named layers let
a recipe give them their own pruning targets ([prune.layers])."""

import tf_keras as keras
from tf_keras import layers


def build(input_shape, num_classes):
    return keras.Sequential([
        keras.Input(input_shape),
        layers.Conv2D(16, 3, activation="relu", name="conv1"),
        layers.MaxPooling2D(name="pool1"),
        layers.Conv2D(32, 3, activation="relu", name="conv2"),
        layers.MaxPooling2D(name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dropout(0.25, name="dropout"),
        layers.Dense(64, activation="relu", name="dense1"),
        layers.Dense(num_classes, activation="softmax", name="output"),
    ], name="cnn")
