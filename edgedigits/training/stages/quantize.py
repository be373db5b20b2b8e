"""Stage `quantize`: INT8 of the last scored file through the one accuracy gate (training/quantize.py: variants
calibrated on training data, chosen and gated on validation), then scored on the test set; its parameters and
non-zero weights are counted in the INT8 graph itself."""

from __future__ import annotations

import logging

from edgedigits.training.progress import timed
from edgedigits.training.run import Result, Run
from edgedigits.training.stages import STAGES, Stage

log = logging.getLogger(__name__)


@STAGES.register("quantize")
class Quantize(Stage):
    order, needs, makes = 50, ("onnx",), ("int8",)

    @staticmethod
    def describe(run: Run) -> str:
        return "quantize INT8"

    @staticmethod
    def run(run: Run) -> Result:
        from edgedigits.training import graphstats, quantize

        source, path, times, task = run.last_scored(), run.path("int8"), {}, run.task
        cfg = run.recipe.quantize
        with timed(times, "quantize"):
            max_drop = cfg.max_accuracy_drop if run.gate else None
            settings = quantize.quantize_with_accuracy_control(
                source.path, path, task.calibration(run), task.validate(run), max_drop, cfg, task.timing_inputs(run))
            settings.update(task.calibration_facts(run))
            log.info(quantize.describe(settings))
            scores = task.score(run, path)
        drop = source.facts["test_accuracy"] - scores["test_accuracy"]
        log.info(f"  int8 test accuracy {scores['test_accuracy']:.2f}% (drop {drop:+.2f} points, limit "
                 f"{cfg.max_accuracy_drop})")
        # counted in the INT8 graph itself, as a user gets it: a weight can round to 0, a variant may keep some
        # kernels in fp32, batch norm is folded into the convolutions (one bias per channel, not four statistics)
        counts = {**graphstats.parameter_stats(path), **graphstats.weight_stats(path)}
        macs = source.facts["macs"] if "macs" in source.facts else graphstats.macs(source.path)
        return Result("int8", path, {**scores, "quantization": settings, **counts, "macs": macs,
                                     "time_s": times["quantize"]}, times)
