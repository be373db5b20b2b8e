"""The `edgedigits` command: a thin layer over the stage modules.

The training half (TensorFlow) is imported inside the commands that need it, so runtime commands start fast.
Errors a user can fix print one line on stderr and exit 2; a failed accuracy or parity gate exits 3.
"""

from __future__ import annotations

import sys
from pathlib import Path

import functools

import click

from edgedigits import limits
from edgedigits.errors import AccuracyGateError, GateError, InputError
from edgedigits.extras import require

EXIT_USAGE = 2
EXIT_GATE = 3
EXIT_PARTIAL = 4  # bench: some models or targets failed, the rest were measured

class Finite(click.FloatRange):
    """A float range that also refuses nan and inf (click's FloatRange lets nan through: nan < x is False)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if number != number or number in (float("inf"), float("-inf")):
            self.fail(f"{value!r} is not a finite number in {self._describe_range()}", param, ctx)
        return number


class RayAddress(click.ParamType):
    """A Ray address, probed with a TCP connection so an unreachable one fails in seconds (ray.init would retry
    for minutes). 'local' starts a cluster here; 'auto' finds a running one."""

    name = "address"

    def convert(self, value, param, ctx):
        import socket

        if value in ("local", "auto"):
            return value
        host, sep, port = value.removeprefix("ray://").rpartition(":")
        if not sep or not host or not port.isdigit():
            self.fail(f"{value!r} is not HOST:PORT, ray://HOST:PORT, auto or local", param, ctx)
        try:
            socket.create_connection((host, int(port)), timeout=limits.RAY_CONNECT_TIMEOUT_S).close()
        except OSError as exc:
            self.fail(f"cannot reach {value} within {limits.RAY_CONNECT_TIMEOUT_S:g} s "
                      f"({exc.strerror or type(exc).__name__})", param, ctx)
        return value


def count(low: int, high: int) -> click.IntRange:
    return click.IntRange(low, high, clamp=False)


data_dir_option = click.option(
    "--data-dir", type=click.Path(file_okay=False), envvar="EDGEDIGITS_DATA", default=None,
    help="Directory with the dataset's IDX .gz files or Keras .npz (default: cache, then download/offline sources).",
)


def reader_options(command):
    """The digit reader's options, shared by `webcam` and `predict`."""
    for option in reversed([
        click.option("--model", type=click.Path(dir_okay=False), default=None,
                     help="ONNX model (default exported/lenet.int8.onnx, the shipped INT8 lenet)."),
        click.option("--threshold", default=0.8, show_default=True, type=Finite(0.0, 1.0),
                     help="Digits below this confidence are shown as uncertain ('7?', orange) instead of guessed silently."),
        click.option("--ink", type=click.Choice(["auto", "dark", "light"]), default="auto", show_default=True,
                     help="Dark ink on light paper, light ink on dark (a board), or decide per image."),
        click.option("--threads", default=1, show_default=True, type=count(0, limits.MAX_THREADS),
                     help="onnxruntime intra-op threads (1 = one core, 0 = all cores)."),
    ]):
        command = option(command)
    return command


def log(message: str) -> None:
    click.echo(message, err=True)


def needs(extra: str):
    """The command needs an optional extra: without it, one line naming the pip install, before any work."""
    def wrap(command):
        @functools.wraps(command)
        def checked(*args, **kwargs):
            require(extra, f"`{click.get_current_context().command_path}`")
            return command(*args, **kwargs)
        return checked
    return wrap


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edgedigits")
def cli():
    """Train, prune, export and quantize small image classifiers to tiny ONNX models, proving each step."""


@cli.command("train-prune-export")
@click.argument("pipeline", default="lenet")
@click.option("--out-dir", default="exported", show_default=True, type=click.Path(file_okay=False), help="Where the shipped artifacts go.")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False), help="Checkpoints, histories, intermediate models.")
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

    manifest = pipeline_mod.run(recipe, out_dir, runs_dir, data_dir, log)
    click.echo(pipeline_mod.table(manifest))
    click.echo(f"wrote {Path(out_dir) / manifest['files']['pruned']}, {Path(out_dir) / manifest['files']['int8']}, "
               f"{Path(out_dir) / (recipe.name + '.json')}")


@cli.command("models")
@click.option("--classes", default=10, show_default=True, type=count(2, limits.MAX_CLASSES), help="Number of output classes to count parameters for.")
def models_cmd(classes):
    """List registered models: name, parameters, source."""
    from edgedigits.training import models

    specs = models.list_models()
    width = max(len(s.name) for s in specs)
    click.echo(f"{'name'.ljust(width)}  {'parameters':>10}  source")
    for spec in specs:
        click.echo(f"{spec.name.ljust(width)}  {models.count_params(spec.name, classes):>10,}  {spec.source}")


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
@click.option("--runs", default=500, show_default=True, type=count(1, limits.MAX_RUNS), help="Timed batch-1 runs per model and target.")
@click.option("--warmup", default=50, show_default=True, type=count(0, limits.MAX_RUNS), help="Untimed runs first.")
@click.option("--batch", default=256, show_default=True, type=count(1, limits.MAX_BATCH), help="Batch size for throughput.")
@click.option("--seconds", default=1.0, show_default=True, type=Finite(0.0, limits.MAX_SECONDS), help="Time spent measuring throughput per model and target.")
@click.option("--threads", default=1, show_default=True, type=count(0, limits.MAX_THREADS), help="intra-op threads for batch-1 latency (1 = the edge case).")
@click.option("--throughput-threads", default=0, show_default=True, type=count(0, limits.MAX_THREADS), help="intra-op threads for throughput (0 = all cores).")
@click.option("--target", "targets", multiple=True, help="ort-cpu, ort-<provider>, openvino-CPU/GPU/NPU (default: every available).")
@click.option("--out-dir", default="bench-results", show_default=True, type=click.Path(file_okay=False),
              help="Where bench.json, bench.csv, bench.md and bench.png go.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="JSON report path (default OUT_DIR/bench.json).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="CSV report path (default OUT_DIR/bench.csv).")
@click.option("--markdown", "markdown_path", type=click.Path(dir_okay=False), help="Markdown report path (default OUT_DIR/bench.md).")
@click.option("--png", "png_path", type=click.Path(dir_okay=False), help="Plot path (default OUT_DIR/bench.png).")
def bench_cmd(paths, runs, warmup, batch, seconds, threads, throughput_threads, targets, out_dir, json_path, csv_path,
              markdown_path, png_path):
    """Measure accuracy, size and latency of .onnx models (default: exported/) on every execution target.

    Exit status: 0 all measured; 2 nothing to measure (no models, bad path, no such target); 4 some models or
    targets failed (named on stderr), the rest measured and written.
    """
    import importlib.util

    from edgedigits.runtime import bench, timing
    from edgedigits.runtime.artifacts import ensure_writable_dir

    plotting = importlib.util.find_spec("matplotlib") is not None  # in the [train] extra, not in the runtime
    if png_path and not plotting:
        raise InputError("--png needs matplotlib: pip install matplotlib (or 'edgedigits[train]')")
    settings = bench.Settings(runs=runs, warmup=warmup, batch=batch, throughput_seconds=seconds,
                              latency_threads=threads, throughput_threads=throughput_threads)
    out = ensure_writable_dir(out_dir)
    for report in (json_path, csv_path, markdown_path, png_path):  # every report writable before measuring
        if report:
            ensure_writable_dir(Path(report).parent)
    machine = timing.machine_info()
    found, _ = bench.select_targets(list(targets) or None)
    header = bench.header_lines(machine, settings, found)
    for line in header:
        log(line)
    rows, problems = bench.run(list(paths) or ["exported"], settings, list(targets) or None, log)
    for problem in problems:
        log(f"edgedigits: {problem}")
    if not rows:
        raise InputError("nothing was measured")
    click.echo(bench.text_table(rows))
    paths_out = {"json_path": json_path or out / "bench.json", "csv_path": csv_path or out / "bench.csv",
                 "markdown_path": markdown_path or out / "bench.md"}
    bench.write_reports(rows, machine, header, **paths_out)
    written = list(paths_out.values())
    if plotting:
        written.append(png_path or out / "bench.png")
        bench.plot(rows, written[-1], f"edgedigits bench on {machine['cpu']} ({machine['cores']} cores)")
    else:
        log("no bench.png: the plot needs matplotlib (pip install matplotlib)")
    click.echo("wrote " + ", ".join(str(p) for p in written))
    if problems:
        sys.exit(EXIT_PARTIAL)


def _split(recipe, data_dir):
    from edgedigits.runtime import data
    from edgedigits.training import config, train

    ds = data.load(recipe.dataset, data_dir)
    config.check_sizes(recipe, len(ds.x_train), len(ds.x_test))
    return ds, train.Split.from_dataset(ds, recipe.validation, recipe.seed, recipe.train_limit)


@cli.command("train")
@click.argument("pipeline", default="lenet")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False))
@data_dir_option
@needs("train")
def train_cmd(pipeline, runs_dir, data_dir):
    """Only train (the [train] table): writes RUNS_DIR/PIPELINE/dense.keras, history.csv, fp32.onnx and the report."""
    from edgedigits.runtime import artifacts
    from edgedigits.training import config, export, report, train
    from edgedigits.training.pipeline import export_and_score, record_run, timed

    recipe = config.load(pipeline)
    run_dir = artifacts.ensure_writable_dir(Path(runs_dir) / recipe.name)
    ds, split = _split(recipe, data_dir)
    record_run(run_dir, recipe, ds)
    times = {}
    with timed(times, "train"):
        model = train.train(recipe.model, split, recipe.train, recipe.seed, run_dir, ds.num_classes, log)
    report.write_run_info(run_dir, train_time_s=times["train"])
    with artifacts.atomic_path(run_dir / "dense.keras") as tmp:
        model.save(str(tmp))
    export_and_score(model, run_dir / "fp32.onnx", split, recipe, export.base_metadata(ds.labels, ds.name, recipe.name), log)
    report.write(run_dir, data_dir, log)
    click.echo(f"wrote {run_dir / 'dense.keras'}, {run_dir / 'fp32.onnx'}, {run_dir / 'report.md'}")


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

    report.write(run_dir, data_dir, log)
    click.echo(f"wrote {Path(run_dir) / 'report.md'}, {Path(run_dir) / 'report.json'}")


@cli.command("prune")
@click.argument("pipeline", default="lenet")
@click.option("--model", "model_path", type=click.Path(dir_okay=False), help="Keras model to prune (default RUNS_DIR/PIPELINE/dense.keras).")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False))
@data_dir_option
@needs("train")
def prune_cmd(pipeline, model_path, runs_dir, data_dir):
    """Only prune (the [prune] table): writes RUNS_DIR/PIPELINE/pruned.keras and prints per-layer sparsity."""
    from edgedigits.runtime import artifacts
    from edgedigits.training import config, prune, train

    recipe = config.load(pipeline)
    run_dir = artifacts.ensure_writable_dir(Path(runs_dir) / recipe.name)
    model = train.load_model(model_path or run_dir / "dense.keras")
    ds, split = _split(recipe, data_dir)
    train.check_model(model, ds.num_classes)
    pruned = prune.prune(model, split, recipe.prune, recipe.seed, run_dir, log)
    with artifacts.atomic_path(run_dir / "pruned.keras") as tmp:
        pruned.save(str(tmp))
    report = prune.sparsity_report(pruned)
    for name, layer in report["layers"].items():
        click.echo(f"{name}: {layer['sparsity']:.1%} of {layer['kernel']:,} kernel weights are zero")
    click.echo(f"all kernels: {report['kernel_sparsity']:.1%}; wrote {run_dir / 'pruned.keras'}")


@cli.command("export")
@click.argument("keras_model", type=click.Path(dir_okay=False))
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--pipeline", default="lenet", show_default=True, help="Recipe whose dataset and export settings apply.")
@data_dir_option
@needs("train")
def export_cmd(keras_model, output, pipeline, data_dir):
    """Only export a Keras model to ONNX, with parity check and test accuracy through onnxruntime."""
    from edgedigits.training import config, export, pipeline as pipeline_mod, train

    recipe = config.load(pipeline)
    model = train.load_model(keras_model)
    ds, split = _split(recipe, data_dir)
    meta = export.base_metadata(ds.labels, ds.name, recipe.name)
    scored = pipeline_mod.export_and_score(model, Path(output), split, recipe, meta, lambda message: None)
    check = scored["parity"]
    click.echo(f"wrote {output}: parity max|diff| {check['max_abs_diff']:.2e}, argmax agreement "
               f"{check['argmax_agreement']:.4f}, test accuracy {scored['test_accuracy']:.2f}%")


@cli.command("quantize")
@click.argument("onnx_model", type=click.Path(dir_okay=False))
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--pipeline", default="lenet", show_default=True, help="Recipe whose dataset and [quantize] settings apply.")
@data_dir_option
@needs("train")
def quantize_cmd(onnx_model, output, pipeline, data_dir):
    """Only quantize an ONNX model to INT8; refuses (exit 3, nothing written) past the accuracy-drop limit."""
    from edgedigits import runtime
    from edgedigits.runtime import data
    from edgedigits.training import config, quantize
    from edgedigits.runtime.artifacts import atomic_path

    recipe = config.load(pipeline)
    ds = data.load(recipe.dataset, data_dir)
    config.check_sizes(recipe, len(ds.x_train), len(ds.x_test))
    before = runtime.accuracy(onnx_model, ds.x_test, ds.y_test)
    calibration = quantize.calibration_images(ds, recipe)
    _, _, x_val, y_val = data.split_validation(ds.x_train, ds.y_train, recipe.validation, recipe.seed)
    with atomic_path(output) as staged:  # OUTPUT is replaced only if the gate passes
        settings = quantize.quantize(onnx_model, staged, calibration, (x_val, y_val), recipe.quantize)
        after = runtime.accuracy(staged, ds.x_test, ds.y_test)
        if before - after > recipe.quantize.max_accuracy_drop:
            raise AccuracyGateError(f"INT8 model lost {before - after:.2f} points ({before:.2f}% -> {after:.2f}%), "
                                    f"limit {recipe.quantize.max_accuracy_drop}; nothing written")
    click.echo(f"wrote {output}: test accuracy {before:.2f}% -> {after:.2f}% (INT8 {settings['variant']})")
    click.echo(quantize.describe(settings), err=True)

@cli.command("compare")
@click.argument("names", nargs=-1, required=True, metavar="MODEL...")
@click.option("--dataset", default="mnist", show_default=True, help="mnist or fashion-mnist.")
@click.option("--out-dir", type=click.Path(file_okay=False), default=None,
              help="compare-DATASET.{json,md,png}, and models/ for runs made here (default compare/DATASET).")
@click.option("--exported", "exported_dir", default="exported", show_default=True, type=click.Path(file_okay=False),
              help="Where finished runs are looked for first (train-prune-export's output).")
@click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False))
@click.option("--retrain", is_flag=True, help="Run every pipeline again instead of reusing finished manifests.")
@click.option("--latency-runs", default=2000, show_default=True, type=count(1, limits.MAX_RUNS), help="Timed batch-1 runs per file.")
@data_dir_option
@needs("train")
def compare_cmd(names, dataset, out_dir, exported_dir, runs_dir, retrain, latency_runs, data_dir):
    """Train, prune, export and quantize each MODEL (a registry model or a pipeline name), or reuse its finished run;
    then one table and one plot: test accuracy and log loss, parameters, non-zero parameters after pruning, training
    time, ONNX size and batch-1 latency, all measured the same way."""
    from edgedigits.experiments import compare
    from edgedigits.runtime import timing
    from edgedigits.runtime.artifacts import ensure_writable_dir, write_bytes_atomic, write_json_atomic

    out = ensure_writable_dir(out_dir or Path("compare") / dataset)
    models_dir = out / "models"
    recipes = [compare.recipe_for(name, dataset) for name in names]  # every name checked before any training
    entries = []
    for recipe in recipes:
        found = None if retrain else compare.finished(recipe, [Path(exported_dir), models_dir])
        if found:
            log(f"{recipe.name}: reusing {found[1] / (recipe.name + '.json')}")
            entries.append({"manifest": found[0], "dir": found[1], "reused": True})
            continue
        from edgedigits.training import pipeline as pipeline_mod

        log(f"{recipe.name}: running the pipeline ({recipe.model} on {recipe.dataset})")
        manifest = pipeline_mod.run(recipe, models_dir, runs_dir, data_dir, log)
        entries.append({"manifest": manifest, "dir": models_dir, "reused": False})
    rows = compare.measure(entries, dataset, data_dir, latency_runs, log)
    machine = timing.machine_info()
    text = compare.markdown(rows, dataset, machine)
    write_json_atomic(out / f"compare-{dataset}.json", {"dataset": dataset, "machine": machine, "rows": rows})
    write_bytes_atomic(out / f"compare-{dataset}.md", text.encode())
    compare.plot(rows, out / f"compare-{dataset}.png", f"{dataset}: accuracy, weights and latency")
    click.echo(text)
    click.echo(f"wrote {out / f'compare-{dataset}.md'}, {out / f'compare-{dataset}.json'}, {out / f'compare-{dataset}.png'}")


def sweep_options(command):
    """Where results go and where trials run: shared by every sweep."""
    for option in reversed([
        click.option("--out-dir", type=click.Path(file_okay=False), default=None,
                     help="Results: trials/ID.json per finished trial, tables and plots (default sweeps/KIND-PIPELINE)."),
        click.option("--runs-dir", type=click.Path(file_okay=False), default=None,
                     help="Trial checkpoints and models (default runs/sweeps/KIND-PIPELINE)."),
        click.option("--workers", type=count(1, limits.MAX_WORKERS), default=None,
                     help="Local worker processes running trials at once (default: one per 2 cores)."),
        click.option("--ray", "ray_address", default=None, metavar="ADDRESS", type=RayAddress(),
                     help="Run trials as Ray tasks on this cluster (ray://host:10001, host:6379, auto; 'local' starts "
                          "one here). Needs the [ray] extra. Result files are the same as with local workers."),
        click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
                     help="Fixed recipe override for every trial, e.g. --set prune.epochs=12 (repeatable)."),
        data_dir_option,
    ]):
        command = option(command)
    return command


def _sweep_setup(kind, pipeline, out_dir, runs_dir, workers, settings):
    from edgedigits.experiments import sweep
    from edgedigits.training import config

    recipe = config.load(pipeline)
    overrides = {}
    for text in settings:
        key, values = sweep.parse_param(text)
        if len(values) != 1:
            raise InputError(f"--set takes one value, got {text!r} (use --param in 'sweep grid' for several)")
        overrides[key] = values[0]
    config.with_overrides(recipe, overrides)
    out = Path(out_dir or Path("sweeps") / f"{kind}-{recipe.name}")
    runs = Path(runs_dir or Path("runs") / "sweeps" / f"{kind}-{recipe.name}")
    return recipe, overrides, out, runs, workers or sweep.default_workers()


@cli.group("sweep")
def sweep_group():
    """Run many independent trials (locally or on Ray) and tabulate them; interrupted sweeps resume."""


@sweep_group.command("sparsity")
@click.argument("pipeline", default="lenet")
@click.option("--sparsities", default="0,50,75,90,95,98", show_default=True,
              help="Overall kernel sparsities in percent; 0 is the dense model, exported and quantized as is.")
@click.option("--base", type=click.Path(dir_okay=False), default=None,
              help="Trained Keras model to prune (default runs/PIPELINE/best.keras if train-prune-export made it, "
                   "else the sweep trains one first).")
@sweep_options
@needs("train")
def sweep_sparsity(pipeline, sparsities, base, out_dir, runs_dir, workers, ray_address, settings, data_dir):
    """Prune one trained model to each sparsity, export and quantize each; plot accuracy against non-zero weights
    and gzipped INT8 bytes. Writes OUT_DIR/sparsity.{json,md,png}."""
    from edgedigits.experiments import sweep
    from edgedigits.runtime.artifacts import write_bytes_atomic, write_json_atomic

    recipe, overrides, out, runs, workers = _sweep_setup("sparsity", pipeline, out_dir, runs_dir, workers, settings)
    try:
        levels = sorted({float(s) / 100 for s in sparsities.split(",")})
    except ValueError:
        raise InputError(f"--sparsities must be numbers in percent, got {sparsities!r}") from None
    if not levels or not all(0 <= level < 1 for level in levels):  # nan fails the comparison too
        raise InputError(f"--sparsities must be in [0, 100), got {sparsities!r}")
    if 0.0 not in levels:
        levels.insert(0, 0.0)  # the dense reference every other point is compared with
    default_base = Path("runs") / recipe.name / "best.keras"
    if base is None and default_base.is_file() and not overrides:
        base = str(default_base)
        log(f"pruning the model train-prune-export trained: {base}")
    rows = sweep.sparsity(recipe, levels, out, runs, base, data_dir, workers, ray_address, overrides, log)
    write_json_atomic(out / "sparsity.json", {"pipeline": recipe.name, "base": base, "rows": rows})
    write_bytes_atomic(out / "sparsity.md", sweep.sparsity_markdown(rows, recipe.name).encode())
    sweep.plot_sparsity(rows, out / "sparsity.png", f"{recipe.name}: test accuracy against weights kept")
    click.echo(sweep.sparsity_markdown(rows, recipe.name))
    click.echo(f"wrote {out / 'sparsity.md'}, {out / 'sparsity.json'}, {out / 'sparsity.png'}")


@sweep_group.command("optimizers")
@click.argument("pipeline", default="lenet")
@click.option("--optimizers", "names", default=",".join(["sgd", "sgd-nesterov", "adam", "adamax", "nadam", "adadelta",
                                                          "adagrad", "rmsprop"]), show_default=True)
@click.option("--epochs", default=10, show_default=True, type=count(1, 10_000), help="Training budget per optimizer (no early stopping).")
@click.option("--target", default=0.99, show_default=True, type=Finite(0.0, 1.0), help="Validation accuracy for 'epochs to target'.")
@sweep_options
@needs("train")
def sweep_optimizers(pipeline, names, epochs, target, out_dir, runs_dir, workers, ray_address, settings, data_dir):
    """Train the same model with each optimizer, same seed and epochs: final and best validation accuracy, epochs
    to reach --target, time, and the exported model's test accuracy. Writes OUT_DIR/optimizers.{json,md,png}."""
    from edgedigits.experiments import sweep
    from edgedigits.runtime.artifacts import write_bytes_atomic, write_json_atomic

    recipe, overrides, out, runs, workers = _sweep_setup("optimizers", pipeline, out_dir, runs_dir, workers, settings)
    rows = sweep.optimizers(recipe, [n.strip() for n in names.split(",") if n.strip()], epochs, target, out, runs,
                            data_dir, workers, ray_address, overrides, log)
    text = sweep.optimizers_markdown(rows, recipe.name, epochs, target)
    write_json_atomic(out / "optimizers.json", {"pipeline": recipe.name, "epochs": epochs, "rows": rows})
    write_bytes_atomic(out / "optimizers.md", text.encode())
    sweep.plot_optimizers(rows, out / "optimizers.png", f"{recipe.name}: optimizers, {epochs} epochs, same seed")
    click.echo(text)
    click.echo(f"wrote {out / 'optimizers.md'}, {out / 'optimizers.json'}, {out / 'optimizers.png'}")


@sweep_group.command("pipeline")
@click.argument("pipeline", default="lenet-slim")
@click.option("--param", "params", multiple=True, required=True, metavar="KEY=V1,V2",
              help="A recipe key and its values, e.g. --param structured.widths.conv1=3,4 --param prune.target_sparsity=0.8,0.9.")
@sweep_options
@needs("train")
def sweep_pipeline(pipeline, params, out_dir, runs_dir, workers, ray_address, settings, data_dir):
    """Run the whole train-prune-export for every combination of --param values (structured widths, sparsity
    targets, ...): MACs, accuracies, INT8 size per cell. Each cell ships into its own runs directory, never exported/.
    Writes OUT_DIR/pipeline.{json,md}."""
    from edgedigits.experiments import sweep
    from edgedigits.runtime.artifacts import write_bytes_atomic, write_json_atomic

    recipe, overrides, out, runs, workers = _sweep_setup("pipeline", pipeline, out_dir, runs_dir, workers, settings)
    rows = sweep.pipelines(recipe, dict(sweep.parse_param(text) for text in params), out, runs, data_dir, workers,
                           ray_address, overrides, log)
    text = sweep.pipelines_markdown(rows, recipe.name)
    write_json_atomic(out / "pipeline.json", {"pipeline": recipe.name, "rows": rows})
    write_bytes_atomic(out / "pipeline.md", text.encode())
    click.echo(text)
    click.echo(f"wrote {out / 'pipeline.md'}, {out / 'pipeline.json'}")


@sweep_group.command("grid")
@click.argument("pipeline", default="lenet")
@click.option("--param", "params", multiple=True, required=True, metavar="KEY=V1,V2",
              help="A recipe key and the values to try, e.g. --param batch_size=32,64 --param optimizer=adam,rmsprop. "
                   "Bare keys are top-level or [train] keys; others are dotted (prune.epochs).")
@click.option("--folds", default=5, show_default=True, type=count(1, limits.MAX_FOLDS),
              help="Stratified k-fold cross-validation over the training images (1 = the recipe's validation split).")
@sweep_options
@needs("train")
def sweep_grid(pipeline, params, folds, out_dir, runs_dir, workers, ray_address, settings, data_dir):
    """Grid search with k-fold cross-validation: every combination of --param values on every fold; mean and
    standard deviation of validation accuracy per cell, and the best cell. Writes OUT_DIR/grid.{json,md}."""
    from edgedigits.experiments import sweep
    from edgedigits.runtime.artifacts import write_bytes_atomic, write_json_atomic

    recipe, overrides, out, runs, workers = _sweep_setup("grid", pipeline, out_dir, runs_dir, workers, settings)
    grid = dict(sweep.parse_param(text) for text in params)
    summary = sweep.grid(recipe, grid, folds, out, runs, data_dir, workers, ray_address, overrides, log)
    text = sweep.grid_markdown(summary, recipe.name, folds)
    write_json_atomic(out / "grid.json", {"pipeline": recipe.name, "folds": folds, **summary})
    write_bytes_atomic(out / "grid.md", text.encode())
    click.echo(text)
    click.echo(f"wrote {out / 'grid.md'}, {out / 'grid.json'}")


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
def webcam_cmd(source, headless, save, max_frames, model, threshold, ink, threads):
    """Read digits live from a camera, a video or images: boxes, digits, confidences, frames/s.

    In the window, q or Esc quits. Headless (automatic without a display) prints one JSON line per frame:
    frame, time, ms, text, digits, confidences, uncertain, boxes [x,y,w,h], lines.
    """
    from edgedigits.runtime import webcam, window

    reason = window.why_not()
    automatic = headless is None
    if automatic:
        headless = reason is not None
    elif not headless and reason:
        raise InputError(f"--window: {reason}; or use --headless")
    reader = webcam.load_reader(model, threads, threshold, ink)
    src = webcam.open_source(source)
    if automatic and headless:
        log(f"running headless, one JSON line per frame on stdout: {reason}")
    stats = webcam.run(src, reader, headless=headless, save=save, max_frames=max_frames)
    log(f"{stats.frames} frames from {src.name} in {stats.seconds:.1f} s ({stats.fps:.0f} frames/s)"
        + (f"; wrote {save}" if save and stats.frames else ""))


@cli.command("predict")
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per line and image: image, text, digits, confidences, uncertain, boxes, lines.")
@reader_options
def predict_cmd(images, as_json, model, threshold, ink, threads):
    """Print the digits read in each IMAGE: 'IMAGE: 1234', lines separated by a space, '?' after an uncertain digit."""
    import json

    from edgedigits.runtime import webcam

    webcam.quiet_opencv()
    frames = [webcam.read_image(path) for path in images]  # every image readable before anything is printed
    reader = webcam.load_reader(model, threads, threshold, ink)
    for path, frame in zip(images, frames):
        digits = reader.read(frame)
        if as_json:
            click.echo(json.dumps({"image": path, **webcam.as_record(digits)}))
        else:
            click.echo(f"{path}: {webcam.as_text(digits) or '(no digits found)'}")


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
    except InputError as exc:
        click.echo(f"edgedigits: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except GateError as exc:
        click.echo(f"edgedigits: {exc}", err=True)
        sys.exit(EXIT_GATE)
    except OSError as exc:  # the machine refused a read or write (disk full, permissions): the file says which
        where = f" ({exc.filename})" if exc.filename else ""
        click.echo(f"edgedigits: {exc.strerror or exc}{where}", err=True)
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    main()
