"""Stage `saved` (in place of `train`, for a recipe whose model is a saved .keras file): the user's trained model,
exported and scored as `fp32` as it is, so the stage table shows what pruning and INT8 start from."""

from __future__ import annotations

from pathlib import Path

from edgedigits.training.progress import timed
from edgedigits.training.run import Result, Run
from edgedigits.training.stages import STAGES, Stage
from edgedigits.training.stages.export import export_and_score
from edgedigits.training.tasks import TASKS


@STAGES.register("saved")
class Saved(Stage):
    order, needs, makes = 10, ("model",), ("model", "onnx")

    @classmethod
    def enabled(cls, recipe) -> bool:
        return starts_saved(recipe)

    @staticmethod
    def describe(run: Run) -> str:
        return f"score the saved model {Path(run.recipe.model).name} ({run.parameters:,} parameters)"

    @staticmethod
    def run(run: Run) -> Result:
        times = {}
        run.keep(run.model, "fp32", 0.0, "dense.keras")
        path = run.path("fp32")
        with timed(times, "export_fp32"):
            facts = export_and_score(run, run.model, path)
        return Result("fp32", path, {**facts, "time_s": 0.0}, times)


def starts_saved(recipe) -> bool:
    """Whether a recipe starts from a saved model (its task names the file), not from training."""
    saved = getattr(TASKS.get(recipe.task), "saved_model", None)
    return saved is not None and saved(recipe) is not None
