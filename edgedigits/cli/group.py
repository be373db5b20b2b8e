"""The `edgedigits` command group and its exit codes; the command modules of this package add their commands."""

from __future__ import annotations

import click

from edgedigits.options import log_to_stderr

EXIT_USAGE = 2
EXIT_GATE = 3
EXIT_PARTIAL = 4  # bench, predict: some models, targets or images failed, the rest were measured or read
EXIT_MISMATCH = 5  # verify: a rebuilt file is not the shipped one


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edgedigits")
def cli():
    """Train, prune, export and quantize small image classifiers to tiny ONNX models, proving each step."""
    log_to_stderr()
