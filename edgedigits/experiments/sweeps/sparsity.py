"""Sweep kind `sparsity`: one trained model pruned to each sparsity, each exported and quantized."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import click

from edgedigits import tables
from edgedigits.errors import InputError
from edgedigits.experiments.outputs import Output
from edgedigits.experiments.sweeps import KINDS, Kind
from edgedigits.experiments.sweeps.runner import Sweep, Trial, slug, train_trial, trial_recipe, trial_run

log = logging.getLogger(__name__)
PIPELINE = "lenet"
OPTIONS = [
    click.option("--sparsities", default="0,50,75,90,95,98", show_default=True,
                 help="Overall kernel sparsities in percent; 0 is the dense model, exported and quantized as is."),
    click.option("--base", type=click.Path(dir_okay=False), default=None,
                 help="Trained Keras model to prune (default runs/PIPELINE/best.keras if train-prune-export made it, "
                      "else the sweep trains one first)."),
]


def run(sweep: Sweep, sparsities: str, base: str | None) -> Output:
    """Prune one trained model to each sparsity, export and quantize each; plot accuracy against non-zero weights
    and gzipped INT8 bytes. Writes OUT_DIR/sparsity.{json,md,png}."""
    try:
        levels = sorted({float(s) / 100 for s in sparsities.split(",")})
    except ValueError:
        raise InputError(f"--sparsities must be numbers in percent, got {sparsities!r}") from None
    if not levels or not all(0 <= level < 1 for level in levels):  # nan fails the comparison too
        raise InputError(f"--sparsities must be in [0, 100), got {sparsities!r}")
    if 0.0 not in levels:
        levels.insert(0, 0.0)  # the dense reference every other point is compared with
    recipe = sweep.recipe
    default_base = Path("runs") / recipe.name / "best.keras"
    if base is None and default_base.is_file() and not sweep.overrides:
        base = str(default_base)
        log.info(f"pruning the model train-prune-export trained: {base}")
    runs_dir = Path(sweep.runs_dir)
    if base is None:
        base = sweep.run([Trial("base", sweep.params(run_dir=str(runs_dir / "base")))], train_base_trial)["base"]["model"]
    elif not Path(base).is_file():
        raise InputError(f"base model not found: {base}")
    trials = [Trial(f"sparsity-{slug(f'{100 * s:g}')}", sweep.params(sparsity=s, base=str(base),
                                                                     run_dir=str(runs_dir / f"sparsity-{slug(s)}")))
              for s in levels]
    rows = sorted(sweep.run(trials, sparsity_trial).values(), key=lambda r: r["target_sparsity"])
    return Output("sparsity", {"pipeline": recipe.name, "base": base, "rows": rows}, markdown(rows, recipe.name),
                  lambda path: plot(rows, path, f"{recipe.name}: test accuracy against weights kept"))


def train_base_trial(params: dict) -> dict:
    """Train the pipeline's model once; the sparsity sweep prunes this same model to every sparsity."""
    run = trial_run(params)
    model, seconds = train_trial(run)
    run_dir = Path(params["run_dir"])
    model.save(str(run_dir / "base.keras"))
    return {"model": str(run_dir / "base.keras"), "train_time_s": seconds}


def sparsity_trial(params: dict) -> dict:
    """Prune the base model to one overall sparsity (0 = the dense model as is), export, quantize, score: the
    pipeline's own stages, with the accuracy loss measured rather than refused."""
    from edgedigits.runtime.model.artifacts import file_stats
    from edgedigits.training import prune, stages, train

    recipe, model = trial_recipe(params), train.load_model(params["base"])
    target = float(params["sparsity"])
    layer_targets = prune.scaled_targets(model, recipe.prune, target)
    names = ["export", "quantize"]
    if target > 0:
        recipe = dataclasses.replace(recipe, prune=dataclasses.replace(recipe.prune, target_sparsity=target,
                                                                       layers=layer_targets))
        names.insert(0, "prune")
    ctx = stages.run_stages(trial_run(params, recipe, model=model), names)
    fp32, int8 = ctx.scored()["pruned"], ctx.scored()["int8"]
    int8_file = file_stats(int8.path)
    return {
        "target_sparsity": target,
        "layer_targets": layer_targets,
        "kernel_sparsity": fp32.facts["kernel_sparsity"],
        "parameters": fp32.facts["parameters"],
        "nonzero_parameters": fp32.facts["nonzero_parameters"],
        "fp32_test_accuracy": fp32.facts["test_accuracy"],
        "fp32_gzip_bytes": file_stats(fp32.path)["gzip_bytes"],
        "int8_test_accuracy": int8.facts["test_accuracy"],
        "int8_nonzero_parameters": int8.facts["nonzero_parameters"],
        "int8_variant": int8.facts["quantization"]["variant"],
        "int8_bytes": int8_file["bytes"],
        "int8_gzip_bytes": int8_file["gzip_bytes"],
        "prune_time_s": round(ctx.times().get("prune", 0.0), 1),
    }


def first_loss(rows: list[dict], points: float = 0.5) -> dict | None:
    """The first sparsity whose INT8 model is more than `points` below the dense fp32 model (rows by sparsity)."""
    dense = rows[0]["fp32_test_accuracy"]
    return next((r for r in rows if dense - r["int8_test_accuracy"] > points), None)


def markdown(rows: list[dict], name: str) -> str:
    dense = rows[0]
    table = tables.markdown(
        ["target sparsity", "kernel sparsity", "non-zero params", "fp32 test %", "INT8 test %", "INT8 vs dense",
         "INT8 gzip B", "fp32 gzip B", "INT8 variant"],
        [[f"{r['target_sparsity']:.0%}", f"{r['kernel_sparsity']:.1%}", f"{r['nonzero_parameters']:,}",
          f"{r['fp32_test_accuracy']:.2f}", f"{r['int8_test_accuracy']:.2f}",
          f"{r['int8_test_accuracy'] - dense['fp32_test_accuracy']:+.2f}", f"{r['int8_gzip_bytes']:,}",
          f"{r['fp32_gzip_bytes']:,}", r["int8_variant"]] for r in rows])
    loss = first_loss(rows)
    verdict = (f"INT8 first loses more than 0.5 points against the dense model ({dense['fp32_test_accuracy']:.2f}%) "
               f"at {loss['target_sparsity']:.0%} sparsity: {loss['int8_test_accuracy']:.2f}%." if loss else
               f"INT8 stays within 0.5 points of the dense model ({dense['fp32_test_accuracy']:.2f}%) "
               f"at every sparsity swept, up to {rows[-1]['target_sparsity']:.0%}.")
    return "\n".join([f"# Sparsity sweep: {name}", "",
                      "The same trained model pruned (tfmot, recipe's per-layer shape scaled to each overall target), "
                      "exported and quantized; accuracy on the full test set through onnxruntime on each file.", "",
                      table, "", verdict]) + "\n"


def plot(rows: list[dict], path: Path, title: str) -> None:
    """Accuracy against non-zero parameters and against gzipped INT8 bytes, with the dense model as reference."""
    from edgedigits import plots

    dense = rows[0]
    fig, (left, right) = plots.pyplot().subplots(1, 2, figsize=(12, 4.8))
    nonzero = [r["nonzero_parameters"] for r in rows]
    left.plot(nonzero, [r["fp32_test_accuracy"] for r in rows], "o-", label="pruned fp32")
    left.plot([r["int8_nonzero_parameters"] for r in rows], [r["int8_test_accuracy"] for r in rows], "s--",
              label="pruned INT8")
    for r in rows:
        left.annotate(f"{r['target_sparsity']:.0%}", (r["nonzero_parameters"], r["fp32_test_accuracy"]),
                      textcoords="offset points", xytext=(4, 6), fontsize=8)
    right.plot([r["int8_gzip_bytes"] for r in rows], [r["int8_test_accuracy"] for r in rows], "s--", color="C1",
               label="pruned INT8")
    right.plot([r["fp32_gzip_bytes"] for r in rows], [r["fp32_test_accuracy"] for r in rows], "o-", color="C0",
               label="pruned fp32")
    for ax, xlabel in ((left, "non-zero parameters (log)"), (right, "gzipped model file, bytes (log)")):
        ax.axhline(dense["fp32_test_accuracy"], color="gray", lw=1, ls=":",
                   label=f"dense fp32 {dense['fp32_test_accuracy']:.2f}%")
        ax.axhline(dense["fp32_test_accuracy"] - 0.5, color="red", lw=0.8, ls=":", label="dense - 0.5 points")
        ax.set(xscale="log", xlabel=xlabel, ylabel="test accuracy % (onnxruntime, 10,000 images)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    plots.save(fig, path)


KINDS.register("sparsity")(Kind(run, PIPELINE, OPTIONS))
