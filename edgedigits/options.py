"""The command line's shared parts: options used by several commands (the dataset, runs and sweep settings, the
digit reader's), the option types that bound them (edgedigits/limits.py), and where progress and results go."""

from __future__ import annotations

import logging

import click

from edgedigits import limits


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
runs_dir_option = click.option("--runs-dir", default="runs", show_default=True, type=click.Path(file_okay=False))


def options(*decorators):
    """Several click decorators applied as if stacked in this order."""
    def apply(command):
        for decorator in reversed(decorators):
            command = decorator(command)
        return command
    return apply


reader_options = options(  # the digit reader's options, shared by `webcam` and `predict`
    click.option("--model", type=click.Path(dir_okay=False), default=None,
                 help="Digit classifier ONNX (default: the shipped INT8 crop classifier, which reads an image of "
                      "one digit with --touching read or strips; the shipped INT8 lenet with cut and off)."),
    click.option("--threshold", default=0.8, show_default=True, type=Finite(0.0, 1.0),
                 help="Digits below this confidence are shown as uncertain ('7?', orange) instead of guessed "
                      "silently."),
    click.option("--ink", type=click.Choice(["auto", "dark", "light"]), default="auto", show_default=True,
                 help="Dark ink on light paper, light ink on dark (a board), or decide per image."),
    click.option("--threads", default=1, show_default=True, type=count(0, limits.MAX_THREADS),
                 help="onnxruntime intra-op threads (1 = one core, 0 = all cores)."),
    click.option("--touching", type=click.Choice(["read", "strips", "cut", "off"]), default="read",
                 show_default=True,
                 help="read: find every number with the number finder and read it whole with the strip reader (the "
                      "page reader), the number reader reading it again from its ink blobs as a second opinion; "
                      "strips: the page reader alone (as the web page reads); cut: cut ink blobs where the "
                      "classifier reads the pieces best; off: read each blob as one digit."),
    click.option("--number-model", type=click.Path(dir_okay=False), default=None,
                 help="For --touching read or strips: another strip reader ONNX (default: the shipped "
                      "exported/page-strips set's), or a number reader "
                      "(exported/number-reader/number-reader.int8.onnx) to read the blob finder's groups instead."),
)


sweep_options = options(  # where results go and where trials run: shared by every sweep
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
)


def wrote(*paths) -> None:
    """The last line of a command that wrote files."""
    click.echo("wrote " + ", ".join(str(p) for p in paths))


class _Stderr(logging.Handler):
    """Progress lines as users see them: the message alone, on the current stderr."""

    def emit(self, record):
        click.echo(self.format(record), err=True)


def log_to_stderr() -> None:
    """Print every module's progress (the "edgedigits" logger, INFO and up) on stderr; a library user's own logging
    setup decides elsewhere."""
    logger = logging.getLogger("edgedigits")
    logger.setLevel(logging.INFO)
    logger.handlers = [h for h in logger.handlers if not isinstance(h, _Stderr)] + [_Stderr()]
