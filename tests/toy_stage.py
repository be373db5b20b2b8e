"""A stage added the way docs/architecture.md describes: one module (here outside the stages package, so the test
imports it to register it) with an `order` that places it after `export`, and an [operators] table.

It counts the operators of the last file scored before it (the pruned model's ONNX when placed after `export`) and
records them in the manifest."""

from collections import Counter
from dataclasses import dataclass

import onnx

from edgedigits.training.run import Result, Run
from edgedigits.training.stages import STAGES, Stage


@dataclass
class Table:
    """The recipe's [operators] table; the stage runs when a recipe has one."""

    top: int = 3  # how many operator types to list


@STAGES.register("operators")
class Operators(Stage):
    order = 45  # after export (40), before quantize (50)
    needs = ("onnx",)
    Table = Table

    @staticmethod
    def describe(run: Run) -> str:
        return "count ONNX operators"

    @staticmethod
    def run(run: Run) -> Result:
        source = run.last_scored()
        ops = Counter(node.op_type for node in onnx.load(str(source.path)).graph.node)
        top = run.recipe.tables["operators"].top
        return Result(manifest={"operators": {"stage": source.stage, "nodes": sum(ops.values()),
                                              "most_common": dict(ops.most_common(top))}})
