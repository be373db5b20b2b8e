"""The pipeline's stages, one class each in its own module of this package, registered in STAGES; a recipe runs
them in the order of their `order` numbers (train 10, structured 20, prune 30, export 40, quantize 50, report 60,
ship 70), so a new stage is one new module with an `order` that places it.

A stage declares what it needs from the run and what it makes (`needs`, `makes`: "data", "model", "onnx", "int8",
"shipped"), and has `run(run) -> Result`; optionally `describe(run)` (its numbered progress line), `switch` (the
recipe table whose `enabled` key turns it on; default: always on) and `Table` (the dataclass of its own TOML
table, for a stage the built-in recipe tables do not cover; it then runs when a recipe has that table). The same
stages make every kind of model (training/tasks).
`run_stages` checks the needs, runs them, and holds every scored file to the quality gate (training/gates).
"""

from __future__ import annotations

import logging

from edgedigits.errors import InputError
from edgedigits.registry import Registry

STAGES = Registry("stage", package=__name__)  # every module of this package is a stage
log = logging.getLogger(__name__)


class Stage:
    """The defaults every stage has."""

    order: int = 0  # where it runs among the stages
    needs: tuple[str, ...] = ()
    makes: tuple[str, ...] = ()
    Table = None
    switch: str | None = None  # the recipe table whose `enabled` key turns the stage on or off

    @classmethod
    def enabled(cls, recipe) -> bool:
        return cls.switch is None or getattr(recipe, cls.switch).enabled


def enabled(recipe) -> list[str]:
    """The stages `recipe` runs, in order."""
    return [name for name, stage in STAGES.items()
            if (stage.Table is None or name in recipe.tables) and stage.enabled(recipe)]


def table(name: str):
    """The dataclass of stage `name`'s own TOML table, or None (unknown stage, or one using the built-in tables)."""
    return STAGES.get(name).Table if name in STAGES else None


def run_stages(run, names: list[str], have: tuple[str, ...] = ("data",)):
    """Run stages `names` in order on `run`, each with a numbered progress line if it has one. A stage whose needs
    no earlier stage (nor the run's start, `have`) makes is refused before anything runs."""
    from edgedigits.training import gates

    made = set(have) | ({"model"} if run.model is not None else set()) | ({"onnx"} if run.scored() else set())
    for name in names:
        missing = set(STAGES.get(name).needs) - made
        if missing:
            raise InputError(f"stage {name} needs {', '.join(sorted(missing))}, which no stage before it makes")
        made |= set(STAGES.get(name).makes)
    counted = [n for n in names if hasattr(STAGES.get(n), "describe")]
    for name in names:
        stage = STAGES.get(name)
        if name in counted:
            log.info(f"[{counted.index(name) + 1}/{len(counted)}] {stage.describe(run)}")
        result = run.results[name] = stage.run(run)
        if result.stage and run.gate:
            gates.check(run, result)
    return run
