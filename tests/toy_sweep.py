"""A sweep kind added without touching the command line: this one module, registered in sweeps.KINDS."""

import click

from edgedigits import tables
from edgedigits.experiments.outputs import Output
from edgedigits.experiments.sweeps import KINDS, Kind
from edgedigits.experiments.sweeps.runner import Sweep, Trial
from tests.sweep_trials import square_trial

PIPELINE = "lenet"
OPTIONS = [click.option("--count", default=3, show_default=True, help="How many numbers to square.")]


def run(sweep: Sweep, count: int) -> Output:
    """Square the numbers below --count, one trial each. Writes OUT_DIR/squares.{json,md}."""
    rows = list(sweep.run([Trial(f"x{x}", {"x": x}) for x in range(count)], square_trial).values())
    text = tables.markdown(["x", "square"], [[r["params"]["x"], r["square"]] for r in rows]) + "\n"
    return Output("squares", {"rows": rows}, text)


KINDS.register("squares")(Kind(run, PIPELINE, OPTIONS))
