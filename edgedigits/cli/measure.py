"""Commands that measure and compare: bench, compare, sweeps, the model registry and the datasets."""

from __future__ import annotations

import sys

import click

from edgedigits import limits
from edgedigits.cli.group import EXIT_PARTIAL, cli
from edgedigits.experiments.sweeps import KindCommands
from edgedigits.extras import needs
from edgedigits.options import Finite, count, data_dir_option, runs_dir_option, wrote


@cli.command("models")
@click.option("--classes", default=10, show_default=True, type=count(2, limits.MAX_CLASSES),
              help="Number of output classes to count parameters for.")
def models_cmd(classes):
    """List registered models: name, parameters, source."""
    from edgedigits import tables
    from edgedigits.training import models

    rows = [[s.name, f"{models.count_params(s.name, classes):,}", s.source] for s in models.list_models()]
    click.echo(tables.text([["name", "parameters", "source"], *rows], left={0, 2}))


@cli.group("data")
def data_group():
    """Datasets: the built-in ones (mnist, fashion-mnist) and your own in files."""


@data_group.command("check")
@click.argument("source")
@click.option("--label", default="label", show_default=True, help="CSV: the label column (any case).")
def data_check(source, label):
    """Read a dataset in files and say what it holds, or the one thing wrong with it: SOURCE is a labelled .csv, a
    folder with one subfolder of images per class, an .npz in Keras' layout, or a recipe (.toml) naming one."""
    from edgedigits.runtime import datasets

    if source.endswith(".toml"):
        from edgedigits.training import config

        recipe = config.load(source)
        ds = datasets.load(recipe.dataset, base=config.recipe_dir(recipe))
    else:
        ds = datasets.load(datasets.FileSource(path=source, label=label))
    counts = [int((ds.y_train == i).sum()) for i in range(ds.num_classes)]
    click.echo(f"{ds.name}: {len(ds.x_train):,} train / {len(ds.x_test):,} test images of "
               f"{'x'.join(map(str, ds.input_shape))}, {ds.num_classes} classes")
    click.echo(f"test set: {ds.test_split or 'its own'}")
    click.echo("training images per class: " + ", ".join(f"{n} {c:,}" for n, c in zip(ds.labels, counts)))
    click.echo(f"source: {ds.source}; sha256 {ds.sha256}")


@data_group.command("fetch")
@click.argument("name")
@data_dir_option
def data_fetch(name, data_dir):
    """Make dataset NAME available offline and print where it came from."""
    from edgedigits.errors import InputError
    from edgedigits.runtime import datasets
    from edgedigits.runtime.datasets.formats import DATASETS

    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r} (built in: {', '.join(sorted(DATASETS))}; a dataset of your "
                         f"own files is read by: edgedigits data check PATH)")
    ds = datasets.load(name, data_dir)
    click.echo(f"{ds.name}: {len(ds.x_train):,} train / {len(ds.x_test):,} test images, {ds.num_classes} classes")
    click.echo(f"source: {ds.source}")
    cache = datasets.cached(ds)
    click.echo(f"cache: {cache}" if cache else f"cache: none (not the published {ds.name}: these images are read from "
               f"the data directory each time, never cached as {ds.name})")


@cli.command("bench")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--runs", default=500, show_default=True, type=count(1, limits.MAX_RUNS),
              help="Timed batch-1 runs per model and target.")
@click.option("--warmup", default=50, show_default=True, type=count(0, limits.MAX_RUNS), help="Untimed runs first.")
@click.option("--batch", default=256, show_default=True, type=count(1, limits.MAX_BATCH),
              help="Batch size for throughput.")
@click.option("--seconds", default=1.0, show_default=True, type=Finite(0.0, limits.MAX_SECONDS),
              help="Time spent measuring throughput per model and target.")
@click.option("--threads", default=1, show_default=True, type=count(0, limits.MAX_THREADS),
              help="intra-op threads for batch-1 latency (1 = the edge case).")
@click.option("--throughput-threads", default=0, show_default=True, type=count(0, limits.MAX_THREADS),
              help="intra-op threads for throughput (0 = all cores).")
@click.option("--target", "targets", multiple=True,
              help="ort-cpu, ort-<provider>, openvino-CPU/GPU/NPU (default: every available).")
@click.option("--dataset", default="", metavar="PATH",
              help="Score every model on this labelled .csv, image folder or .npz (its test set) instead of the "
                   "model's own dataset.")
@click.option("--out-dir", default="bench-results", show_default=True, type=click.Path(file_okay=False),
              help="Where bench.json, bench.csv, bench.md and bench.png go.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="JSON report path (default OUT_DIR/bench.json).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="CSV report path (default OUT_DIR/bench.csv).")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False),
              help="Markdown report path (default OUT_DIR/bench.md).")
@click.option("--png", "png_path", type=click.Path(dir_okay=False), help="Plot path (default OUT_DIR/bench.png).")
def bench_cmd(paths, runs, warmup, batch, seconds, threads, throughput_threads, targets, dataset, out_dir, json_path,
              csv_path, markdown_path, png_path):
    """Measure accuracy, size and latency of .onnx models (default: exported/) on every execution target.

    Accuracy is on each model's own test set: MNIST or Fashion-MNIST, or the dataset in files it was trained on,
    read again from where its metadata says (relative to the working directory), or the one --dataset names.

    Exit status: 0 all measured; 2 nothing to measure (no models, bad path, no such target); 4 some models or
    targets failed (named on stderr), the rest measured and written.
    """
    from edgedigits.runtime import bench

    settings = bench.Settings(runs=runs, warmup=warmup, batch=batch, throughput_seconds=seconds,
                              latency_threads=threads, throughput_threads=throughput_threads, dataset=dataset)
    rows, problems, written = bench.measure_and_write(list(paths) or ["exported"], settings, list(targets) or None,
                                                      out_dir, json_path, csv_path, markdown_path, png_path)
    click.echo(bench.text_table(rows))
    wrote(*written)
    if problems:
        sys.exit(EXIT_PARTIAL)


@cli.command("compare")
@click.argument("names", nargs=-1, required=True, metavar="MODEL...")
@click.option("--dataset", default="mnist", show_default=True, help="mnist or fashion-mnist.")
@click.option("--out-dir", type=click.Path(file_okay=False), default=None,
              help="compare-DATASET.{json,md,png}, and models/ for runs made here (default compare/DATASET).")
@click.option("--exported", "exported_dir", default="exported", show_default=True, type=click.Path(file_okay=False),
              help="Where finished runs are looked for first (train-prune-export's output).")
@runs_dir_option
@click.option("--retrain", is_flag=True, help="Run every pipeline again instead of reusing finished manifests.")
@click.option("--latency-runs", default=2000, show_default=True, type=count(1, limits.MAX_RUNS),
              help="Timed batch-1 runs per file.")
@data_dir_option
@needs("train")
def compare_cmd(names, dataset, out_dir, exported_dir, runs_dir, retrain, latency_runs, data_dir):
    """Train, prune, export and quantize each MODEL (a registry model or a pipeline name), or reuse its finished run;
    then one table and one plot: test accuracy and log loss, parameters, non-zero parameters after pruning, training
    time, ONNX size and batch-1 latency, all measured the same way."""
    from edgedigits.experiments import compare

    text, written = compare.run(list(names), dataset, out_dir, exported_dir, runs_dir, retrain, latency_runs, data_dir)
    click.echo(text)
    wrote(*written)


@cli.group("sweep", cls=KindCommands)
def sweep_group():
    """Run many independent trials (locally or on Ray) and tabulate them; interrupted sweeps resume."""
