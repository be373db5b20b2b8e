"""The `edgedigits` command: parses, calls one function of the package, prints (results on stdout, progress from
the "edgedigits" logger on stderr). The training half is imported inside the commands that need it, so runtime
commands start fast. Errors a user can fix print one line on stderr and exit 2; a failed gate exits 3."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edgedigits import limits
from edgedigits.errors import GateError, InputError
from edgedigits.experiments.sweeps import KindCommands
from edgedigits.extras import needs
from edgedigits.options import Finite, count, data_dir_option, log_to_stderr, reader_options, runs_dir_option, wrote

EXIT_USAGE = 2
EXIT_GATE = 3
EXIT_PARTIAL = 4  # bench: some models or targets failed, the rest were measured

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edgedigits")
def cli():
    """Train, prune, export and quantize small image classifiers to tiny ONNX models, proving each step."""
    log_to_stderr()


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
    """Datasets (mnist, fashion-mnist)."""


@data_group.command("fetch")
@click.argument("name")
@data_dir_option
def data_fetch(name, data_dir):
    """Make dataset NAME available offline and print where it came from."""
    from edgedigits.runtime import data

    ds = data.load(name, data_dir)
    click.echo(f"{ds.name}: {len(ds.x_train):,} train / {len(ds.x_test):,} test images, {ds.num_classes} classes")
    click.echo(f"source: {ds.source}")
    click.echo(f"cache: {data.cache_dir() / (ds.name + '.npz')}")


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
@click.option("--out-dir", default="bench-results", show_default=True, type=click.Path(file_okay=False),
              help="Where bench.json, bench.csv, bench.md and bench.png go.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="JSON report path (default OUT_DIR/bench.json).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="CSV report path (default OUT_DIR/bench.csv).")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False),
              help="Markdown report path (default OUT_DIR/bench.md).")
@click.option("--png", "png_path", type=click.Path(dir_okay=False), help="Plot path (default OUT_DIR/bench.png).")
def bench_cmd(paths, runs, warmup, batch, seconds, threads, throughput_threads, targets, out_dir, json_path, csv_path,
              markdown_path, png_path):
    """Measure accuracy, size and latency of .onnx models (default: exported/) on every execution target.

    Exit status: 0 all measured; 2 nothing to measure (no models, bad path, no such target); 4 some models or
    targets failed (named on stderr), the rest measured and written.
    """
    from edgedigits.runtime import bench

    settings = bench.Settings(runs=runs, warmup=warmup, batch=batch, throughput_seconds=seconds,
                              latency_threads=threads, throughput_threads=throughput_threads)
    rows, problems, written = bench.measure_and_write(list(paths) or ["exported"], settings, list(targets) or None,
                                                      out_dir, json_path, csv_path, markdown_path, png_path)
    click.echo(bench.text_table(rows))
    wrote(*written)
    if problems:
        sys.exit(EXIT_PARTIAL)


@cli.command("train")
@click.argument("pipeline", default="lenet")
@runs_dir_option
@data_dir_option
@needs("train")
def train_cmd(pipeline, runs_dir, data_dir):
    """Only train (the [train] table): writes RUNS_DIR/PIPELINE/dense.keras, history.csv, fp32.onnx and the report."""
    from edgedigits.training import config
    from edgedigits.training import pipeline as pipeline_mod

    run = pipeline_mod.train_only(config.load(pipeline), runs_dir, data_dir)
    wrote(run.run_dir / "dense.keras", run.path("fp32"), run.run_dir / "report.md")


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
    from edgedigits.training import sequence

    sequence.run(out_dir, runs_dir, frames=frames, epochs=epochs, workers=workers, data_dir=data_dir)
    wrote(*(Path(out_dir) / file for file in sequence.FILES.values()), Path(out_dir) / f"{sequence.NAME}.json")


@cli.command("train-page-reader")
@click.option("--out-dir", default="exported/page-reader", show_default=True, type=click.Path(file_okay=False),
              help="Where the number finder's and strip reader's ONNX files and the manifest go.")
@runs_dir_option
@click.option("--tiles", default=6000, show_default=True, type=count(100, 10_000_000),
              help="256x256 tiles of synthetic pages the number finder trains on.")
@click.option("--strips", "strips_count", default=48_000, show_default=True, type=count(1000, 10_000_000),
              help="Number strips (and strips of clutter) the strip reader trains on.")
@click.option("--finder-epochs", default=10, show_default=True, type=count(1, 1000),
              help="Number finder epochs; the weights best on the validation tiles are kept.")
@click.option("--reader-epochs", default=14, show_default=True, type=count(1, 1000),
              help="Strip reader epochs; the weights best on the validation strips are kept.")
@click.option("--workers", default=0, show_default=True, type=count(0, limits.MAX_WORKERS),
              help="Processes rendering pages (0 = one per core).")
@data_dir_option
@needs("train")
def train_page_reader_cmd(out_dir, runs_dir, tiles, strips_count, finder_epochs, reader_epochs, workers, data_dir):
    """Train the reader of real photos and scans: render synthetic pages of handwritten numbers (MNIST training
    digits, handwriting fonts, pen-stroke digits; paper, desks, cheques, registers, clutter), train the number
    finder and the strip reader, export ONNX, check each against Keras, quantize to INT8 within its gate, read
    held-out validation images end to end, and ship the four files with their manifest."""
    from edgedigits.training import pagereader

    pagereader.run(out_dir, runs_dir, tiles, strips_count, finder_epochs, reader_epochs, workers=workers,
                   data_dir=data_dir)
    wrote(*(Path(out_dir) / f for files in pagereader.FILES.values() for f in files.values()),
          Path(out_dir) / f"{pagereader.NAME}.json")


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


@cli.command("webcam")
@click.option("--source", default="0", show_default=True,
              help="Camera index, video file, image, folder of images, or a glob such as 'shots/*.png'.")
@click.option("--headless/--window", default=None,
              help="Headless: one JSON line per frame on stdout, no window. Default: a window if there is a display.")
@click.option("--save", type=click.Path(dir_okay=False), default=None,
              help="Also write the annotated frames to this video (.avi or .mp4).")
@click.option("--max-frames", default=0, show_default=True, type=count(0, limits.MAX_FRAMES),
              help="Stop after this many frames (0 = until the source ends, or q/Esc in the window).")
@reader_options
def webcam_cmd(source, headless, save, max_frames, model, threshold, ink, threads, touching, number_model):
    """Read digits live from a camera, a video or images: boxes, digits, confidences, frames/s.

    In the window, q or Esc quits. Headless (automatic without a display) prints one JSON line per frame:
    frame, time, ms, text, digits, confidences, uncertain, boxes [x,y,w,h], lines.
    """
    from edgedigits.runtime import webcam

    webcam.live(source, headless, save, max_frames, model, threads, threshold, ink, touching, number_model)


@cli.command("predict")
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per line and image: image, text, digits, confidences, uncertain, boxes, lines.")
@reader_options
def predict_cmd(images, as_json, model, threshold, ink, threads, touching, number_model):
    """Print the digits read in each IMAGE: 'IMAGE: 1234', lines separated by a space, '?' after an uncertain digit."""
    from edgedigits.runtime import webcam

    for line in webcam.predict(images, model, threads, threshold, ink, as_json, touching, number_model):
        click.echo(line)


def main(argv=None) -> None:
    """Entry point: user errors and refused reads or writes become one line on stderr (exit 2); failed gates
    exit 3."""
    try:
        cli.main(args=argv, prog_name="edgedigits", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("edgedigits: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"edgedigits: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except (InputError, GateError) as exc:
        click.echo(f"edgedigits: {exc}", err=True)
        sys.exit(EXIT_GATE if isinstance(exc, GateError) else EXIT_USAGE)
    except OSError as exc:  # the machine refused a read or write (disk full, permissions): the file says which
        where = f" ({exc.filename})" if exc.filename else ""
        click.echo(f"edgedigits: {exc.strerror or exc}{where}", err=True)
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    main()
