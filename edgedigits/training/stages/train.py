"""Stage `train`: a fresh model trained as the recipe says (by its task), saved, exported and scored as `fp32`."""

from __future__ import annotations

import json

from edgedigits.runtime.model.artifacts import write_bytes_atomic
from edgedigits.training.progress import timed
from edgedigits.training.run import Result, Run
from edgedigits.training.stages import STAGES, Stage
from edgedigits.training.stages.export import export_and_score


@STAGES.register("train")
class Train(Stage):
    order, needs, makes = 10, ("data",), ("model", "onnx")

    @classmethod
    def enabled(cls, recipe) -> bool:
        from edgedigits.training.stages.saved import starts_saved

        return not starts_saved(recipe)  # a saved model starts at pruning (stage `saved` scores it)

    @staticmethod
    def describe(run: Run) -> str:
        return f"train {run.recipe.model} ({run.parameters:,} parameters)"

    @staticmethod
    def run(run: Run) -> Result:
        times = {}
        with timed(times, "train"):
            model = run.task.train(run)
        run.task.record_time(run, train_time_s=times["train"])
        run.keep(model, "fp32", times["train"], "dense.keras")
        history = getattr(run.data, "history", None)  # a page task's epochs, read back when dense.keras ships later
        if history:
            write_bytes_atomic(run.run_dir / "dense.json", json.dumps(history).encode())
        path = run.path("fp32")
        with timed(times, "export_fp32"):
            facts = export_and_score(run, model, path)
        return Result("fp32", path, {**facts, "time_s": times["train"]}, times)
