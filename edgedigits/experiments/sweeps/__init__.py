"""Sweeps: many independent trials of one recipe, run locally or on Ray, tabulated (and plotted) at the end.

A kind of sweep is one module of this package that registers a `Kind` in KINDS: its `run(sweep, **options) ->
experiments.outputs.Output` (whose docstring is the command's help), its default recipe and its click options.
`edgedigits sweep KIND` is made from it, so a new kind needs no change to the command line. The runner (runner.py)
schedules and resumes trials; the outputs writer (experiments/outputs.py) writes KIND.json, KIND.md and KIND.png.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import click

from edgedigits.registry import Registry

KINDS = Registry("sweep kind", package=__name__)


@dataclass(frozen=True)
class Kind:
    run: Callable  # run(sweep, **options) -> Output; its docstring is the command's help
    pipeline: str = "lenet"  # the recipe it sweeps by default
    options: list = field(default_factory=list)  # its click options


def kind(name: str) -> Kind:
    return KINDS.get(name)


def run(name: str, pipeline: str, out_dir=None, runs_dir=None, workers: int | None = None, ray_address=None,
        settings=(), data_dir=None, **options) -> tuple[str, list[Path]]:
    """`edgedigits sweep NAME PIPELINE`: every input checked, the trials run, the results written; returns the
    markdown summary and the files written."""
    from edgedigits.errors import InputError
    from edgedigits.experiments import outputs
    from edgedigits.experiments.sweeps import runner
    from edgedigits.training import config

    recipe = config.load(pipeline)
    overrides = {}
    for text in settings:
        key, values = runner.parse_param(text)
        if len(values) != 1:
            raise InputError(f"--set takes one value, got {text!r} (use --param in 'sweep grid' for several)")
        overrides[key] = values[0]
    config.with_overrides(recipe, overrides)
    sweep = runner.Sweep(recipe, Path(out_dir or Path("sweeps") / f"{name}-{recipe.name}"),
                         Path(runs_dir or Path("runs") / "sweeps" / f"{name}-{recipe.name}"), data_dir,
                         workers or runner.default_workers(), ray_address, overrides)
    output = kind(name).run(sweep, **options)
    return output.markdown, outputs.write(sweep.out_dir, output)


class KindCommands(click.Group):
    """`edgedigits sweep KIND`: one command per kind in KINDS, made from its module when asked for."""

    def list_commands(self, ctx):
        return sorted(KINDS.names())

    def get_command(self, ctx, name):
        from edgedigits.extras import needs
        from edgedigits.options import options, sweep_options, wrote

        if name not in KINDS:
            return None
        found = kind(name)

        def command(**args):
            text, written = run(name, **args)
            click.echo(text)
            wrote(*written)

        decorated = options(click.argument("pipeline", default=found.pipeline), *found.options, sweep_options)
        return click.command(name, help=found.run.__doc__)(decorated(needs("train")(command)))
