"""The `edgedigits` command: parses, calls one function of the package, prints (results on stdout, progress from
the "edgedigits" logger on stderr). Commands live by what they do: make.py (training and its stages), measure.py
(bench, compare, sweeps, models, data), read.py (predict, webcam). The training half is imported inside the
commands that need it, so runtime commands start fast. Errors a user can fix print one line on stderr and exit 2;
a failed gate exits 3."""

from __future__ import annotations

import sys

import click

from edgedigits.cli import make, measure, read  # noqa: F401  (each adds its commands to the group)
from edgedigits.cli.group import EXIT_GATE, EXIT_USAGE, cli
from edgedigits.errors import GateError, InputError

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
