"""Magnitude pruning with tensorflow-model-optimization: wrap, fine-tune along a polynomial ramp, strip.

Sparsity is counted over conv and dense kernels (biases and batch-norm parameters are not pruned: they are few and
removing them buys nothing).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from edgedigits.errors import InputError
from edgedigits.training.config import Prune
from edgedigits.training.stack import keras, tfmot
from edgedigits.training.train import Split, fit, steps_per_epoch

PRUNABLE = (keras.layers.Conv2D, keras.layers.Dense, keras.layers.SeparableConv2D)  # tfmot: SeparableConv2D's pointwise
# kernel only; a depthwise kernel (9 weights per channel) is never pruned, but counts in the sparsity report
KERNELS = {keras.layers.SeparableConv2D: ("depthwise_kernel", "pointwise_kernel"),
           keras.layers.DepthwiseConv2D: ("depthwise_kernel",)}


def kernels(layer) -> list:
    """The kernel variables of a conv or dense layer ([] for any other layer)."""
    plain = ("kernel",) if isinstance(layer, PRUNABLE) else ()
    names = next((v for k, v in KERNELS.items() if isinstance(layer, k)), plain)
    return [getattr(layer, name) for name in names]


def _prunable_size(layer) -> int:
    """Weights tfmot prunes in `layer`: its kernel, or a separable convolution's pointwise kernel."""
    kernel = layer.pointwise_kernel if isinstance(layer, keras.layers.SeparableConv2D) else layer.kernel
    return int(kernel.shape.num_elements())


def layer_targets(model, cfg: Prune) -> dict[str, float]:
    """Target sparsity per prunable layer: the pipeline's per-layer value, else its global target."""
    names = {layer.name for layer in model.layers if isinstance(layer, PRUNABLE)}
    unknown = set(cfg.layers) - names
    if unknown:
        raise InputError(f"prune.layers names unknown layers {sorted(unknown)} (prunable: {', '.join(sorted(names))})")
    return {name: float(cfg.layers.get(name, cfg.target_sparsity)) for name in names}


def scaled_targets(model, cfg: Prune, overall: float) -> dict[str, float]:
    """Per-layer targets with the recipe's shape, scaled so that `overall` of all kernel weights are pruned.

    Each layer keeps k * (1 - its recipe target) of its weights (at most all), with k found by bisection; a recipe
    without per-layer targets gives the same sparsity everywhere. Used by the sparsity sweep, so every point of
    the curve prunes the big, redundant layers hardest, as the shipped recipe does.
    """
    if overall <= 0:
        return {name: 0.0 for name in layer_targets(model, cfg)}
    recipe = layer_targets(model, cfg)
    sizes = {layer.name: _prunable_size(layer) for layer in model.layers if layer.name in recipe}
    total = sum(sizes.values())

    def kept(k):
        return sum(min(1.0, k * (1 - recipe[name])) * size for name, size in sizes.items())

    low, high = 0.0, 1.0 / max(1e-6, min(1 - t for t in recipe.values()))
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if kept(mid) < (1 - overall) * total else (low, mid)
    return {name: min(0.999, round(1 - min(1.0, high * (1 - recipe[name])), 4)) for name in sizes}  # tfmot: < 1


def prune(model, split: Split, cfg: Prune, seed: int, run_dir: Path, teachers=None):
    """Fine-tune `model` while its kernels are pruned to their targets; returns the stripped (plain Keras) model.
    With `teachers` (distill.OnnxTeachers) and cfg.distill, the fine-tuning learns from their predictions too."""
    keras.utils.set_random_seed(seed)
    targets = layer_targets(model, cfg)
    steps = steps_per_epoch(split, cfg.batch_size)
    # The mask is only updated every `frequency` steps: end the ramp on such a step, so the target is reached exactly.
    end_step = math.ceil(cfg.ramp_epochs * steps / cfg.frequency) * cfg.frequency
    if end_step > cfg.epochs * steps:
        raise InputError(
            f"prune.ramp_epochs ({cfg.ramp_epochs}) must leave room inside prune.epochs ({cfg.epochs}) for the ramp "
            "to end"
        )
    ramp_done_epoch = math.ceil(end_step / steps)  # first epoch index whose end has the final sparsity

    def wrap(layer):
        if layer.name in targets and targets[layer.name] > 0:
            schedule = tfmot.sparsity.keras.PolynomialDecay(0.0, targets[layer.name], 0, end_step,
                                                            frequency=cfg.frequency)
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    # clone_function returns the layers themselves (wrapped), so they keep their weights; clone first so the
    # caller's dense model is left untouched.
    base = keras.models.clone_model(model)
    base.set_weights(model.get_weights())
    pruned = keras.models.clone_model(base, clone_function=wrap)
    callbacks = [tfmot.sparsity.keras.UpdatePruningStep()]
    if not split.refit:  # with refit validation is trained on: the last epoch is kept
        # Select the best validation epoch only once the ramp has ended, so the kept model has the full sparsity.
        callbacks.append(keras.callbacks.EarlyStopping(
            "val_accuracy", patience=cfg.epochs, restore_best_weights=True, start_from_epoch=ramp_done_epoch - 1
        ))
    callbacks.append(keras.callbacks.CSVLogger(str(run_dir / "prune_history.csv")))
    run_dir.mkdir(parents=True, exist_ok=True)
    trainee = pruned
    if cfg.distill and teachers is not None:
        from edgedigits.training.distill import Distiller

        trainee = Distiller(pruned, teachers, cfg.distill, cfg.temperature)  # UpdatePruningStep finds the nested layers
    fit(trainee, split, cfg, cfg.augment, seed, callbacks, "prune")
    return tfmot.sparsity.keras.strip_pruning(pruned)


def sparsity_report(model) -> dict:
    """Per-layer and overall kernel sparsity, plus all parameters and non-zero parameters of the model."""
    layers = {}
    zeros = total = 0
    for layer in model.layers:
        found = kernels(layer)
        if found:
            z, size = sum(int(np.sum(k.numpy() == 0)) for k in found), sum(int(k.shape.num_elements()) for k in found)
            layers[layer.name] = {"kernel": size, "zeros": z, "sparsity": round(z / size, 4)}
            zeros, total = zeros + z, total + size
    weights = model.get_weights()
    return {
        "parameters": int(model.count_params()),
        "nonzero_parameters": int(sum(int(np.count_nonzero(w)) for w in weights)),
        "kernel_sparsity": round(zeros / total, 4) if total else 0.0,
        "layers": layers,
    }
