"""Commands that make models: a recipe through every stage, or one stage at a time, and the run report. The
training half (TensorFlow) is imported inside each command, once its inputs are known good."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from edgedigits import limits
from edgedigits.cli.group import EXIT_GATE, EXIT_MISMATCH, cli
from edgedigits.extras import needs
from edgedigits.options import count, data_dir_option, runs_dir_option, wrote


@cli.command("train-prune-export")
@click.argument("pipeline", default="lenet")
@click.option("--out-dir", default="exported", show_default=True, type=click.Path(file_okay=False),
              help="Where the shipped artifacts go.")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False),
              help="Checkpoints, histories, intermediate models.")
@data_dir_option
@needs("train")
def train_prune_export(pipeline, out_dir, runs_dir, data_dir):
    """Run a recipe: train, prune, export ONNX, quantize INT8; print the stage table.

    PIPELINE is a recipe name (./pipelines/NAME.toml if present, else the recipe shipped with edgedigits; see
    `edgedigits models` for the models) or the path to a .toml file of your own. Writes OUT_DIR/NAME.onnx (pruned
    fp32), NAME.int8.onnx and NAME.json (the manifest) only if every stage passed its parity and accuracy checks.
    """
    from edgedigits.training import config

    recipe = config.load(pipeline)
    from edgedigits.training import pipeline as pipeline_mod  # imports TensorFlow: only once the recipe is known good

    manifest = pipeline_mod.run(recipe, out_dir, runs_dir, data_dir)
    click.echo(pipeline_mod.table(manifest))
    wrote(*(Path(out_dir) / name for name in (*manifest["files"].values(), f"{recipe.name}.json")))


@cli.command("verify")
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--work-dir", type=click.Path(file_okay=False),
              help="Rebuild here and keep the files (default: a temporary directory, removed after).")
@data_dir_option
@needs("train")
def verify_cmd(manifest, work_dir, data_dir):
    """Rebuild a shipped set from its manifest; say per stage whether each file has the shipped sha256.

    MANIFEST is a train-prune-export manifest (exported/NAME.json). The rebuild runs the recipe the manifest records
    (not today's pipelines/NAME.toml) on the data it names (checked by sha256 first), under the pins it records
    (oneDNN instruction set, TensorFlow threads, op determinism), and takes as long as `train-prune-export`. Prints
    per stage: same bytes or not, and the shipped and rebuilt test accuracy. Exit 0: every file rebuilt to the
    shipped bytes; 5: some did not; 2: bad manifest or other data; 3: the rebuild stopped.
    """
    from edgedigits.training import verify

    try:
        outcome = verify.verify(manifest, work_dir, data_dir)
    except verify.RebuildError as exc:
        click.echo(f"edgedigits: {exc}", err=True)
        sys.exit(EXIT_GATE)
    click.echo(verify.table(outcome))
    if not outcome.matched:
        sys.exit(EXIT_MISMATCH)


@cli.command("train")
@click.argument("pipeline", default="lenet")
@runs_dir_option
@data_dir_option
@needs("train")
def train_cmd(pipeline, runs_dir, data_dir):
    """Only train (the [train] table): writes RUNS_DIR/PIPELINE/dense.keras and fp32.onnx, and a classifier's
    history.csv and report (a page reader network's epochs: dense.json)."""
    from edgedigits.training import config
    from edgedigits.training import pipeline as pipeline_mod

    run = pipeline_mod.train_only(config.load(pipeline), runs_dir, data_dir)
    wrote(*(p for p in (run.run_dir / "dense.keras", run.path("fp32"), run.run_dir / "dense.json",
                        run.run_dir / "report.md") if p.is_file()))


@cli.command("train-number-reader")
@click.option("--out-dir", default="exported/number-reader", show_default=True, type=click.Path(file_okay=False),
              help="Where the number reader's ONNX file and manifest go.")
@runs_dir_option
@click.option("--frames", default=96_000, show_default=True, type=count(100, 10_000_000),
              help="Camera frames of numbers rendered from MNIST training digits to train on.")
@click.option("--epochs", default=16, show_default=True, type=count(1, 1000),
              help="Training epochs; the weights of the epoch best on the validation lines are kept.")
@click.option("--workers", default=0, show_default=True, type=count(0, limits.MAX_WORKERS),
              help="Processes rendering frames (0 = one per core).")
@data_dir_option
@needs("train")
def train_number_reader_cmd(out_dir, runs_dir, frames, epochs, workers, data_dir):
    """Train the sequence model that reads touching digits: render numbers written close together from MNIST
    training digits, train a CRNN with CTC, export ONNX, check it against Keras, quantize to INT8, score the reader
    with each file on every MNIST test digit once, and ship both files with their manifest."""
    from edgedigits.training import config
    from edgedigits.training import pipeline as pipeline_mod

    recipe = config.with_overrides(config.load("number-reader"), {"numbers.frames": frames, "train.epochs": epochs,
                                                                  "numbers.workers": workers})
    manifest = pipeline_mod.run(recipe, out_dir, runs_dir, data_dir)
    wrote(*(Path(out_dir) / file for file in manifest["files"].values()), Path(out_dir) / f"{recipe.name}.json")


@cli.command("report")
@click.argument("run_dir", type=click.Path())
@data_dir_option
@needs("train")
def report_cmd(run_dir, data_dir):
    """(Re)write a run's report: curves-*.png (six training curves), confusion-*.png, report.json and report.md.

    RUN_DIR is a directory made by `train` or `train-prune-export` (runs/NAME). Metrics are scikit-learn's, on the
    full test set through onnxruntime on each .onnx in the run: accuracy, log loss, ROC AUC (one-vs-one, macro),
    precision/recall/F1 per class with macro and weighted averages, and the confusion matrix.
    """
    from edgedigits.training import report

    report.write(run_dir, data_dir)
    wrote(Path(run_dir) / "report.md", Path(run_dir) / "report.json")


@cli.command("prune")
@click.argument("pipeline", default="lenet")
@click.option("--model", "model_path", type=click.Path(dir_okay=False),
              help="Keras model to prune (default RUNS_DIR/PIPELINE/dense.keras).")
@runs_dir_option
@data_dir_option
@needs("train")
def prune_cmd(pipeline, model_path, runs_dir, data_dir):
    """Only prune (the [prune] table): writes RUNS_DIR/PIPELINE/pruned.keras and prints per-layer sparsity."""
    from edgedigits.training import config
    from edgedigits.training import pipeline as pipeline_mod

    recipe = config.load(pipeline)
    sparsity = pipeline_mod.prune_only(recipe, model_path, runs_dir, data_dir).facts
    for name, layer in sparsity["layers"].items():
        click.echo(f"{name}: {layer['sparsity']:.1%} of {layer['kernel']:,} kernel weights are zero")
    click.echo(f"all kernels: {sparsity['kernel_sparsity']:.1%}; wrote {Path(runs_dir) / recipe.name / 'pruned.keras'}")


@cli.command("export")
@click.argument("keras_model", type=click.Path(dir_okay=False))
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--pipeline", default="lenet", show_default=True, help="Recipe whose dataset and export settings apply.")
@data_dir_option
@needs("train")
def export_cmd(keras_model, output, pipeline, data_dir):
    """Only export a Keras model to ONNX, with parity check and test accuracy through onnxruntime."""
    from edgedigits.training import config
    from edgedigits.training import pipeline as pipeline_mod

    scored = pipeline_mod.export_file(keras_model, output, config.load(pipeline), data_dir).facts
    click.echo(f"wrote {output}: parity max|diff| {scored['parity']['max_abs_diff']:.2e}, argmax agreement "
               f"{scored['parity']['argmax_agreement']:.4f}, test accuracy {scored['test_accuracy']:.2f}%")


@cli.command("quantize")
@click.argument("onnx_model", type=click.Path(dir_okay=False))
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--pipeline", default="lenet", show_default=True,
              help="Recipe whose dataset and [quantize] settings apply.")
@data_dir_option
@needs("train")
def quantize_cmd(onnx_model, output, pipeline, data_dir):
    """Only quantize an ONNX model to INT8; refuses (exit 3, nothing written) past the accuracy-drop limit."""
    from edgedigits.training import config
    from edgedigits.training import pipeline as pipeline_mod

    before, int8 = pipeline_mod.quantize_file(onnx_model, output, config.load(pipeline), data_dir)
    click.echo(f"wrote {output}: test accuracy {before:.2f}% -> {int8.facts['test_accuracy']:.2f}% "
               f"(INT8 {int8.facts['quantization']['variant']})")


@cli.command("train-page-reader")
@click.option("--out-dir", default="exported", show_default=True, type=click.Path(file_okay=False),
              help="Where the two shipped sets go: OUT_DIR/page-finder/ and OUT_DIR/page-strips/.")
@runs_dir_option
@click.option("--tiles", default=None, type=count(100, 10_000_000),
              help="Tiles of synthetic pages the number finder trains on (default: pipelines/page-finder.toml's).")
@click.option("--strips", "strips_count", default=None, type=count(1000, 10_000_000),
              help="Strips along true lines the strip reader trains on (default: pipelines/page-strips.toml's).")
@click.option("--found-strips", default=None, type=count(0, 10_000_000),
              help="Strips along the lines the new finder finds, for tuning (default: the recipe's).")
@click.option("--finder-epochs", default=None, type=count(1, 1000), help="Number finder epochs.")
@click.option("--reader-epochs", default=None, type=count(1, 1000), help="Strip reader epochs on true lines.")
@click.option("--tune-epochs", default=None, type=count(0, 1000),
              help="Further strip reader epochs with strips along the lines the new finder finds (0: none).")
@click.option("--workers", default=0, show_default=True, type=count(0, limits.MAX_WORKERS),
              help="Processes rendering pages (0 = one per core).")
@click.option("--finder-model", default=None, type=click.Path(dir_okay=False),
              help="Ship this trained Keras number finder instead of training one (give the settings it was trained "
                   "with: --tiles, --finder-epochs).")
@click.option("--strips-model", default=None, type=click.Path(dir_okay=False),
              help="Ship this trained Keras strip reader instead of training one (give the settings it was trained "
                   "with: --strips, --found-strips, --reader-epochs, --tune-epochs).")
@data_dir_option
@needs("train")
def train_page_reader_cmd(out_dir, runs_dir, tiles, strips_count, found_strips, finder_epochs, reader_epochs,
                          tune_epochs, workers, finder_model, strips_model, data_dir):
    """Train the reader of photos and scans: pipelines/page-finder.toml (the number finder), then
    pipelines/page-strips.toml (the strip reader, tuned on the lines that new finder finds). Each renders synthetic
    pages of handwritten numbers (MNIST training digits, handwriting fonts, pen-stroke digits; paper, desks, cheques,
    registers, clutter), trains (or starts from a saved model), exports ONNX checked against Keras, quantizes to INT8
    within its gate and ships its set with a manifest."""
    from edgedigits.training import config
    from edgedigits.training import pipeline as pipeline_mod

    given = lambda pairs: {k: v for k, v in pairs.items() if v is not None}  # noqa: E731
    finder = config.with_overrides(config.load("page-finder"), given(
        {"finder.tiles": tiles, "train.epochs": finder_epochs, "finder.workers": workers,
         "finder.saved": finder_model and _from_recipes(finder_model)}))
    strips = config.load("page-strips")  # both recipes are checked before anything runs
    finder_dir = Path(out_dir) / finder.name
    manifest = pipeline_mod.run(finder, finder_dir, runs_dir, data_dir)
    wrote(*(finder_dir / file for file in manifest["files"].values()), finder_dir / f"{finder.name}.json")
    found_by = os.path.relpath(finder_dir / manifest["files"]["fp32"], config.recipe_dir(strips))  # as the recipe says
    strips = config.with_overrides(strips, given(
        {"strips.strips": strips_count, "strips.found_strips": found_strips, "train.epochs": reader_epochs,
         "strips.tune_epochs": tune_epochs, "strips.workers": workers, "strips.finder": found_by,
         "strips.saved": strips_model and _from_recipes(strips_model)}))
    strips_dir = Path(out_dir) / strips.name
    manifest = pipeline_mod.run(strips, strips_dir, runs_dir, data_dir)
    wrote(*(strips_dir / file for file in manifest["files"].values()), strips_dir / f"{strips.name}.json")


def _from_recipes(path) -> str:
    """`path` as the recipes in pipelines/ name a file: from their folder."""
    from edgedigits.training import config

    return os.path.relpath(Path(path).resolve(), config.recipe_dir(config.load("page-finder")))
