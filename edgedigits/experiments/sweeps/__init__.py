"""Sweeps: many independent trials of one recipe, run locally or on Ray, tabulated (and plotted) at the end.

A kind of sweep is one module listed in KINDS: `PIPELINE` (the default recipe), `OPTIONS` (its click options) and
`run(sweep, **options) -> experiments.outputs.Output`, whose docstring is the command's help. `edgedigits sweep KIND`
is made from it, so a new kind needs no change to the command line. The runner (runner.py) schedules and resumes
trials; the outputs writer (experiments/outputs.py) writes KIND.json, KIND.md and KIND.png.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click

KINDS = {
    "sparsity": "edgedigits.experiments.sweeps.sparsity",
    "optimizers": "edgedigits.experiments.sweeps.optimizers",
    "pipeline": "edgedigits.experiments.sweeps.pipeline",
    "grid": "edgedigits.experiments.sweeps.grid",
}


def kind(name: str):
    return importlib.import_module(KINDS[name])


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
        return sorted(KINDS)

    def get_command(self, ctx, name):
        from edgedigits.extras import needs
        from edgedigits.options import options, sweep_options, wrote

        if name not in KINDS:
            return None
        module = kind(name)

        def command(**args):
            text, written = run(name, **args)
            click.echo(text)
            wrote(*written)

        decorated = options(click.argument("pipeline", default=module.PIPELINE), *module.OPTIONS, sweep_options)
        return click.command(name, help=module.run.__doc__)(decorated(needs("train")(command)))
