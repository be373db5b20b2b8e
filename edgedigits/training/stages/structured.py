"""Stage `structured` (when [structured] is enabled): whole filters and units removed, the narrow model exported and
scored as `structured`; its kept widths and MACs go into the manifest."""

from __future__ import annotations

import logging

from edgedigits.training.progress import timed
from edgedigits.training.run import Result, Run
from edgedigits.training.stages import STAGES, Stage
from edgedigits.training.stages.export import export_and_score

log = logging.getLogger(__name__)


@STAGES.register("structured")
class Structured(Stage):
    switch = "structured"
    order, needs, makes = 20, ("model",), ("model", "onnx")

    @staticmethod
    def describe(run: Run) -> str:
        cfg = run.recipe.structured
        return f"structured pruning to {cfg.widths} ({cfg.steps} steps)"

    @staticmethod
    def run(run: Run) -> Result:
        from edgedigits.training import structured

        times = {}
        with timed(times, "structured"):
            model, shrunk = structured.structured_prune(run.model, run.data, run.recipe.structured, run.recipe.seed,
                                                        run.run_dir)
        kept = ", ".join(f"{k} {v['after']}/{v['before']}" for k, v in shrunk["widths"].items())
        log.info(f"  kept widths {kept}; "
                 f"MACs {shrunk['macs']['before']:,} -> {shrunk['macs']['after']:,} ({shrunk['macs']['ratio']}x fewer)")
        run.keep(model, "structured", times["structured"], "structured.keras")
        path = run.path("structured")
        with timed(times, "export_structured"):
            facts = export_and_score(run, model, path)
        return Result("structured", path, {**facts, "time_s": times["structured"]}, times, {"structured": shrunk})
