"""Structured pruning: remove whole conv filters and dense units, so the exported model is a smaller dense network.

Magnitude pruning (prune.py) zeroes single weights; the zeros still go through dense kernels, so it buys file size
but no speed. Here a layer keeps only its most important filters or units and the model is rebuilt narrower, with
the kept weights copied over (kernel, bias, batch norm, the next layer's input channels, the flatten -> dense rows).
The narrow model does fewer multiplies in any runtime, with no sparse kernels needed.

Criterion ("l1-outgoing", the default): unit j of layer L scores  L1(incoming kernel of j) * L1(outgoing weights
of j in the next conv/dense layer), the incoming part scaled by |gamma| / sqrt(var + eps) when a batch norm follows.
Why not the plain incoming-kernel L1 ("l1", also available, as in Li et al. 2017): ReLU and max pooling are
positively homogeneous, so scaling a unit's incoming weights by a and its outgoing weights by 1/a leaves the network
unchanged while the plain norm changes by a; the product does not, and a filter whose output the next layer barely
reads scores low even if its own kernel is large. Both ignore biases (they are few and do not change the ranking much).

Schedule: `steps` shrinks from full width to the target widths, linear in width, each followed by fine-tuning
(train.fit with the [structured] optimizer settings), keeping the best validation epoch (never the test set).
With `distill` > 0 the fine-tuning loss mixes in the trained full-width model's softened predictions (knowledge
distillation, Hinton et al. 2015): a narrow student recovers faster from the teacher's "dark knowledge" (which wrong
classes look alike) than from the hard labels alone.

tfmot 0.8.1 is not used: its pruning API (prune_low_magnitude, including the 2:4 `sparsity_m_by_n` option) masks
weights inside layers of unchanged shape; filter pruning that shrinks layers is an open feature request there
(tensorflow/model-optimization#732, also #541). The surgery here is ~100 lines.

MACs (`macs`) count the multiply-accumulates of one image through Conv2D (out_h * out_w * filters * kh * kw * in_c /
groups), depthwise and separable convolutions (their depthwise and pointwise parts) and Dense (in * out) layers; bias
adds, activations, pooling and batch norm are left out (they are < 2% of lenet's work and not multiplies of weights).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from edgedigits.errors import InputError
from edgedigits.training.config import CRITERIA, Structured
from edgedigits.training.distill import Distiller
from edgedigits.training.stack import keras
from edgedigits.training.train import Split, fit

L = keras.layers
WIDE = (L.Conv2D, L.Dense)  # layers whose output width can shrink
log = logging.getLogger(__name__)
PASS = (L.MaxPooling2D, L.AveragePooling2D, L.Dropout, L.Activation, L.ReLU, L.Flatten, L.BatchNormalization,
        L.Permute)
CHANNELS_FIRST = (3, 1, 2)  # the one Permute supported: before Flatten, so the flatten order is (c, h, w)


def macs(model) -> int:
    """Multiply-accumulates per image in the model's Conv2D and Dense layers (see the module docstring)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, (L.DepthwiseConv2D, L.SeparableConv2D)):
            _, h, w, c = layer.output_shape
            kh, kw, cin, mult = layer.depthwise_kernel.shape
            total += h * w * cin * mult * kh * kw
            if isinstance(layer, L.SeparableConv2D):
                total += h * w * c * cin * mult
        elif isinstance(layer, L.Conv2D):
            _, h, w, c = layer.output_shape
            kh, kw, cin, _ = layer.kernel.shape
            total += h * w * c * kh * kw * cin
        elif isinstance(layer, L.Dense):
            total += int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
    return int(total)


def widths(model) -> dict[str, int]:
    """Output width (filters or units) of every shrinkable layer, i.e. every Conv2D/Dense but the classifier."""
    return {layer.name: _width(layer) for layer in _shrinkable(model)}


def _width(layer) -> int:
    return int(layer.kernel.shape[-1])


def _check(model) -> None:
    if not isinstance(model, keras.Sequential):
        raise InputError(f"structured pruning needs a Sequential model, got {type(model).__name__}")
    for layer, after in zip(model.layers, [*model.layers[1:], None]):
        if not isinstance(layer, WIDE + PASS):
            raise InputError(f"structured pruning does not support layer '{layer.name}' ({type(layer).__name__})")
        if isinstance(layer, L.Conv2D) and (type(layer) is not L.Conv2D or layer.groups != 1
                                            or layer.data_format != "channels_last"):
            raise InputError(f"structured pruning supports plain channels-last Conv2D only, not '{layer.name}'")
        if isinstance(layer, L.Dense) and len(layer.input_shape) != 2:
            raise InputError(f"structured pruning needs Dense layers on flat inputs, '{layer.name}' is not")
        if isinstance(layer, L.Permute) and (tuple(layer.dims) != CHANNELS_FIRST or not isinstance(after, L.Flatten)):
            raise InputError(f"structured pruning supports Permute{CHANNELS_FIRST} right before Flatten only, not "
                             f"'{layer.name}' {tuple(layer.dims)}")
        if isinstance(layer, L.BatchNormalization) and layer.axis not in ([-1], [len(layer.input_shape) - 1]):
            raise InputError(f"structured pruning supports batch norm on the last axis only, not '{layer.name}'")
    if not any(isinstance(layer, WIDE) for layer in model.layers):
        raise InputError("structured pruning needs at least one Conv2D or Dense layer")


def _shrinkable(model) -> list:
    wide = [layer for layer in model.layers if isinstance(layer, WIDE)]
    return wide[:-1]  # the last one is the classifier: its width is the number of classes


def check_model(model, cfg: Structured) -> None:
    """A model structured pruning can shrink to cfg.widths, checked before any training (an InputError if not)."""
    _check(model)
    target_widths(model, cfg.widths)


def target_widths(model, requested: dict) -> dict[str, int]:
    """Kept width per shrinkable layer from {layer: count or fraction}; unnamed layers keep their full width."""
    full = widths(model)
    unknown = set(requested) - set(full)
    if unknown:
        raise InputError(f"structured.widths names layers that cannot shrink {sorted(unknown)} "
                         f"(shrinkable: {', '.join(full)})")
    out = {}
    for name, n in full.items():
        value = requested.get(name, n)
        k = max(1, round(value * n)) if isinstance(value, float) else int(value)
        if not 1 <= k <= n:
            raise InputError(f"structured.widths.{name} = {value!r} is not between 1 and the layer's {n} units")
        out[name] = k
    return out


def schedule(full: dict[str, int], target: dict[str, int], steps: int) -> list[dict[str, int]]:
    """Widths after each of `steps` shrinks, linear in width from `full` to `target` (the last step is `target`)."""
    return [{name: round(full[name] - (full[name] - target[name]) * s / steps) for name in full}
            for s in range(1, steps + 1)]


def _following(model, layer) -> tuple[list, object | None]:
    """The pass-through layers after `layer` and the next Conv2D/Dense (None if there is none)."""
    layers = model.layers
    between = []
    for nxt in layers[layers.index(layer) + 1:]:
        if isinstance(nxt, WIDE):
            return between, nxt
        between.append(nxt)
    return between, None


def scores(model, criterion: str = "l1-outgoing") -> dict[str, np.ndarray]:
    """Importance of every filter/unit of each shrinkable layer (see the module docstring for the criterion)."""
    if criterion not in CRITERIA:
        raise InputError(f"unknown structured.criterion '{criterion}' (known: {', '.join(CRITERIA)})")
    _check(model)
    out = {}
    for layer in _shrinkable(model):
        kernel = np.abs(layer.kernel.numpy())
        s = kernel.reshape(-1, kernel.shape[-1]).sum(0)
        if criterion == "l1-outgoing":
            between, nxt = _following(model, layer)
            for bn in (b for b in between if isinstance(b, L.BatchNormalization)):
                gamma = bn.gamma.numpy() if bn.scale else np.ones_like(s)
                s = s * np.abs(gamma) / np.sqrt(bn.moving_variance.numpy() + bn.epsilon)
            s = s * _incoming_per_channel(nxt, len(s), any(isinstance(b, L.Permute) for b in between))
        out[layer.name] = s
    return out


def _incoming_per_channel(nxt, channels: int, channels_first: bool = False) -> np.ndarray:
    """L1 of the weights with which layer `nxt` reads each of the `channels` channels feeding it."""
    k = np.abs(nxt.kernel.numpy())
    if isinstance(nxt, L.Conv2D):
        return k.sum(axis=(0, 1, 3))
    if channels_first:  # Permute(3, 1, 2) before the flatten: the order is (c, h, w)
        return k.reshape(channels, -1, k.shape[-1]).sum(axis=(1, 2))
    return k.reshape(-1, channels, k.shape[-1]).sum(axis=(0, 2))  # flatten order is (h, w, c): c varies fastest


def keep_indices(model, target: dict[str, int], criterion: str = "l1-outgoing") -> dict[str, np.ndarray]:
    """Sorted indices of the top-`target[name]` units of each shrinkable layer (ties: the lower index wins).

    Kept in their original order, so the narrow model's channels are a subsequence of the wide one's."""
    ranked = scores(model, criterion)
    return {name: np.sort(np.argsort(-s, kind="stable")[: target.get(name, len(s))]) for name, s in ranked.items()}


def shrink(model, keep: dict[str, np.ndarray]):
    """A narrower plain Sequential copy of `model` keeping units `keep[layer]` (all units of layers not named)."""
    _check(model)
    rebuilt, weights = [], []
    channels = np.arange(model.input_shape[-1])  # kept channels of the current feature map, as indices
    channels_first = False  # after Permute(3, 1, 2)
    for layer in model.layers:
        channels_first = channels_first or isinstance(layer, L.Permute)
        config = layer.get_config()
        w = layer.get_weights()
        if isinstance(layer, WIDE):
            out = np.asarray(keep.get(layer.name, np.arange(_width(layer))))
            config["filters" if isinstance(layer, L.Conv2D) else "units"] = len(out)
            kernel = w[0][..., channels, :] if isinstance(layer, L.Conv2D) else w[0][channels, :]
            w = [kernel[..., out]] + [b[out] for b in w[1:]]
            channels = out
        elif isinstance(layer, L.Flatten) and channels_first:  # (c, h, w): each kept channel's whole map
            spatial = int(np.prod(layer.input_shape[2:]))
            channels = (channels[:, None] * spatial + np.arange(spatial)[None, :]).reshape(-1)
        elif isinstance(layer, L.Flatten):
            full = int(layer.input_shape[-1])
            spatial = int(np.prod(layer.input_shape[1:-1]))
            channels = (np.arange(spatial)[:, None] * full + channels[None, :]).reshape(-1)
        elif isinstance(layer, L.BatchNormalization):
            w = [v[channels] for v in w]
        rebuilt.append(type(layer).from_config(config))
        weights.append(w)
    narrow = keras.Sequential([L.InputLayer(input_shape=model.input_shape[1:], name="input")] + rebuilt,
                              name=model.name)
    for layer, w in zip(narrow.layers, weights):
        layer.set_weights(w)
    return narrow


def structured_prune(model, split: Split, cfg: Structured, seed: int, run_dir: Path):
    """Shrink `model` to cfg.widths in cfg.steps steps with fine-tuning between; returns (narrow model, facts)."""
    _check(model)
    keras.utils.set_random_seed(seed)
    full = widths(model)
    target = target_widths(model, cfg.widths)
    run_dir.mkdir(parents=True, exist_ok=True)
    current, history = model, []
    plan = schedule(full, target, cfg.steps)
    for step, step_widths in enumerate(plan, 1):
        keep = keep_indices(current, step_widths, cfg.criterion)
        current = shrink(current, keep)
        last = step == len(plan)
        epochs = cfg.final_epochs if last and cfg.final_epochs else cfg.epochs
        log.info(f"  structured step {step}/{len(plan)}: widths {_fmt(step_widths)}, {macs(current):,} MACs; "
            f"fine-tune {epochs} epochs")
        hist = {}
        if epochs:
            tune = dataclasses.replace(cfg, epochs=epochs)
            callbacks = [
                keras.callbacks.EarlyStopping("val_accuracy", patience=epochs, restore_best_weights=True),
                keras.callbacks.CSVLogger(str(run_dir / f"structured_step{step}.csv")),
            ]
            trainee = Distiller(current, model, cfg.distill, cfg.temperature) if cfg.distill else current
            hist = fit(trainee, split, tune, cfg.augment, seed + step, callbacks, f"structured {step}")
        history.append({"step": step, "widths": dict(step_widths), "macs": macs(current), "epochs": epochs,
                        "best_val_accuracy": round(100 * max(hist.get("val_accuracy", [float("nan")])), 2)})
    facts = {
        "criterion": cfg.criterion,
        "distill": cfg.distill,
        "widths": {name: {"before": full[name], "after": target[name]} for name in full},
        "macs": {"before": macs(model), "after": macs(current), "ratio": round(macs(model) / macs(current), 2)},
        "parameters": {"before": int(model.count_params()), "after": int(current.count_params())},
        "steps": history,
    }
    return current, facts


def _fmt(w: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in w.items())
