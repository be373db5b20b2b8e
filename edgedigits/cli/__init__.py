"""The `edgedigits` command: parses, calls one function of the package, prints (results on stdout, progress from
the "edgedigits" logger on stderr). Commands live by what they do: make.py (training and its stages), measure.py
(bench, compare, sweeps, models, data), read.py (predict, webcam). The training half is imported inside the
commands that need it, so runtime commands start fast. Errors a user can fix print one line on stderr and exit 2;
a failed gate exits 3."""

from __future__ import annotations

import os
import sys

from edgedigits import limits

# OpenCV's own cap on the pixels of any image it decodes, read once when OpenCV loads: every format is held to the
# limit, also those whose header images.py does not read. Set here, before anything imports cv2.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(limits.MAX_IMAGE_PIXELS))

import click  # noqa: E402

from edgedigits.cli import make, measure, read  # noqa: E402, F401  (each adds its commands to the group)
from edgedigits.cli.group import EXIT_GATE, EXIT_USAGE, cli  # noqa: E402
from edgedigits.errors import GateError, InputError, one_line  # noqa: E402

__all__ = ["cli", "main"]


def main(argv=None) -> None:
    """Entry point: user errors and refused reads or writes become one line on stderr (exit 2); failed gates
    exit 3."""
    try:
        cli.main(args=argv, prog_name="edgedigits", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("edgedigits: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"edgedigits: {one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except (InputError, GateError) as exc:
        click.echo(f"edgedigits: {one_line(str(exc))}", err=True)
        sys.exit(EXIT_GATE if isinstance(exc, GateError) else EXIT_USAGE)
    except OSError as exc:  # the machine refused a read or write (disk full, permissions): the file says which
        where = f" ({exc.filename})" if exc.filename else ""
        click.echo(f"edgedigits: {one_line(f'{exc.strerror or exc}{where}')}", err=True)
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    main()
